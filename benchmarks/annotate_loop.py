"""The annotating loop under load: N annotators doing next + submit over HTTP.

Starts gunicorn (``rankwise.wsgi``, ``RANKWISE_PROFILE=local``) against PostgreSQL, loads
projects of each size with COPY, logs A annotators in with tokens, lets them rank for D
seconds per size and prints ONE JSON line: labels per second and the p50/p99 latency of
``next`` and ``submit`` per size, beside the rate of the same loop run with bare psycopg
(the claim and insert SQL alone, in this process, no HTTP, no Django): ``ratio`` is
rankwise / bare.

    .venv/bin/python benchmarks/annotate_loop.py --seconds 60 --annotators 16 \\
        --items 1000 100000

A project of 1,000 items with overlap 3 holds 3,000 labels, fewer than a minute of this
loop, so the small sizes get a pool of such projects: an annotator who hears "nothing
left" (204) moves to the next project of the pool. Every project keeps its size; the point
is that ``next`` costs the same at 1,000 and at 100,000 items.

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/rw_bench_loop) names a database
that this script drops and creates again; its name must contain "bench".
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rw_bench_loop"
PASSWORD = "bench-annotator-password-2718"
K = 2  # responses per item


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--annotators", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 2)))
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--skip-bare", action="store_true", help="only the HTTP loop")
    return parser.parse_args()


def setup_environment() -> str:
    database_url = os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ["RANKWISE_PROFILE"] = "local"
    # Keep each web thread's connection for the whole run, so that the database CPU read
    # from its backends covers the run (the default recycles them every minute).
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "600")
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


# --- data -----------------------------------------------------------------------------

def load_project(*, manager, annotators, n_items: int, overlap: int, label: str):
    """A project of ``n_items`` K=2 items, loaded with COPY as the importer stores them."""
    import psycopg
    from django.conf import settings

    from annotation import services as project_services

    project = project_services.create_project(
        actor=manager, name=f"bench {label}", responses_per_item=K, overlap=overlap
    )
    for user in annotators:
        project_services.set_membership(actor=manager, project=project, user=user,
                                        role="annotator")
    db = settings.DATABASES["default"]
    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"],
                         port=db["PORT"] or 5432, password=db["PASSWORD"] or None) as conn:
        with conn.cursor() as cur:
            with cur.copy(
                "COPY annotation_item (project_id, prompt, content_hash, meta, is_gold,"
                " annotations_done, leases_live, imported_labels, queue_state, created_at)"
                " FROM STDIN"
            ) as copy:
                for i in range(n_items):
                    copy.write_row((project.pk, f"Prompt {i}: explain item {i} briefly.",
                                    f"{project.pk}-{i}", "{}", False, 0, 0, 0, 1, "now"))
            cur.execute("SELECT id FROM annotation_item WHERE project_id = %s ORDER BY id",
                        (project.pk,))
            ids = [row[0] for row in cur.fetchall()]
            with cur.copy("COPY annotation_response (item_id, position, text, model,"
                          " external_id) FROM STDIN") as copy:
                for item_id in ids:
                    for position in range(K):
                        copy.write_row((item_id, position,
                                        f"Answer {position} to item {item_id}, a few words.",
                                        f"model-{position}", ""))
        conn.execute("ANALYZE annotation_item")
        conn.execute("ANALYZE annotation_response")
    return project


def make_people(n: int):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    manager = User.objects.create_user(username="bench-manager", password=PASSWORD)
    hashed = make_password(PASSWORD)  # one hash for everyone: creating users stays quick
    annotators = User.objects.bulk_create(
        [User(username=f"bench-annotator-{i}", password=hashed) for i in range(n)]
    )
    return manager, annotators


# --- the server -----------------------------------------------------------------------

def start_server(args) -> subprocess.Popen:
    gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    command = [str(gunicorn), "rankwise.wsgi", "--bind", f"127.0.0.1:{args.port}",
               "--workers", str(args.workers), "--threads", str(args.threads),
               "--worker-class", "gthread", "--keep-alive", "30", "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(),
                              start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit("gunicorn did not start") from None
            time.sleep(0.3)
    stop_server(server)
    raise SystemExit("gunicorn did not answer within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


class Api:
    """One keep-alive HTTP connection, as one person's client (the other benchmarks use it
    too). ``raw`` sends bytes as they are, with ``content_type``."""

    def __init__(self, port: int, token: str | None = None, *, timeout: float = 30):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Token {token}"

    def call(self, method: str, path: str, body=None, *, raw: bytes | None = None,
             content_type: str | None = None) -> tuple[int, dict | None]:
        data = raw if raw is not None else json.dumps(body).encode() if body is not None else None
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        return response.status, (json.loads(payload) if payload else None)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children that are still running."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            continue
    return total


def database_cpu_seconds(conninfo: str) -> float | None:
    """CPU of the PostgreSQL backends serving the benchmark's database (a local server);
    None when their processes cannot be read."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()")]
    if not pids or not Path(f"/proc/{pids[0]}/stat").exists():
        return None
    return sum(process_cpu_seconds(pid) for pid in pids)


