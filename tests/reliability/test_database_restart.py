"""PostgreSQL restarting under the annotating loop: clean 503s, then the loop goes on, and
no acknowledged label is lost.

Real servers, all private to the test (see ``private_servers``): a PostgreSQL cluster and a
Redis on free ports, gunicorn serving the site against them, annotators driving next and
submit over HTTP. Half-way through, PostgreSQL is stopped (``pg_ctl stop -m fast``
terminates the open connections), kept down until the loop has seen several refusals, and
started again.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter

import pytest
import requests

from tests.reliability.private_servers import (
    Site,
    missing_servers,
    private_stack,
    token,
    wait_until,
)

ANNOTATORS = 2
RETRY_PAUSE_S = 0.2  # shorter than Retry-After, so that the outage is seen many times
LOOP_LIMIT_S = 45


@pytest.fixture
def stack(tmp_path):
    """(postgres, site, seeded world) with gunicorn up; every server removed afterwards."""
    if why := missing_servers():
        pytest.skip(why)
    with private_stack(tmp_path / "site", annotators=ANNOTATORS, items=400) as (
            postgres, _redis, site, world):
        yield postgres, site, world


class Tally:
    """What every request of the loop got, shared by the annotator threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.bad: list[str] = []  # answers that break the guarantee
        self.acknowledged: dict[int, int] = {}  # annotation id -> assignment id
        self.acknowledged_at: list[float] = []

    def record(self, what: str, answer: requests.Response) -> None:
        with self.lock:
            self.statuses[(what, answer.status_code)] += 1
            if answer.status_code == 503:
                problem = unavailable_problem(answer)
                if problem:
                    self.bad.append(f"{what} 503: {problem}")
            elif answer.status_code >= 500:
                self.bad.append(f"{what} {answer.status_code}: {answer.text[:300]}")

    def count(self, status: int) -> int:
        with self.lock:
            return sum(n for (_what, code), n in self.statuses.items() if code == status)

    def acknowledge(self, annotation: int, assignment: int) -> None:
        with self.lock:
            self.acknowledged[annotation] = assignment
            self.acknowledged_at.append(time.monotonic())

    def acknowledged_since(self, moment: float) -> int:
        with self.lock:
            return sum(1 for at in self.acknowledged_at if at >= moment)


def unavailable_problem(answer: requests.Response) -> str | None:
    """What is wrong with a 503 (None: the API's JSON error body with Retry-After)."""
    retry_after = answer.headers.get("Retry-After", "")
    if not retry_after.isdigit() or int(retry_after) < 1:
        return f"Retry-After is {retry_after!r}"
    if not answer.headers.get("Content-Type", "").startswith("application/json"):
        return f"Content-Type is {answer.headers.get('Content-Type')!r}"
    body = answer.json()
    if not (isinstance(body.get("detail"), str) and isinstance(body.get("errors"), list)):
        return f"body is {body!r}"
    return None


