"""Label quality on a simulated crowd, over real HTTP: does QC catch the bad annotators, and
does Dawid–Skene consensus beat majority vote?

Starts gunicorn (``rankwise.wsgi``, ``RANKWISE_PROFILE=local``) against PostgreSQL, creates
a K = 4 project (overlap 3, gold_rate 0.1) over the API, imports the items of
``annotation.quality.crowd_simulation`` (native format, hidden gold on 10%), and lets the
acceptance crowd (12 careful annotators, 3 random clickers, 3 always-first-shown, 2 far
too fast) rank through ``next`` / ``submit`` with their own tokens until each has 50 labels
(``crowd_simulation.annotate_over_api``). It then reads the annotator table and every
scored item's consensus by each method (``GET /api/v1/items/{id}/?consensus=...``) and
prints ONE JSON line: QC precision and recall against the 8 bad annotators, and each
method's pair accuracy and exact share against the hidden truth; ``ratio`` is Dawid–Skene's
pair accuracy over majority's.

    .venv/bin/python benchmarks/crowd_quality.py --seed 0 --items 600

``--seed`` seeds the items and the annotators' choices; which task comes next, gold
included, and each display order are drawn by the server, so two runs of one seed differ a
little.

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/rw_bench_crowd) names a database
that this script drops and creates again; its name must contain "bench".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from annotate_loop import Api, start_server, stop_server  # noqa: E402  (shared start-up)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rw_bench_crowd"
PASSWORD = "bench-crowd-password-1618"
CROWD = {"careful": 12, "random": 3, "first_shown": 3, "too_fast": 2}
METHODS = ("dawid_skene", "majority", "bradley_terry")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--items", type=int, default=600)
    parser.add_argument("--labels", type=int, default=50, help="labels per annotator")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8741)
    return parser.parse_args()


def setup_environment() -> str:
    database_url = os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ["RANKWISE_PROFILE"] = "local"
    os.environ.setdefault("RANKWISE_DATA_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "platform"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    return database_url


def recreate_database(database_url: str) -> None:
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    if url.scheme not in ("postgres", "postgresql") or "bench" not in name:
        # It is dropped: never one that might hold someone's data.
        raise SystemExit(f"DATABASE_URL must name a PostgreSQL database with 'bench' in its "
                         f"name, which this benchmark drops and creates; got {name!r}.")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def make_people(names: list[str]) -> None:
    """A staff manager and the annotators, with one password hash for all (quick)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    hashed = make_password(PASSWORD)
    User.objects.bulk_create([User(username="bench-manager", password=hashed, is_staff=True)]
                             + [User(username=name, password=hashed) for name in names])


def login(port: int, username: str) -> str:
    status, body = Api(port, timeout=120).call("POST", "/api/v1/auth/token/",
                                  {"username": username, "password": PASSWORD})
    if status != 201:
        raise SystemExit(f"login of {username} failed: {status} {body}")
    return body["token"]


def expect(status: int, body, wanted: int, what: str):
    if status != wanted:
        raise SystemExit(f"{what}: HTTP {status} {body}")
    return body


# --- main -----------------------------------------------------------------------------

def main() -> None:
    args = parse_args()
    started = time.monotonic()
    database_url = setup_environment()
    recreate_database(database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from annotation.quality.crowd_simulation import (
        annotate_over_api,
        native_lines,
        qc_precision_recall,
        score_consensus,
        simulate_items,
    )

    call_command("migrate", verbosity=0)
    types = {f"{kind}-{n}": kind for kind, count in CROWD.items() for n in range(count)}
    make_people(list(types))
    connection.close()

    server = start_server(args)
    try:
        manager = Api(args.port, login(args.port, "bench-manager"), timeout=120)
        project = expect(*manager.call("POST", "/api/v1/projects/", {
            "name": f"crowd quality {args.seed}", "responses_per_item": 4, "overlap": 3,
            "gold_rate": 0.1}), 201, "create project")["id"]
        items = simulate_items(n_items=args.items, gold_rate=0.1, k=4, seed=args.seed)
        body = "\n".join(json.dumps(line) for line in native_lines(items)).encode()
        expect(*manager.call("POST", f"/api/v1/projects/{project}/items/import/"
                             "?format=native&labels=none", raw=body,
                             content_type="application/x-ndjson"), 201, "import")
        calls = {}
        for name in types:
            expect(*manager.call("POST", f"/api/v1/projects/{project}/members/",
                                 {"user": name, "role": "annotator"}), 201, f"add {name}")
            calls[name] = Api(args.port, login(args.port, name), timeout=120).call

        labelling = time.monotonic()
        crowd = annotate_over_api(calls=calls, project_id=project, items=items,
                                  annotator_types=types, labels_per_annotator=args.labels,
                                  seed=args.seed)
        labelling = time.monotonic() - labelling

        table = expect(*manager.call("GET", f"/api/v1/projects/{project}/annotators/"),
                       200, "annotators")["results"]
        flagged = sorted(row["username"] for row in table if row["flagged"])
        bad = {name for name, kind in types.items() if kind != "careful"}
        precision, recall = qc_precision_recall(flagged, bad)

        counts: dict[int, int] = {}
        for record in crowd.labels:
            counts[record.item] = counts.get(record.item, 0) + 1
        scored = [item_id for item_id, (index, _) in crowd.served.items()
                  if not items[index].gold and counts.get(index, 0) >= 2]
        reading = time.monotonic()
        scores = {}
        for method in METHODS:
            rankings = {}
            for item_id in scored:
                detail = expect(*manager.call("GET", f"/api/v1/items/{item_id}/?consensus={method}"),
                                200, f"item {item_id}")
                rankings[item_id] = detail["consensus"]["ranking"]
            scores[method] = score_consensus(rankings, crowd, items)
        reading = time.monotonic() - reading
    finally:
        stop_server(server)

    ds, majority = scores["dawid_skene"], scores["majority"]
    line = {
        "benchmark": "crowd_quality",
        "seed": args.seed,
        "annotators": len(types),
        "items": args.items,
        "labels": len(crowd.labels),
        "skips": sum(crowd.skips.values()),
        "gold_labels": sum(items[r.item].gold for r in crowd.labels),
        "items_scored": ds.items,
        "qc_precision": round(precision, 3),
        "qc_recall": round(recall, 3),
        "flagged": flagged,
        "dawid_skene_pair_accuracy": round(ds.pair_accuracy, 4),
        "majority_pair_accuracy": round(majority.pair_accuracy, 4),
        "bradley_terry_pair_accuracy": round(scores["bradley_terry"].pair_accuracy, 4),
        "dawid_skene_exact": round(ds.exact, 4),
        "majority_exact": round(majority.exact, 4),
        "bradley_terry_exact": round(scores["bradley_terry"].exact, 4),
        "ratio": round(ds.pair_accuracy / majority.pair_accuracy, 4),
        "labelling_s": round(labelling, 1),
        "consensus_reads_s": round(reading, 1),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