def login(port: int, username: str) -> str:
    status, body = Api(port).call("POST", "/api/v1/auth/token/",
                                  {"username": username, "password": PASSWORD})
    if status != 201:
        raise SystemExit(f"login of {username} failed: {status} {body}")
    return body["token"]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def http_loop(*, port: int, tokens: list[str], project_ids: list[int], seconds: float,
              server_pid: int, conninfo: str) -> dict:
    stop_at = [0.0]
    barrier = threading.Barrier(len(tokens) + 1)
    results: list[dict] = []
    lock = threading.Lock()

    def annotator(token: str, start: int) -> None:
        api = Api(port, token)
        nexts: list[float] = []
        empties: list[float] = []
        submits: list[float] = []
        labels, errors, pool = 0, 0, start
        barrier.wait()
        while time.monotonic() < stop_at[0] and pool < len(project_ids):
            t0 = time.perf_counter()
            status, task = api.call("GET", f"/api/v1/projects/{project_ids[pool]}/next/")
            if status == 204:
                empties.append(time.perf_counter() - t0)
                pool += 1
                continue
            nexts.append(time.perf_counter() - t0)
            if status != 200:
                errors += 1
                continue
            ids = [r["id"] for r in task["item"]["responses"]]
            random.shuffle(ids)
            t0 = time.perf_counter()
            status, _body = api.call("POST", f"/api/v1/assignments/{task['assignment']}/submit/",
                                     {"ranking": [[i] for i in ids], "duration_ms": 1000})
            submits.append(time.perf_counter() - t0)
            if status == 201:
                labels += 1
            else:
                errors += 1
        with lock:
            results.append({"next": nexts, "empty": empties, "submit": submits,
                            "labels": labels, "errors": errors})

    threads = [threading.Thread(target=annotator, args=(token, 0)) for token in tokens]
    for thread in threads:
        thread.start()
    stop_at[0] = time.monotonic() + seconds
    started = time.monotonic()
    server_cpu, client_cpu = process_cpu_seconds(server_pid), time.process_time()
    barrier.wait()
    # Read once every annotator has its connection, so the server's backends exist.
    time.sleep(min(1.0, seconds / 10))
    db_cpu = database_cpu_seconds(conninfo)
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    server_cpu = process_cpu_seconds(server_pid) - server_cpu
    client_cpu = time.process_time() - client_cpu
    db_after = database_cpu_seconds(conninfo)
    db_cpu = None if db_cpu is None or db_after is None else db_after - db_cpu
    nexts = [v for r in results for v in r["next"]]
    submits = [v for r in results for v in r["submit"]]
    empties = [v for r in results for v in r["empty"]]
    labels = sum(r["labels"] for r in results)

    def ms(value):
        return None if value is None else round(value * 1000, 1)

    return {
        "labels": labels,
        "elapsed_s": round(elapsed, 1),
        "labels_per_s": round(labels / elapsed, 1),
        "next_p50_ms": ms(percentile(nexts, 0.5)),
        "next_p99_ms": ms(percentile(nexts, 0.99)),
        "submit_p50_ms": ms(percentile(submits, 0.5)),
        "submit_p99_ms": ms(percentile(submits, 0.99)),
        # "Nothing left" answers: an annotator moving on to the next project of the pool.
        "next_204": len(empties),
        "next_204_p50_ms": ms(percentile(empties, 0.5)),
        "errors": sum(r["errors"] for r in results),
        # CPU per label of the web processes and of this process's HTTP clients.
        "server_cpu_ms_per_label": round(server_cpu / labels * 1000, 2) if labels else None,
        "client_cpu_ms_per_label": round(client_cpu / labels * 1000, 2) if labels else None,
        "db_cpu_ms_per_label": round(db_cpu / labels * 1000, 2) if labels and db_cpu else None,
    }