def annotate(site: Site, project: int, key: str, tally: Tally, stop: threading.Event) -> None:
    """next + submit until told to stop; a 503 is retried (a submit with its Idempotency-Key)
    until it is answered."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {key}"
    deadline = time.monotonic() + LOOP_LIMIT_S

    def call(what: str, method: str, url: str, **kwargs) -> requests.Response:
        while True:
            answer = session.request(method, f"{site.base}{url}", timeout=15, **kwargs)
            tally.record(what, answer)
            if answer.status_code != 503 or time.monotonic() > deadline:
                return answer
            time.sleep(RETRY_PAUSE_S)

    try:
        while not stop.is_set() and time.monotonic() < deadline:
            task = call("next", "GET", f"/api/v1/projects/{project}/next/")
            if task.status_code != 200:
                tally.bad.append(f"next answered {task.status_code}: {task.text[:300]}")
                return
            body = task.json()
            ranking = [[response["id"]] for response in body["item"]["responses"]]
            submitted = call("submit", "POST", body["submit_url"], json={"ranking": ranking},
                             headers={"Idempotency-Key": str(uuid.uuid4())})
            if submitted.status_code not in (200, 201):
                tally.bad.append(f"submit answered {submitted.status_code}: "
                                 f"{submitted.text[:300]}")
                return
            done = submitted.json()
            tally.acknowledge(done["annotation"], done["assignment"])
    except Exception as exc:  # a dropped connection or a timeout also breaks the guarantee
        tally.bad.append(f"{type(exc).__name__}: {exc}")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_postgres_restart_mid_loop_answers_503_and_keeps_every_acknowledged_label(stack):
    postgres, site, world = stack
    project = world["project"]
    keys = [token(site, name) for name in world["annotators"]]
    tally, stop = Tally(), threading.Event()
    threads = [threading.Thread(target=annotate, args=(site, project, key, tally, stop),
                                daemon=True) for key in keys]
    page = None
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: len(tally.acknowledged) >= 10 or tally.bad, timeout=20,
                   what="labels before the restart")
        assert not tally.bad, tally.bad

        postgres.stop("fast")
        wait_until(lambda: tally.count(503) >= 6 or tally.bad, timeout=15,
                   what="503s while PostgreSQL is down")
        # A page (not the API) during the outage: a session cookie makes it ask the database.
        page = requests.get(f"{site.base}/", cookies={"sessionid": "a" * 32}, timeout=15,
                            allow_redirects=False)
        postgres.start()
        restarted_at = time.monotonic()

        wait_until(lambda: tally.acknowledged_since(restarted_at) >= 10 or tally.bad,
                   timeout=20, what="labels after the restart")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    print(f"\nstatuses: {dict(tally.statuses)}; acknowledged: {len(tally.acknowledged)}")
    assert not tally.bad, tally.bad
    assert not [key for key in tally.statuses if key[1] >= 500 and key[1] != 503], tally.statuses
    assert tally.count(503) >= 6
    assert page.status_code == 503 and page.headers.get("Retry-After", "").isdigit(), \
        (page.status_code, page.headers)
    assert tally.acknowledged_since(restarted_at) >= 10

    stored = dict(postgres.query(
        "rankwise", "SELECT id, assignment_id FROM annotation_annotation WHERE id = ANY(%s)",
        (list(tally.acknowledged),)))
    assert stored == tally.acknowledged, "acknowledged labels missing after the restart"
    total = postgres.query("rankwise", "SELECT count(*) FROM annotation_annotation")[0][0]
    # Nothing was stored that its annotator was not told about (each submit was retried
    # until answered), and nothing twice.
    assert total == len(tally.acknowledged)
    assert "Internal Server Error" not in site.log("web.log"), site.log("web.log")
    print(f"503s: {tally.count(503)}; labels acknowledged: {len(tally.acknowledged)}, "
          f"present: {len(stored)}, of them after the restart: "
          f"{tally.acknowledged_since(restarted_at)}")


def _driver_error(django_class, driver_exc):
    """A Django database error wrapping ``driver_exc``, as Django's wrapper raises them."""
    try:
        raise django_class(str(driver_exc)) from driver_exc
    except django_class as exc:
        return exc


def test_which_database_errors_mean_unavailable():
    import sqlite3

    import psycopg
    from django.db import IntegrityError, InterfaceError, OperationalError, ProgrammingError

    from rankwise.middleware import is_database_unavailable

    refused = psycopg.OperationalError("connection failed: Connection refused")
    assert is_database_unavailable(_driver_error(OperationalError, refused))
    shutdown = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    assert is_database_unavailable(_driver_error(OperationalError, shutdown))
    starting = psycopg.errors.CannotConnectNow("the database system is starting up")
    assert is_database_unavailable(_driver_error(OperationalError, starting))
    assert is_database_unavailable(InterfaceError("connection already closed"))
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5
    assert is_database_unavailable(_driver_error(OperationalError, locked))

    canceled = psycopg.errors.QueryCanceled("canceling statement due to statement timeout")
    assert not is_database_unavailable(_driver_error(OperationalError, canceled))
    no_table = sqlite3.OperationalError("no such table: x")
    no_table.sqlite_errorcode = 1
    assert not is_database_unavailable(_driver_error(OperationalError, no_table))
    assert not is_database_unavailable(IntegrityError("duplicate key"))
    assert not is_database_unavailable(ProgrammingError("syntax error"))
    assert not is_database_unavailable(ValueError("not a database error"))


@pytest.mark.parametrize("path", ["/api/v1/projects/", "/projects/"])
def test_a_database_fault_outside_any_view_is_a_503_too(path):
    """A layer below the view (a middleware saving the session, say) fails: Django's own
    500 becomes the same 503."""
    from django.core.handlers.exception import convert_exception_to_response
    from django.db import OperationalError
    from django.test import RequestFactory

    from rankwise.middleware import DatabaseUnavailableMiddleware

    def inner_layer(request):
        raise OperationalError("server closed the connection unexpectedly")

    site = DatabaseUnavailableMiddleware(convert_exception_to_response(inner_layer))
    response = site(RequestFactory().get(path))
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    if path.startswith("/api/"):
        assert response["Content-Type"].startswith("application/json")
        body = json.loads(response.content)
        assert body["code"] == "database_unavailable" and body["errors"] == []
