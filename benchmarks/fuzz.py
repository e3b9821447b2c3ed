"""Schemathesis against a real server, for longer than CI can afford.

The setup of ``tests/security/test_schema_fuzz.py`` (the same configuration, checks and
seeded world, the same replay of a 404 with the seeded ids, the annotating endpoints once
more as the annotator), but with ``--max-examples`` random cases per operation after the
explicit examples and the coverage phase, over HTTP against gunicorn on a fresh database:
an SQLite file in a temporary folder by default, or a scratch PostgreSQL database
(``--database-url``, recreated, so its name must contain "fuzz"). ``--seconds`` bounds the
run: every operation gets an equal share of it.

Nothing is rolled back here, so the world drifts as the fuzzer writes (members change
roles, runs get queued, leases get submitted) and later cases meet more states. Prints ONE
JSON line: operations, requests, the failures of each check, the statuses seen, requests
per second, and ``ratio``: that rate over the rate of a bare ``GET /healthz`` loop against
the same server, measured first.

    .venv/bin/python benchmarks/fuzz.py --seconds 150
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=150.0,
                        help="time budget of the fuzzing, shared equally by the operations")
    parser.add_argument("--max-examples", type=int, default=200,
                        help="random cases per operation (after examples and coverage)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--database-url", default="",
                        help="a scratch PostgreSQL database to recreate (default: fresh SQLite)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--reference-seconds", type=float, default=5.0)
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def recreate_postgres(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if "fuzz" not in name:
        raise SystemExit(f"refusing to recreate {name!r}: its name must contain 'fuzz'")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def environment(args: argparse.Namespace, work: Path) -> dict[str, str]:
    database = args.database_url or f"sqlite:///{work / 'fuzz.sqlite3'}"
    if args.database_url:
        recreate_postgres(database)
    env = {
        "DATABASE_URL": database, "RANKWISE_DATA_DIR": str(work / "data"),
        "RANKWISE_PROFILE": "local", "DJANGO_SETTINGS_MODULE": "rankwise.settings",
        "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}", "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1", "LOG_LEVEL": "ERROR",
        # Thousands of requests a minute from one user: the throttles are not under test.
        "RANKWISE_SCORE_RATE": "1000000/min", "RANKWISE_FEEDBACK_RATE": "1000000/min",
    }
    os.environ.pop("REDIS_URL", None)
    return env


def start_server(env: dict[str, str], port: int, args) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "rankwise.wsgi", "--bind",
         f"127.0.0.1:{port}", "--workers", str(args.workers), "--threads", str(args.threads),
         "--log-level", "warning", "--timeout", "120"],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
        stderr=open(Path(env["RANKWISE_DATA_DIR"]) / "gunicorn.log", "wb"),
        start_new_session=True,
    )


def wait_until_up(base: str, server: subprocess.Popen) -> None:
    import requests

    for _ in range(600):
        if server.poll() is not None:
            raise SystemExit("gunicorn exited; see gunicorn.log in the data folder")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise SystemExit("gunicorn did not answer /healthz")


def healthz_rate(base: str, seconds: float) -> float:
    import requests

    session, count, start = requests.Session(), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.get(f"{base}/healthz", timeout=10).raise_for_status()
        count += 1
    return count / (time.perf_counter() - start)


class OutOfTime(Exception):
    """The operation's share of ``--seconds`` is spent."""