# --- the same loop in bare SQL ----------------------------------------------------------

CLAIM = """
SELECT i.id FROM annotation_item i
WHERE i.project_id = %(project)s AND NOT i.is_gold AND i.queue_state IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM annotation_assignment a
                  WHERE a.item_id = i.id AND a.annotator_id = %(user)s AND a.status <> 'expired')
ORDER BY i.queue_state, i.id LIMIT 1 FOR UPDATE OF i SKIP LOCKED
"""
TAKE_SLOT = """
UPDATE annotation_item SET leases_live = leases_live + 1,
  queue_state = CASE WHEN annotations_done + leases_live + 1 >= %(overlap)s THEN NULL ELSE 0 END
WHERE id = %(item)s AND annotations_done + leases_live < %(overlap)s
"""
RESPONSES = "SELECT id, text FROM annotation_response WHERE item_id = %(item)s ORDER BY position"
LEASE = """
INSERT INTO annotation_assignment (project_id, item_id, annotator_id, status, display_order,
  reason, is_practice, leased_at, lease_expires_at, skip_reason)
VALUES (%(project)s, %(item)s, %(user)s, 'leased', %(order)s, 'oldest open item', false, now(),
  now() + interval '30 minutes', '') RETURNING id
"""
LOCK_ASSIGNMENT = ("SELECT id, item_id, status FROM annotation_assignment"
                   " WHERE id = %(assignment)s AND annotator_id = %(user)s FOR UPDATE")
COUNT_LABEL = """
UPDATE annotation_item SET annotations_done = annotations_done + 1, leases_live = leases_live - 1,
  queue_state = CASE WHEN annotations_done + leases_live >= %(overlap)s THEN NULL ELSE 0 END
WHERE id = %(item)s
"""
CLOSE = ("UPDATE annotation_assignment SET status = 'submitted', finished_at = now()"
         " WHERE id = %(assignment)s")
STORE = """
INSERT INTO annotation_annotation (project_id, item_id, assignment_id, annotator_id, source,
  ranking, flags, rationale, duration_ms, created_at)
VALUES (%(project)s, %(item)s, %(assignment)s, %(user)s, 'human', %(ranking)s, '[]', '', 1000,
  now()) RETURNING id
"""


def bare_loop(*, conninfo: str, user_ids: list[int], project_ids: list[int], overlap: int,
              seconds: float) -> dict:
    import psycopg
    from psycopg.types.json import Jsonb

    stop_at = [0.0]
    barrier = threading.Barrier(len(user_ids) + 1)
    finished = threading.Barrier(len(user_ids) + 1)
    measured = threading.Event()
    counts: list[int] = []
    lock = threading.Lock()

    def annotator(user: int) -> None:
        labels, pool = 0, 0
        with psycopg.connect(conninfo) as conn:
            barrier.wait()
            while time.monotonic() < stop_at[0] and pool < len(project_ids):
                project = project_ids[pool]
                args = {"project": project, "user": user, "overlap": overlap}
                with conn.transaction():
                    row = conn.execute(CLAIM, args).fetchone()
                    if row is None:
                        pool += 1
                        continue
                    args["item"] = row[0]
                    if conn.execute(TAKE_SLOT, args).rowcount != 1:
                        continue
                    order = [r[0] for r in conn.execute(RESPONSES, args).fetchall()]
                    random.shuffle(order)
                    args["order"] = Jsonb(order)
                    args["assignment"] = conn.execute(LEASE, args).fetchone()[0]
                with conn.transaction():
                    conn.execute(LOCK_ASSIGNMENT, args).fetchone()
                    conn.execute(COUNT_LABEL, args)
                    conn.execute(CLOSE, args)
                    args["ranking"] = Jsonb([[i] for i in order])
                    conn.execute(STORE, args).fetchone()
                labels += 1
            # Keep the connection until its backend's CPU was read.
            finished.wait()
            measured.wait()
        with lock:
            counts.append(labels)

    threads = [threading.Thread(target=annotator, args=(user,)) for user in user_ids]
    for thread in threads:
        thread.start()
    stop_at[0] = time.monotonic() + seconds
    started = time.monotonic()
    barrier.wait()
    db_cpu = database_cpu_seconds(conninfo)
    finished.wait()
    elapsed = time.monotonic() - started
    db_after = database_cpu_seconds(conninfo)
    measured.set()
    for thread in threads:
        thread.join()
    labels = sum(counts)
    db_cpu = None if db_cpu is None or db_after is None else db_after - db_cpu
    return {"labels": labels, "labels_per_s": round(labels / elapsed, 1),
            "db_cpu_ms_per_label": round(db_cpu / labels * 1000, 2) if labels and db_cpu else None}


