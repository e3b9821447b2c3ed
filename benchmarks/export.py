"""Export over HTTP against the database's own COPY, and a whole project's export time.

Starts gunicorn (``rankwise.wsgi``, ``RANKWISE_PROFILE=local``, one worker so that its
memory is the export's) against PostgreSQL and measures:

- ``pairs``: a project of N K=2 items with one label each (human, by one of a few
  annotators, so consensus is one vote) streamed as ``GET .../export/?format=trl`` with
  ``http.client`` reading 64 KiB chunks: rows/s, MB/s, time to the first byte, and the
  gunicorn worker's peak resident memory (``VmHWM`` in ``/proc/<pid>/status``) before and
  after. Beside it, in the same run, psycopg's ``COPY (SELECT prompt, chosen text, rejected
  text ...) TO STDOUT`` of the same pairs: ``ratio`` is export rows/s over COPY rows/s.
- ``project``: a 100,000-item project labelled by three annotators each (overlap 3, some
  disagreement), exported whole in the ``trl``, ``consensus`` and ``annotations`` formats:
  the seconds each takes from request to last byte. Label Studio's export of a project
  this size takes 214 s (the reference figure of the issue).
- ``preview_s`` of both: the seconds of the export page's first request (``?preview=10``,
  the first rows and the count of the whole export).

Prints ONE JSON line.

    .venv/bin/python benchmarks/export.py                 # 1,000,000 pairs, 100,000 items
    .venv/bin/python benchmarks/export.py --quick         # 20,000 pairs, 5,000 items

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/rw_bench_export) names a database
that this script drops and creates again; its name must contain "bench".
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from annotate_loop import (  # noqa: E402  (the shared start-up of the benchmarks)
    PASSWORD,
    Api,
    recreate_database,
    start_server,
    stop_server,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rw_bench_export"
CHUNK = 64 * 1024
K = 2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000,
                        help="items of the whole-project export")
    parser.add_argument("--quick", action="store_true", help="20,000 pairs, 5,000 items")
    parser.add_argument("--port", type=int, default=8732)
    args = parser.parse_args()
    if args.quick:
        args.pairs, args.items = 20_000, 5_000
    # One worker: the peak memory read is then that of the process that served the export.
    args.workers, args.threads = 1, 4
    return args


def setup_environment() -> str:
    database_url = os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ["RANKWISE_PROFILE"] = "local"
    os.environ.setdefault("RANKWISE_DATA_DIR", str(ROOT / "var" / "bench-export"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "platform"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    return database_url


# --- data -----------------------------------------------------------------------------

def connect():
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    return psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"],
                           port=db["PORT"] or 5432, password=db["PASSWORD"] or None)


def seed_project(*, manager, annotators, n_items: int, labels_per_item: int, label: str,
                 rng: random.Random):
    """A K=2 project of ``n_items`` items loaded with COPY as the importer stores them, and
    ``labels_per_item`` human labels on each by distinct annotators (assignment-less, as an
    import or a migration leaves them). Annotator 0 prefers the longer answer; the others
    agree with annotator 0 nine times in ten."""
    from annotation import services as project_services

    project = project_services.create_project(
        actor=manager, name=f"bench {label}", responses_per_item=K, overlap=labels_per_item
    )
    for user in annotators:
        project_services.set_membership(actor=manager, project=project, user=user,
                                        role="annotator")
    with connect() as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY annotation_item (project_id, prompt, content_hash, meta, is_gold,"
            " annotations_done, leases_live, imported_labels, queue_state, created_at)"
            " FROM STDIN"
        ) as copy:
            for i in range(n_items):
                copy.write_row((project.pk, f"Prompt {i}: explain item {i} in a sentence or two.",
                                f"{project.pk}-{i}", "{}", False, labels_per_item, 0, 0,
                                None, "now"))
        cur.execute("SELECT id FROM annotation_item WHERE project_id = %s ORDER BY id",
                    (project.pk,))
        item_ids = [row[0] for row in cur.fetchall()]
        with cur.copy("COPY annotation_response (item_id, position, text, model, external_id)"
                      " FROM STDIN") as copy:
            for item_id in item_ids:
                copy.write_row((item_id, 0, f"Item {item_id} answered at some length, with"
                                " a reason and an example.", "model-a", ""))
                copy.write_row((item_id, 1, f"Item {item_id}: a short answer.", "model-b", ""))
        cur.execute("SELECT r.item_id, r.id FROM annotation_response r JOIN annotation_item i"
                    " ON i.id = r.item_id WHERE i.project_id = %s ORDER BY r.item_id, r.position",
                    (project.pk,))
        responses: dict[int, list[int]] = {}
        for item_id, rid in cur.fetchall():
            responses.setdefault(item_id, []).append(rid)
        with cur.copy("COPY annotation_annotation (project_id, item_id, annotator_id, source,"
                      " ranking, flags, rationale, duration_ms, excluded, created_at)"
                      " FROM STDIN") as copy:
            for n, item_id in enumerate(item_ids):
                first, second = responses[item_id]
                for j in range(labels_per_item):
                    agree = j == 0 or rng.random() < 0.9
                    ranking = [[first], [second]] if agree else [[second], [first]]
                    annotator = annotators[(n + j) % len(annotators)]
                    copy.write_row((project.pk, item_id, annotator.pk, "human",
                                    json.dumps(ranking), "[]", "", 4000, False, "now"))
        for table in ("annotation_item", "annotation_response", "annotation_annotation"):
            cur.execute(f"ANALYZE {table}")
    return project


def make_people(n: int):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    manager = User.objects.create_user(username="bench-manager", password=PASSWORD)
    hashed = make_password(PASSWORD)
    annotators = User.objects.bulk_create(
        [User(username=f"bench-annotator-{i}", password=hashed) for i in range(n)]
    )
    return manager, annotators


# --- measuring ------------------------------------------------------------------------

def worker_pids(master: int) -> list[int]:
    """gunicorn's workers: the children of the master process."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    return [int(pid) for pid in children]


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set size (VmHWM) in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def stream(port: int, token: str, path: str) -> dict:
    """GET ``path`` and read the body in 64 KiB chunks; rows are counted by newline."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Token {token}"})
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"GET {path}: {response.status} {response.read()[:500]!r}")
    first_byte, size, rows, last = None, 0, 0, b""
    while chunk := response.read(CHUNK):
        if first_byte is None:
            first_byte = time.perf_counter() - started
        size += len(chunk)
        rows += chunk.count(b"\n")
        last = chunk
    elapsed = time.perf_counter() - started
    conn.close()
    if last and not last.endswith(b"\n"):
        rows += 1
    return {"rows": rows, "bytes": size, "seconds": round(elapsed, 2),
            "first_byte_s": round(first_byte or elapsed, 3),
            "content_type": response.getheader("Content-Type")}


def timed_preview(port: int, token: str, project_id: int) -> float:
    """Seconds of ``?preview=10``: the export page's first rows and row count."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request("GET", f"/api/v1/projects/{project_id}/export/?format=trl&preview=10",
                 headers={"Authorization": f"Token {token}"})
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"preview of project {project_id}: {response.status}")
    return round(time.perf_counter() - started, 2)