class Fuzzer:
    def __init__(self, world, checks):
        self.world, self.checks = world, checks
        self.requests = 0
        self.statuses: collections.Counter = collections.Counter()
        self.failures: collections.Counter = collections.Counter()
        self.examples: list[str] = []
        self.exercised: set[str] = set()
        self.stop_at = 0.0

    def token(self, case, role: str) -> str:
        if case.method.upper() == "DELETE" and case.operation.path == "/api/v1/auth/token/":
            # Revoking the token in use would sign the rest of the run out.
            from knox.models import AuthToken

            return AuthToken.objects.create(user=self.world.users[role])[1]
        return self.world.tokens[role]

    def send(self, case, role: str) -> None:
        from tests.security import fuzzing

        response = self.call(case, role)
        seeded = fuzzing.seeded_ids(case.operation.path, self.world.a,
                                    annotator=role == "annotator")
        if seeded and response is not None and response.status_code == 404:
            case.path_parameters = {**(case.path_parameters or {}), **seeded}
            self.call(case, role)

    def call(self, case, role: str):
        from schemathesis.core.failures import FailureGroup, ServerError
        from schemathesis.openapi.checks import UndefinedStatusCode

        if time.monotonic() > self.stop_at:
            raise OutOfTime
        headers = {"Authorization": f"Token {self.token(case, role)}"}
        try:
            response = case.call(headers=headers, timeout=60)
        except Exception as exc:  # a dropped connection is a finding, not the end of the run
            self.failures["transport"] += 1
            self.note(case, f"transport: {type(exc).__name__}: {exc}"[:300])
            return None
        self.requests += 1
        self.statuses[str(response.status_code)] += 1
        self.exercised.add(f"{case.operation.method.upper()} {case.operation.path}")
        try:
            case.validate_response(response, checks=self.checks)
        except FailureGroup as group:
            for failure in group.exceptions:
                kind = ("server_errors" if isinstance(failure, ServerError)
                        else "undocumented_codes" if isinstance(failure, UndefinedStatusCode)
                        else "schema_violations")
                self.failures[kind] += 1
                self.note(case, f"{kind}: {response.status_code} {failure.title}")
        return response

    def note(self, case, what: str) -> None:
        if len(self.examples) < 20:
            self.examples.append(f"{case.method.upper()} {case.formatted_path}: {what}")


def sender(fuzzer: Fuzzer, role: str):
    def test(case):
        fuzzer.send(case, role)

    return test


def fuzz(schema, world, *, seconds: float) -> tuple[Fuzzer, int]:
    from hypothesis import HealthCheck, settings
    from schemathesis.pytest.lazy import get_all_tests

    from tests.security import fuzzing

    fuzzer = Fuzzer(world, fuzzing.CHECKS)
    explicit = settings(deadline=None, suppress_health_check=list(HealthCheck))
    plan = []
    for role, selected in [("manager", schema),
                           ("annotator", schema.include(path_regex=fuzzing.ANNOTATING))]:
        test = explicit(sender(fuzzer, role))
        cloned = selected.clone(test_function=test)
        for result in get_all_tests(schema=cloned, test_func=test, settings=explicit,
                                    given_kwargs={}):
            plan.append(result.ok())
    share = seconds / len(plan)
    for _operation, run in plan:
        fuzzer.stop_at = time.monotonic() + share
        try:
            run()
        except OutOfTime:
            pass
        except BaseExceptionGroup as group:
            if not group.subgroup(OutOfTime):
                raise
    return fuzzer, len(list(schema.get_all_operations()))


def main() -> None:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="rw-fuzz-"))
    env = environment(args, work)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tests.security.seeds import build_world

    world = build_world()
    from django.db import connection

    connection.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, port, args)
    try:
        wait_until_up(base, server)
        reference = healthz_rate(base, args.reference_seconds)
        import schemathesis

        from tests.security import fuzzing

        schema = schemathesis.openapi.from_url(
            f"{base}/api/schema/",
            config=fuzzing.config(max_examples=args.max_examples, seed=args.seed))
        start = time.perf_counter()
        fuzzer, operations = fuzz(schema, world, seconds=args.seconds)
        elapsed = time.perf_counter() - start
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    shutil.rmtree(work, ignore_errors=True)
    rate = fuzzer.requests / elapsed
    print(json.dumps({
        "benchmark": "fuzz",
        "operations": operations,
        "operations_exercised": len(fuzzer.exercised),
        "requests": fuzzer.requests,
        "server_errors": fuzzer.failures["server_errors"],
        "undocumented_codes": fuzzer.failures["undocumented_codes"],
        "schema_violations": fuzzer.failures["schema_violations"],
        "transport_errors": fuzzer.failures["transport"],
        "seconds": round(elapsed, 1),
        "requests_per_s": round(rate, 1),
        "healthz_requests_per_s": round(reference, 1),
        "ratio": round(rate / reference, 3),
        "statuses": dict(sorted(fuzzer.statuses.items())),
        "max_examples": args.max_examples,
        "database": "postgresql" if args.database_url else "sqlite",
        "gunicorn": f"{args.workers}x{args.threads}",
        "failures": fuzzer.examples,
    }))


if __name__ == "__main__":
    main()
