""""Watch it learn" latency over HTTP: how long the ranking page waits for the reward
model's feedback on a label, cold and warm.

Starts gunicorn (``rankwise.wsgi``, ``RANKWISE_PROFILE=local``) against PostgreSQL on a
project with a small trained reward model (24 labelled items, the frozen-encoder head) and
fresh items for one annotator, then measures through real HTTP with a token:

- ``cold_first_feedback_s``: a fresh server's first feedback, nothing loaded ahead (the
  GET that follows a submit; the model, the encoder and torch load inside it);
- ``first_feedback_after_page_open_s``: a fresh server again, but as the ranking page does
  it: opening the page asks for the active model (which loads it in the background), the
  annotator reads and ranks for ``--think`` seconds, then submits;
- ``warm_feedback_p50_ms`` / ``p95``: the feedback GET of ``--submits`` more submits
  (next, submit, feedback each), and ``warm_submit_to_answer_p50_ms`` the submit plus the
  feedback, what the annotator waits from pressing Enter to the chart;
- ``ratio``: cold first feedback over the warm p50 (how many times faster once warm).

Prints ONE JSON line.

    .venv/bin/python benchmarks/feedback_latency.py --submits 30

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/rw_bench_feedback) names a
database that this script drops and creates again; its name must contain "bench".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from annotate_loop import (  # noqa: E402  (the shared start-up of the benchmarks)
    PASSWORD,
    Api,
    login,
    percentile,
    recreate_database,
    start_server,
    stop_server,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rw_bench_feedback"
TRAIN = {"mode": "head", "epochs": 30, "eval_fraction": 0.25, "seed": 0}
LABELLED = 24


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submits", type=int, default=30)
    parser.add_argument("--think", type=float, default=5.0,
                        help="seconds between opening the page and the first submit")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8733)
    return parser.parse_args()


def setup_environment() -> str:
    database_url = os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ["RANKWISE_PROFILE"] = "local"
    os.environ.setdefault("RANKWISE_DATA_DIR", str(ROOT / "var" / "bench-feedback"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")
    # The feedback of every submit is asked for; the default rate would cut a long run.
    os.environ.setdefault("RANKWISE_FEEDBACK_RATE", "10000/min")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "platform"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    return database_url


def topic(n: int) -> str:
    return f"task number {n}"


def texts_of(n: int) -> tuple[str, str]:
    """A helpful and a curt answer: the preference the model learns."""
    t = topic(n)
    return (f"Happy to help! To do {t}, start with the basics, go step by step, and tell "
            f"me if any part is unclear so we can work through it together.",
            f"No. Figure out {t} yourself and stop asking me.")


def make_project(n_fresh: int):
    """A project with a trained, active reward model and ``n_fresh`` items to label."""
    from django.contrib.auth import get_user_model

    from annotation import services as project_services
    from annotation.models import Annotation, Item, Response
    from training import runs

    User = get_user_model()
    manager = User.objects.create_user(username="bench-manager", password=PASSWORD)
    annotator = User.objects.create_user(username="bench-annotator", password=PASSWORD)
    project = project_services.create_project(actor=manager, name="bench feedback",
                                              responses_per_item=2, overlap=1)
    project_services.set_membership(actor=manager, project=project, user=annotator,
                                    role="annotator")
    project.settings = {"reward_model": dict(TRAIN)}
    project.save(update_fields=["settings"])
    for n in range(LABELLED + n_fresh):
        item = Item.objects.create(project=project, prompt=f"How do I do {topic(n)}?",
                                   content_hash=f"bench-{n}")
        good, bad = (Response.objects.create(item=item, position=pos, text=text)
                     for pos, text in enumerate(texts_of(n)[::1 if n % 2 else -1]))
        if n < LABELLED:
            ranking = [[good.pk], [bad.pk]] if n % 2 else [[bad.pk], [good.pk]]
            Annotation.objects.create(project=project, item=item, source="import",
                                      ranking=ranking)
    run = runs.execute_run(run_id=runs.request_training(project=project, dispatch=False).pk)
    if run.status != "succeeded":
        raise SystemExit(f"training failed: {run.traceback}")
    Item.objects.filter(project=project, annotations__isnull=False).update(
        annotations_done=1, queue_state=None)
    return project


def submit_next(api: Api, project_id: int) -> int:
    """Take the next task and rank it as shown; its feedback URL's assignment id."""
    status, task = api.call("GET", f"/api/v1/projects/{project_id}/next/")
    if status != 200:
        raise SystemExit(f"next answered {status}: {task}")
    ids = [r["id"] for r in task["item"]["responses"]]
    status, body = api.call("POST", f"/api/v1/assignments/{task['assignment']}/submit/",
                            {"ranking": [[i] for i in ids], "duration_ms": 1000})
    if status != 201:
        raise SystemExit(f"submit answered {status}: {body}")
    return task["assignment"]


def feedback(api: Api, assignment: int) -> float:
    started = time.perf_counter()
    status, body = api.call("GET", f"/api/v1/assignments/{assignment}/feedback/")
    took = time.perf_counter() - started
    if status != 200 or not body.get("model_version") or len(body["responses"]) != 2:
        raise SystemExit(f"feedback answered {status}: {body}")
    return took


def main() -> None:
    args = parse_args()
    load_before = os.getloadavg()[0]
    database_url = setup_environment()
    recreate_database(database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    project = make_project(args.submits + 2)
    connection.close()

    # 1. Cold: a fresh server's first feedback, nothing asked for ahead.
    server = start_server(args)
    try:
        api = Api(args.port, login(args.port, "bench-annotator"), timeout=300)
        cold = feedback(api, submit_next(api, project.pk))
    finally:
        stop_server(server)

    # 2. As the page does it: a fresh server, the page opens (asks for the active model),
    # the annotator ranks, submits; then the warm loop on the same connection.
    server = start_server(args)
    try:
        api = Api(args.port, login(args.port, "bench-annotator"), timeout=300)
        status, active = api.call("GET", f"/api/v1/projects/{project.pk}/reward-models/active/")
        if status != 200 or active["model_version"] != "v1":
            raise SystemExit(f"active model answered {status}: {active}")
        time.sleep(args.think)
        first = feedback(api, submit_next(api, project.pk))
        gets, waits = [], []
        for _ in range(args.submits):
            status, task = api.call("GET", f"/api/v1/projects/{project.pk}/next/")
            ids = [r["id"] for r in task["item"]["responses"]]
            started = time.perf_counter()
            api.call("POST", f"/api/v1/assignments/{task['assignment']}/submit/",
                     {"ranking": [[i] for i in ids], "duration_ms": 1000})
            gets.append(feedback(api, task["assignment"]))
            waits.append(time.perf_counter() - started)
    finally:
        stop_server(server)

    p50 = percentile(gets, 0.5)
    line = {
        "benchmark": "feedback_latency",
        "database": "postgresql",
        "gunicorn": {"workers": args.workers, "threads": args.threads},
        "cpus": os.cpu_count(),
        # The machine's 1-minute load average before and after: other work on it skews
        # every number here.
        "loadavg": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "cold_first_feedback_s": round(cold, 2),
        "first_feedback_after_page_open_s": round(first, 3),
        "think_s": args.think,
        "submits": len(gets),
        "warm_feedback_p50_ms": round(p50 * 1000, 1),
        "warm_feedback_p95_ms": round(percentile(gets, 0.95) * 1000, 1),
        "warm_submit_to_answer_p50_ms": round(percentile(waits, 0.5) * 1000, 1),
        "ratio": round(cold / p50, 1) if p50 else None,
    }
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
