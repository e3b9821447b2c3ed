"""Chromium through Playwright against a live server. Debian's /usr/bin/chromium is used as
it is (no browser downloads); tests here are skipped where it is missing."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
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
    """A page in a fresh context (own cookies) at a given viewport; console errors fail the test."""
    contexts = []
    errors: list[str] = []

    def make(viewport=DESKTOP, *, mobile: bool = False):
        context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile,
                                      device_scale_factor=2 if mobile else 1)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and errors.append(f"console: {msg.text}"))
        return page

    yield make
    for context in contexts:
        context.close()
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
    from tests.conftest import PASSWORD

    def login(page, username: str, password: str = PASSWORD) -> None:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        with page.expect_navigation():
            page.click("form button[type=submit]")
        assert "/login/" not in page.url, f"login failed for {username}"

    return login
