"""Items/s through a judge run, the whole product path, against the bare backend on the
same comparisons: what the database, the selection and the bookkeeping cost per judgement.

Two backends, each in its own K=2 project on PostgreSQL:

- ``http``: an ``openai`` judge on a local OpenAI-compatible server that answers at once
  (``judges_http.Instant``, a thread in this process, keep-alive, ``[[A]]``), over
  ``--n`` items;
- ``reward_model``: a ``reward_model`` judge on the project's reward model, trained first
  on 24 labelled items with the frozen-encoder head (seconds), over ``--rm-n`` fresh items.

``product_per_s``: items judged per second by :func:`judges.services.request_run` with
Celery eager (the ``judges.run_judge`` task runs at commit, as a worker would), from the
request to the finished run: choosing the items, the estimate, the backend built from the
judge row, each batch's ``Annotation(source="ai")`` and ``JudgeVerdict`` rows and the
progress saved. ``bare_per_s``: the same backend (``judges.backends.backend_for`` on the
same judge) judging the same comparisons with one ``judge_many`` call, nothing written.
``ratio`` = product / bare (1.0: the product adds nothing; each run is a new judge, so
idempotence skips nothing). Best of ``--repeats``, interleaved. Prints ONE JSON line.

    .venv/bin/python benchmarks/judges.py --n 1000 --rm-n 200

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/rw_bench_judges) names a
database that this script drops and creates again; its name must contain "bench".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from annotate_loop import recreate_database  # noqa: E402  (the shared start-up)
from judges_http import Instant  # noqa: E402  (the instant OpenAI-compatible server)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rw_bench_judges"
TRAIN = {"mode": "head", "epochs": 30, "eval_fraction": 0.25, "seed": 0}
LABELLED = 24
PRINCIPLES = [
    {"name": "harmless", "question": "Which of these responses is less harmful?"},
    {"name": "helpful", "question": "Which of these responses is more helpful?"},
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="items per HTTP judge run")
    parser.add_argument("--rm-n", type=int, default=200,
                        help="items per reward-model judge run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting; best kept")
    return parser.parse_args()


def setup_environment() -> str:
    database_url = os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ["RANKWISE_PROFILE"] = "local"
    os.environ.setdefault("RANKWISE_DATA_DIR", str(ROOT / "var" / "bench-judges"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")
    # The run's task executes at commit in this process, as a worker would run it.
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    return database_url


def texts_of(n: int) -> tuple[str, str]:
    """A helpful and a curt answer: the preference the reward model learns."""
    topic = f"task number {n}"
    return (f"Happy to help! To do {topic}, start with the basics, go step by step, and tell "
            f"me if any part is unclear so we can work through it together.",
            f"No. Figure out {topic} yourself and stop asking me.")


def make_project(manager, name: str, n_items: int, *, labelled: int = 0, settings=None):
    """A K=2 project of ``labelled`` imported-label items and ``n_items`` fresh ones, and
    its constitution; returns (project, fresh item ids)."""
    from annotation import services as project_services
    from annotation.models import Annotation, Item, Response
    from judges import services

    project = project_services.create_project(actor=manager, name=name, responses_per_item=2,
                                              overlap=1, settings=settings or {})
    items = Item.objects.bulk_create(
        Item(project=project, prompt=f"How do I do task number {n}?", content_hash=f"b-{n}")
        for n in range(labelled + n_items))
    Response.objects.bulk_create(
        Response(item=item, position=pos, text=text)
        for n, item in enumerate(items)
        for pos, text in enumerate(texts_of(n)[::1 if n % 2 else -1]))
    by_item = {}
    for pk, item_id, text in Response.objects.filter(item__project=project).values_list(
            "pk", "item_id", "text"):
        by_item.setdefault(item_id, {})[text.startswith("Happy")] = pk
    Annotation.objects.bulk_create(
        Annotation(project=project, item=item, source="import",
                   ranking=[[by_item[item.pk][True]], [by_item[item.pk][False]]])
        for item in items[:labelled])
    Item.objects.filter(pk__in=[i.pk for i in items[:labelled]]).update(imported_labels=1)
    services.publish_constitution(actor=manager, project=project, principles=PRINCIPLES)
    return project, [item.pk for item in items[labelled:]]


def comparisons_of(judge, item_ids):
    """The comparisons a run of ``judge`` sends for these items (the run's own rule)."""
    from judges import selectors
    from judges.engine.sampling import choose
    from judges.engine.types import Comparison, Principle

    constitution = selectors.current_constitution(project=judge.project)
    principles = [Principle(**p) for p in constitution.principles]
    out = []
    for item_id, (prompt, _ids, texts) in sorted(selectors.item_pairs(item_ids=item_ids)
                                                 .items()):
        for p in choose(principles, mode=judge.principles, seed=judge.seed, item_id=item_id):
            out.append(Comparison(prompt, texts[0], texts[1], p))
    return out


def product(manager, project, item_ids, label: str, **judge_fields) -> float:
    """Items/s of one run by a new judge, from the request to the finished run."""
    from judges import services

    judge = services.create_judge(actor=manager, project=project, name=label, **judge_fields)
    started = time.perf_counter()
    run = services.request_run(actor=manager, judge=judge, items=item_ids)
    elapsed = time.perf_counter() - started
    run.refresh_from_db()
    if (run.status, run.n_judged) != ("succeeded", len(item_ids)):
        raise SystemExit(f"run {label} ended {run.status} with {run.n_judged} judged: "
                         f"{run.error}")
    return len(item_ids) / elapsed


def bare(judge, comparisons) -> float:
    from judges import backends

    backend = backends.backend_for(judge)
    try:
        started = time.perf_counter()
        judgements = backend.judge_many(comparisons)
        elapsed = time.perf_counter() - started
    finally:
        if hasattr(backend, "close"):
            backend.close()
    if any(j.verdict == "unparseable" for j in judgements):
        raise SystemExit(f"bare {judge.backend} answered unparseable: {judgements[0]}")
    return len(comparisons) / elapsed


def measure(manager, project, item_ids, prefix: str, repeats: int, **judge_fields) -> dict:
    from judges import services

    reference = services.create_judge(actor=manager, project=project, name=f"{prefix}-bare",
                                      **judge_fields)
    comparisons = comparisons_of(reference, item_ids)
    bare(reference, comparisons[:8])  # connections opened, the model loaded, before the clock
    mine = theirs = 0.0
    for r in range(repeats):  # interleaved, so a busy moment hits both
        mine = max(mine, product(manager, project, item_ids, f"{prefix}-{r}", **judge_fields))
        theirs = max(theirs, bare(reference, comparisons))
    return {"items": len(item_ids), "product_per_s": round(mine, 1),
            "bare_per_s": round(theirs, 1), "ratio": round(mine / theirs, 3),
            "overhead_ms_per_item": round(1000 * (1 / mine - 1 / theirs), 3)}


def train(project) -> float:
    from training import runs

    started = time.perf_counter()
    run = runs.execute_run(run_id=runs.request_training(project=project, dispatch=False).pk)
    if run.status != "succeeded":
        raise SystemExit(f"training failed: {run.traceback}")
    return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    load_before = os.getloadavg()
    database_url = setup_environment()
    recreate_database(database_url)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    manager = get_user_model().objects.create_user(username="bench-manager")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Instant)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        project, ids = make_project(manager, "bench judges http", args.n)
        http = measure(manager, project, ids, "http", args.repeats, backend="openai",
                       model="bench", base_url=base_url)
    finally:
        server.shutdown()
        server.server_close()

    project, ids = make_project(manager, "bench judges rm", args.rm_n, labelled=LABELLED,
                                settings={"reward_model": dict(TRAIN)})
    train_s = train(project)
    reward = measure(manager, project, ids, "rm", args.repeats, backend="reward_model")
    reward["train_s"] = round(train_s, 1)

    line = {
        "benchmark": "judges",
        "database": "postgresql",
        "cpus": os.cpu_count(),
        # The machine's 1-minute load average before and after: other work on it skews
        # every number here.
        "loadavg": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "repeats": args.repeats,
        "http": http,
        "reward_model": reward,
    }
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
