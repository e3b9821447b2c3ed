"""Shared fixtures. The database is whatever DATABASE_URL names (PostgreSQL in CI) or the
embedded SQLite default. Tests that need PostgreSQL, Redis or Chromium carry a marker and
are skipped, by name, where those are missing; CI sets RANKWISE_FAIL_ON_SKIP=1 so that a
skip there fails the run."""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import pytest
from django.conf import settings

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
HH_RLHF_PATH = SHARED_DATA / "hh-rlhf-harmless-base-test.jsonl.gz"
PASSWORD = "correct-horse-battery-staple"


def pytest_configure(config):
    # Real password hashing costs ~0.3 s a user on this hardware; tests make many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(config, items):
    from django.db import connection  # noqa: F401  (settings are loaded by now)

    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://...")
    skip_browser = pytest.mark.skip(reason="needs /usr/bin/chromium and playwright")
    has_browser = Path("/usr/bin/chromium").exists()
    try:
        import playwright  # noqa: F401
    except ImportError:
        has_browser = False
    for item in items:
        if "postgres" in item.keywords and not settings.IS_POSTGRES:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not settings.REDIS_URL:
            item.add_marker(skip_redis)
        if "browser" in item.keywords and not has_browser:
            item.add_marker(skip_browser)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("RANKWISE_FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0:
        names = ", ".join(rep.nodeid for rep in skipped[:20])
        reporter.write_line(f"RANKWISE_FAIL_ON_SKIP: {len(skipped)} skipped: {names}", red=True)
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _throttles_out_of_the_way(monkeypatch):
    """Per-user throttles count in the shared cache, across tests and runs; a test that is
    about throttling sets its own low rates (and clears its counters) after this."""
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES",
                        {scope: "1000000/min" for scope in ScopedRateThrottle.THROTTLE_RATES})


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, settings):
    """Artifacts and snapshots of one test go to its own folder."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.SNAPSHOTS_DIR = tmp_path / "snapshots"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from rankwise.celery import app

    app.conf.task_always_eager = True
    yield


def database_url_for_tests() -> str:
    """A DATABASE_URL naming the test database, for processes started by a test."""
    from django.db import connection

    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    host = conf.get("HOST") or "127.0.0.1"
    port = conf.get("PORT") or 5432
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf.get("PASSWORD") else "")
    return f"postgres://{auth}@{host}:{port}/{conf['NAME']}"


class WorkerProcess:
    """A real Celery worker in a subprocess, against the test database and REDIS_URL.

    While it runs, tasks are sent through the broker (not run eagerly). ``output`` holds what
    the worker printed once the block ends."""

    def __init__(self, *, name: str, data_dir: Path):
        self.name, self.data_dir, self.output = name, data_dir, ""

    def __enter__(self) -> WorkerProcess:
        import subprocess
        import sys

        from rankwise.celery import app

        root = Path(__file__).resolve().parent.parent
        env = {**os.environ, "DATABASE_URL": database_url_for_tests(),
               "REDIS_URL": settings.REDIS_URL, "RANKWISE_DATA_DIR": str(self.data_dir),
               "RANKWISE_PROFILE": "local", "PYTHONPATH": f"{root / 'platform'}:{root}",
               "CELERY_TASK_ALWAYS_EAGER": "0"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "rankwise", "worker", "-Q", "celery",
             "-c", "1", "--pool", "solo", "-n", f"{self.name}@%h", "--loglevel", "WARNING"],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        app.conf.task_always_eager = False
        return self

    def __exit__(self, *exc_info) -> None:
        import subprocess

        from rankwise.celery import app

        app.conf.task_always_eager = True
        self.process.terminate()
        try:
            self.output = self.process.communicate(timeout=20)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def celery_worker_process(tmp_path):
    """``with celery_worker_process("name") as worker: ...`` (needs the redis marker)."""

    def start(name: str, data_dir: Path | None = None) -> WorkerProcess:
        return WorkerProcess(name=name, data_dir=data_dir or tmp_path)

    return start


@pytest.fixture
def hh_rlhf_path() -> Path:
    if not HH_RLHF_PATH.exists():
        pytest.skip(f"shared data missing: {HH_RLHF_PATH}")
    return HH_RLHF_PATH


@pytest.fixture
def hh_rlhf_lines(hh_rlhf_path) -> list[dict]:
    with gzip.open(hh_rlhf_path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture
def make_user(db, django_user_model):
    def make(username: str, *, staff: bool = False, password: str = PASSWORD):
        return django_user_model.objects.create_user(
            username=username, password=password, is_staff=staff
        )

    return make


@pytest.fixture
def project_with_roles(db, make_user):
    """A K=2 project with one user per role plus an outsider and a staff user."""
    from annotation import services
    from annotation.models import Membership

    manager = make_user("manager")
    project = services.create_project(actor=manager, name="Helpfulness", responses_per_item=2,
                                      overlap=2)
    users = {"manager": manager}
    for role in (Membership.Role.REVIEWER, Membership.Role.ANNOTATOR):
        users[str(role)] = make_user(str(role))
        services.set_membership(actor=manager, project=project, user=users[str(role)], role=role)
    users["outsider"] = make_user("outsider")
    users["staff"] = make_user("staff", staff=True)
    return project, users


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def client_for(db):
    """An API client authenticated as the given user (None: anonymous)."""
    from rest_framework.test import APIClient

    def make(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return make


# --- Browser fixtures: one Chromium for the whole session, shared by every browser test ---
# (Playwright's sync API allows one running instance per thread.)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing")
    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from
    # a thread with a running loop unless told that this is deliberate.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"],
        )
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def new_page(browser, request):
    """A page in a fresh context (own cookies) at a given viewport. Console errors fail the
    test, and so does any 4xx/5xx answer the page receives, unless the test declared it
    with ``new_page.allow_http(status, url_part)`` (a test that provokes an error on purpose)."""
    contexts = []
    errors: list[str] = []
    allowed: list[tuple[int, str]] = []

    def on_response(response):
        if response.status < 400:
            return
        if any(response.status == status and part in response.url for status, part in allowed):
            return
        errors.append(f"HTTP {response.status} {response.request.method} {response.url}")

    def make(viewport=DESKTOP, *, mobile: bool = False):
        context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile,
                                      device_scale_factor=2 if mobile else 1)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and errors.append(f"console: {msg.text}"))
        page.on("response", on_response)
        return page

    make.allow_http = lambda status, url_part="": allowed.append((status, url_part))
    yield make
    for context in contexts:
        context.close()
    # The browser logs every 4xx/5xx as "Failed to load resource"; those are judged above,
    # by status and URL, so the console line itself says nothing more.
    assert not [e for e in errors if "Failed to load resource" not in e], errors


@pytest.fixture
def shot(request):
    """Saves a screenshot of what the viewport shows, named after the test and the step.
    (Full-page captures would paint the sticky ranking tray over the middle of the page.)"""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = re.sub(r"[^\w.-]+", "_", request.node.name)
    counter = {"n": 0}

    def take(page, step: str) -> Path:
        counter["n"] += 1
        path = ARTIFACTS / f"{prefix}-{counter['n']:02d}-{step}.png"
        page.screenshot(path=str(path))
        return path

    return take


@pytest.fixture
def log_in(live_server):
    """Logs a user in through the login form, as a person would."""
    def login(page, username: str, password: str = PASSWORD) -> None:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        with page.expect_navigation():
            page.click("form button[type=submit]")
        assert "/login/" not in page.url, f"login failed for {username}"

    return login
