"""What a user notices around the pages: the styled error pages, the login warning and the
lockout page, the site icon, the sticky ranking tray leaving the card buttons visible, and a
session that ends mid-task without losing the ranking."""

from __future__ import annotations

import pytest

from annotation.models import Annotation
from tests.browser.test_annotate import TASK, make_project
from tests.conftest import MOBILE, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1366, "height": 900}
VIEWPORTS = [pytest.param(WIDE, False, id="desktop"), pytest.param(MOBILE, True, id="phone")]


@pytest.mark.parametrize(("viewport", "mobile"), VIEWPORTS)
def test_the_404_page_has_the_sites_navigation(new_page, log_in, live_server, make_user, shot,
                                              viewport, mobile):
    make_user("alice")
    page = new_page(viewport, mobile=mobile)
    log_in(page, "alice")
    new_page.allow_http(404, "/no/such/page/")
    answer = page.goto(f"{live_server.url}/no/such/page/")
    assert answer.status == 404
    assert page.inner_text("h1") == "Page not found"
    assert page.locator(".topbar nav a", has_text="My projects").is_visible()
    shot(page, "404")
    with page.expect_navigation():
        page.click("#error-page a.button")
    assert page.url == f"{live_server.url}/"


@pytest.mark.parametrize(("viewport", "mobile"), VIEWPORTS)
def test_login_warns_before_the_last_attempt_then_shows_the_lockout(
        new_page, live_server, make_user, shot, settings, viewport, mobile):
    make_user("alice")
    page = new_page(viewport, mobile=mobile)
    new_page.allow_http(429, "/login/")
    page.goto(f"{live_server.url}/login/")
    for attempt in range(1, settings.AXES_FAILURE_LIMIT):
        if attempt == 1:
            page.fill("#id_username", "alice")
        assert page.input_value("#id_username") == "alice", "the username is kept"
        page.fill("#id_password", "wrong")
        with page.expect_navigation():
            page.click("form button[type=submit]")
    assert page.inner_text("#attempts-warning") == "1 attempt left before a 15-minute lock."
    assert page.input_value("#id_username") == "alice"
    shot(page, "warning")
    page.fill("#id_password", "wrong")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.inner_text("h1") == "Too many failed logins"
    assert page.inner_text("#lock-duration") == "15 minutes"
    assert page.locator(".topbar .brand").is_visible()
    shot(page, "lockout")


def test_the_favicon_loads_without_a_console_error(new_page, live_server, make_user):
    page = new_page(WIDE)
    page.goto(f"{live_server.url}/login/")
    assert page.evaluate("document.querySelector('link[rel=icon]').getAttribute('type')") == "image/svg+xml"
    icon = page.request.get(f"{live_server.url}/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"
    linked = page.evaluate("document.querySelector('link[rel=icon]').href")
    assert page.request.get(linked).status == 200


LONG = "\n\n".join(f"Paragraph {p}: " + "a long explanation of the answer, " * 12 for p in range(6))


def ranking_page(new_page, log_in, live_server, make_user, *, viewport=WIDE, mobile=False):
    project, _manager, annotator, items = make_project(make_user, k=4, n_items=2, guideline=None,
                                                       name="polish")
    for item in items:
        for response in item.responses.all():
            response.text = f"{response.text}\n\n{LONG}"
            response.save()
    page = new_page(viewport, mobile=mobile)
    log_in(page, annotator.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    page.wait_for_selector(TASK)
    return page, project, annotator


def assert_buttons_clear_of_the_tray(page):
    buttons = page.locator(".response-card .response-actions > button:visible")
    assert buttons.count() >= 4
    for index in range(buttons.count()):
        button = buttons.nth(index)
        page.evaluate("window.scrollTo(0, 0)")
        button.focus()  # as Tab would: the browser scrolls the focused button into view
        box, tray = button.bounding_box(), page.locator(".tray").bounding_box()
        assert box["y"] + box["height"] <= tray["y"], f"button {index} is under the tray (focus)"
        assert box["y"] >= 0
        page.evaluate("window.scrollTo(0, 0)")
        button.evaluate("b => b.scrollIntoView({ block: 'nearest' })")
        box, tray = button.bounding_box(), page.locator(".tray").bounding_box()
        assert box["y"] + box["height"] <= tray["y"], f"button {index} is under the tray (scroll)"


@pytest.mark.parametrize(("viewport", "mobile"), VIEWPORTS)
def test_the_sticky_tray_does_not_cover_the_card_buttons(new_page, log_in, live_server, make_user,
                                                        shot, viewport, mobile):
    page, _project, _annotator = ranking_page(new_page, log_in, live_server, make_user,
                                              viewport=viewport, mobile=mobile)
    assert page.locator(".response-card").count() == 4
    assert_buttons_clear_of_the_tray(page)
    # Two ranked: the cards now show "Tie with" and "Unrank" as well.
    for n in (1, 3):
        page.click(f".response-card[data-num='{n}'] button[data-action=next]")
    assert_buttons_clear_of_the_tray(page)
    shot(page, "tray")
    # A click lands on the button, not on the tray over it.
    last = page.locator(".response-card[data-num='4'] button[data-action=next]")
    last.evaluate("b => b.scrollIntoView({ block: 'nearest' })")
    last.click(trial=True)


def test_a_session_lost_mid_task_keeps_the_ranking_across_the_login(new_page, log_in, live_server,
                                                                   make_user, shot):
    page, project, annotator = ranking_page(new_page, log_in, live_server, make_user)
    new_page.allow_http(401, "/api/v1/")
    item = page.get_attribute("#annotator", "data-item")
    cards = page.locator(".response-card")
    order = [cards.nth(i).get_attribute("data-response-id") for i in (2, 0, 3, 1)]
    for response_id in order:
        page.click(f".response-card[data-response-id='{response_id}'] button[data-action=next]")
    context = page.context
    kept = [c for c in context.cookies() if c["name"] != "sessionid"]
    context.clear_cookies()
    context.add_cookies(kept)

    page.click("#submit")
    page.wait_for_selector("#session-lost")
    assert "Your ranking is kept" in page.inner_text("#session-lost")
    shot(page, "session-lost")
    assert not Annotation.objects.filter(item__project=project, annotator=annotator).exists()
    with page.expect_navigation():
        page.click("#log-in-again")
    assert "/login/" in page.url
    page.fill("#id_username", annotator.username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.url.endswith(f"/projects/{project.pk}/annotate/")
    page.wait_for_selector(TASK)
    assert page.get_attribute("#annotator", "data-item") == item
    assert "your ranking so far is back" in page.inner_text("#notice")
    chips = page.locator("#tiers .chip")
    assert [chips.nth(i).get_attribute("data-drag") for i in range(chips.count())] == order
    shot(page, "restored")
    page.click("#submit")
    page.wait_for_function(f"document.getElementById('annotator').dataset.item !== '{item}'")
    label = Annotation.objects.get(item_id=int(item), annotator=annotator)
    assert [tier for tier in label.ranking] == [[int(r)] for r in order]