# --- main -----------------------------------------------------------------------------

def main() -> None:
    args = parse_args()
    load_before = os.getloadavg()[0]
    database_url = setup_environment()
    recreate_database(database_url)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    manager, annotators = make_people(args.annotators)

    # Enough projects per size that no annotator runs out within the time, at up to
    # 40 labels per second each (far above what one client thread reaches here).
    def pool_size(n_items: int) -> int:
        wanted = args.annotators * args.seconds * 40
        return max(1, min(50, math.ceil(wanted / (n_items * args.overlap))))

    loaded = time.monotonic()
    pools = {n: [load_project(manager=manager, annotators=annotators, n_items=n,
                              overlap=args.overlap, label=f"{n}-{p}")
                 for p in range(pool_size(n))] for n in args.items}
    bare_pools = {} if args.skip_bare else {
        n: [load_project(manager=manager, annotators=annotators, n_items=n,
                         overlap=args.overlap, label=f"bare {n}-{p}")
            for p in range(pool_size(n))] for n in args.items}
    load_seconds = round(time.monotonic() - loaded, 1)
    connection.close()

    db = settings.DATABASES["default"]
    conninfo = (f"dbname={db['NAME']} user={db['USER']} host={db['HOST']} "
                f"port={db['PORT'] or 5432}")
    server = start_server(args)
    try:
        tokens = [login(args.port, user.username) for user in annotators]
        warm = Api(args.port, tokens[0])
        for projects in pools.values():
            for project in projects:
                # Open each project's connections and caches before the clock starts.
                status, task = warm.call("GET", f"/api/v1/projects/{project.pk}/next/")
                ids = [r["id"] for r in task["item"]["responses"]]
                warm.call("POST", f"/api/v1/assignments/{task['assignment']}/submit/",
                          {"ranking": [[i] for i in ids]})
        sizes = []
        for n, projects in pools.items():
            result = {"items": n, "projects": len(projects)}
            result.update(http_loop(port=args.port, tokens=tokens,
                                    project_ids=[p.pk for p in projects], seconds=args.seconds,
                                    server_pid=server.pid, conninfo=conninfo))
            sizes.append(result)
    finally:
        stop_server(server)

    for result in sizes:
        if args.skip_bare:
            continue
        bare = bare_loop(conninfo=conninfo, user_ids=[u.pk for u in annotators],
                         project_ids=[p.pk for p in bare_pools[result["items"]]],
                         overlap=args.overlap, seconds=args.seconds)
        result["bare_labels_per_s"] = bare["labels_per_s"]
        result["bare_db_cpu_ms_per_label"] = bare["db_cpu_ms_per_label"]
        result["ratio"] = round(result["labels_per_s"] / bare["labels_per_s"], 2) \
            if bare["labels_per_s"] else None

    p99 = [r["next_p99_ms"] for r in sizes if r["next_p99_ms"] is not None]
    line = {
        "benchmark": "annotate_loop",
        "database": "postgresql",
        "annotators": args.annotators,
        "seconds": args.seconds,
        "overlap": args.overlap,
        "gunicorn": {"workers": args.workers, "threads": args.threads},
        "cpus": os.cpu_count(),
        # The machine's 1-minute load average before and after: other work on it skews
        # every number here.
        "loadavg": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "load_s": load_seconds,
        "sizes": sizes,
        "next_p99_spread": round(max(p99) / min(p99), 2) if len(p99) > 1 and min(p99) else None,
        "labels_per_s_median": statistics.median(r["labels_per_s"] for r in sizes),
    }
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
