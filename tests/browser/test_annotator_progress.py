"""Progress from the server, flags on one response, and "Your labels" with a revision,
driven in Chromium against the real API."""

from __future__ import annotations

import pytest

from annotation.models import Annotation, Item
from tests.browser.test_annotate import TASK, make_project, shown_ids, wait_for_next_task
from tests.conftest import MOBILE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1366, "height": 900}
PROGRESS = "document.querySelector('#progress').textContent.includes({!r})"


def wait_for_progress(page, text: str) -> None:
    page.wait_for_function(PROGRESS.format(text))


def open_annotate(page, live_server, project) -> None:
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    page.wait_for_selector(TASK)


def flag(page, num: int, value: str) -> None:
    page.click(f".response-card[data-num='{num}'] .response-flag summary")
    page.check(f".response-card[data-num='{num}'] .response-flag input[value={value}]")


def test_two_tabs_agree_flags_per_response_and_a_revision(live_server, new_page, log_in, shot,
                                                          make_user):
    project, _manager, annotator, _items = make_project(
        make_user, k=3, n_items=3, guideline=None, name="Progress")
    first = new_page(WIDE)
    log_in(first, annotator.username)
    open_annotate(first, live_server, project)
    wait_for_progress(first, "0 of 3 labels · your labels: 0")
    second = new_page()
    log_in(second, annotator.username)
    open_annotate(second, live_server, project)
    wait_for_progress(second, "your labels: 0")

    # A response flagged from its card; the number keys still rank while a flag has focus.
    ids = shown_ids(first)
    flag(first, 2, "harmful")
    assert first.inner_text(".response-card[data-num='2'] .response-flag summary") == "Flagged (1)"
    assert first.get_attribute(".response-card[data-num='2'] .response-flag summary",
                               "aria-label").startswith("Response 2 flagged")
    for key in "213":
        first.keyboard.press(key)
    assert first.inner_text("#submit") == "Submit"
    shot(first, "flagged-response")
    assignment = int(first.get_attribute("#annotator", "data-assignment"))
    first.click("#submit")
    wait_for_next_task(first, assignment)
    wait_for_progress(first, "1 of 3 labels · your labels: 1")
    label = Annotation.objects.get(assignment_id=assignment)
    assert label.response_flags == {str(ids[2]): ["harmful"]}
    assert label.ranking == [[ids[2]], [ids[1]], [ids[3]]]

    # The other tab catches up when it is looked at again.
    assert "your labels: 0" in second.inner_text("#progress")
    second.bring_to_front()
    second.evaluate("window.dispatchEvent(new Event('focus'))")
    wait_for_progress(second, "1 of 3 labels · your labels: 1")

    # History: the label, then a revision from the ranking page.
    first.click("#my-labels-link")
    first.wait_for_selector(".label-entry")
    entry = first.locator(f".label-entry[data-label='{label.pk}']")
    assert "Response 2 › Response 1 › Response 3" in entry.inner_text()
    assert "response 2: harmful" in entry.inner_text()
    shot(first, "history")
    entry.get_by_role("link", name="Change your label").click()
    first.wait_for_selector(TASK)
    assert "You are changing your label" in first.inner_text("#notice")
    assert first.inner_text("#submit") == "Submit"
    assert first.is_hidden("#skip")
    assert first.inner_text(".response-card[data-num='2'] .response-flag summary") == "Flagged (1)"
    first.click(".tier[data-index='0'] .chip-remove")
    first.keyboard.press("2")
    done_before = Item.objects.get(pk=label.item_id).annotations_done
    first.click("#submit")
    first.wait_for_url(f"**/projects/{project.pk}/my-labels/?revised=*")
    first.wait_for_selector(".label-entry.is-superseded")
    revised = Annotation.objects.get(supersedes=label)
    assert revised.ranking == [[ids[1]], [ids[3]], [ids[2]]]
    assert revised.response_flags == {str(ids[2]): ["harmful"]}
    assert Annotation.objects.get(pk=label.pk).superseded
    assert Item.objects.get(pk=label.item_id).annotations_done == done_before
    assert "The new version is the one that counts" in first.inner_text("#labels-notice")
    shot(first, "history-after-revision")


def test_screens_at_phone_size(live_server, new_page, log_in, shot, make_user):
    project, _manager, annotator, _items = make_project(
        make_user, k=3, n_items=2, guideline=None, name="Phone")
    page = new_page(MOBILE, mobile=True)
    log_in(page, annotator.username)
    open_annotate(page, live_server, project)
    wait_for_progress(page, "0 of 2 labels")
    flag(page, 1, "refusal")
    page.locator(".response-card[data-num='1'] .response-flag").scroll_into_view_if_needed()
    shot(page, "flagged-response-mobile")
    for key in "123":
        page.keyboard.press(key)
    assignment = int(page.get_attribute("#annotator", "data-assignment"))
    page.click("#submit")
    wait_for_next_task(page, assignment)
    page.goto(f"{live_server.url}/projects/{project.pk}/my-labels/")
    page.wait_for_selector(".label-entry")
    shot(page, "history-mobile")