PAIRS_SQL = """
SELECT i.prompt, c.text, r.text
FROM annotation_item i
JOIN annotation_annotation a ON a.item_id = i.id AND NOT a.excluded
JOIN annotation_response c ON c.id = (a.ranking -> 0 ->> 0)::bigint
JOIN annotation_response r ON r.id = (a.ranking -> 1 ->> 0)::bigint
WHERE i.project_id = {project}
ORDER BY i.id
"""


def copy_reference(project_id: int) -> dict:
    """The same columns of the same pairs straight out of PostgreSQL: COPY ... TO STDOUT."""
    started = time.perf_counter()
    size = rows = 0
    with connect() as conn, conn.cursor() as cur:
        query = PAIRS_SQL.format(project=int(project_id))
        with cur.copy(f"COPY ({query}) TO STDOUT") as copy:
            for chunk in copy:
                size += len(chunk)
                rows += bytes(chunk).count(b"\n")
    elapsed = time.perf_counter() - started
    return {"rows": rows, "bytes": size, "seconds": round(elapsed, 2),
            "rows_per_s": round(rows / elapsed, 1)}


# --- main -----------------------------------------------------------------------------

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
    manager, annotators = make_people(8)
    rng = random.Random(20240611)
    loaded = time.monotonic()
    pairs = seed_project(manager=manager, annotators=annotators, n_items=args.pairs,
                         labels_per_item=1, label=f"{args.pairs} pairs", rng=rng)
    whole = seed_project(manager=manager, annotators=annotators[:3], n_items=args.items,
                         labels_per_item=3, label=f"{args.items} items", rng=rng)
    tiny = seed_project(manager=manager, annotators=annotators[:1], n_items=10,
                        labels_per_item=1, label="warm-up", rng=rng)
    load_seconds = round(time.monotonic() - loaded, 1)
    connection.close()

    server = start_server(args)
    try:
        status, body = Api(args.port).call("POST", "/api/v1/auth/token/",
                                           {"username": "bench-manager", "password": PASSWORD})
        if status != 201:
            raise SystemExit(f"login failed: {status} {body}")
        token = body["token"]
        workers = worker_pids(server.pid)
        # Warm the worker (imports, connection) on a tiny project before reading memory.
        warm = Api(args.port, token)
        warm.call("GET", f"/api/v1/projects/{tiny.pk}/export/?format=trl&preview=1")
        rss_before = {pid: peak_rss_mb(pid) for pid in workers}

        export = stream(args.port, token, f"/api/v1/projects/{pairs.pk}/export/?format=trl")
        rss_after = {pid: peak_rss_mb(pid) for pid in workers}
        export["rows_per_s"] = round(export["rows"] / export["seconds"], 1)
        export["mb_per_s"] = round(export["bytes"] / 2**20 / export["seconds"], 1)

        project_export = {}
        for format in ("trl", "consensus", "annotations"):
            result = stream(args.port, token,
                            f"/api/v1/projects/{whole.pk}/export/?format={format}")
            project_export[format] = {"rows": result["rows"], "seconds": result["seconds"],
                                      "mb": round(result["bytes"] / 2**20, 1)}
        # What the export page asks first: the first rows and the count of the whole export.
        previews = {name: timed_preview(args.port, token, project.pk)
                    for name, project in (("pairs", pairs), ("project", whole))}
        rss_end = {pid: peak_rss_mb(pid) for pid in workers}
    finally:
        stop_server(server)

    reference = copy_reference(pairs.pk)
    served = max(workers, key=lambda pid: (rss_after.get(pid) or 0) - (rss_before.get(pid) or 0))
    line = {
        "benchmark": "export",
        "database": "postgresql",
        "cpus": os.cpu_count(),
        "loadavg": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "load_s": load_seconds,
        "gunicorn": {"workers": args.workers, "threads": args.threads},
        "pairs": {
            "rows": export["rows"],
            "expected_rows": args.pairs,
            "seconds": export["seconds"],
            "rows_per_s": export["rows_per_s"],
            "mb_per_s": export["mb_per_s"],
            "first_byte_s": export["first_byte_s"],
            "content_type": export["content_type"],
            "server_peak_rss_mb_before": rss_before.get(served),
            "server_peak_rss_mb": rss_after.get(served),
            "copy_rows": reference["rows"],
            "copy_seconds": reference["seconds"],
            "copy_rows_per_s": reference["rows_per_s"],
            "ratio": round(export["rows_per_s"] / reference["rows_per_s"], 2)
            if reference["rows_per_s"] else None,
            "preview_s": previews["pairs"],
        },
        "project": {
            "items": args.items,
            "labels": args.items * 3,
            "export_s": {f: r["seconds"] for f, r in project_export.items()},
            "rows": {f: r["rows"] for f, r in project_export.items()},
            "mb": {f: r["mb"] for f, r in project_export.items()},
            "preview_s": previews["project"],
            "server_peak_rss_mb": rss_end.get(served),
            "label_studio_s": 214,
        },
    }
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
