"""The item browser in Chromium: a reviewer opens it from the project page, reads the
counts, filters by status with the tabs and the form, searches prompts, opens an item and
reads its labels, and finds a skip reason in the Skipped view and on the item's page."""

from __future__ import annotations

import pytest

from annotation.models import Annotation
from annotation.quality import services as quality_services

from .conftest import SKIP_REASON

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("width", ["desktop", "mobile"])
def test_a_reviewer_browses_filters_searches_and_opens_an_item(
        live_server, new_page, log_in, shot, states, width):
    project = states.project
    page = new_page(PHONE, mobile=True) if width == "mobile" else new_page(WIDE)
    log_in(page, "rev")
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.click("text=Browse items")
    page.wait_for_selector("#items")
    counts = {page.locator(".status-tabs .tab").nth(i).get_attribute("data-status"):
              page.locator(".status-tabs .tab .count").nth(i).inner_text()
              for i in range(page.locator(".status-tabs .tab").count())}
    assert counts == {"": "5", "open": "2", "in_progress": "1", "complete": "1", "gold": "1",
                      "needs_review": "1", "skipped": "1"}
    assert page.locator("#items tbody tr").count() == 5
    shot(page, "list")

    # The Skipped view: who skipped and why.
    page.click(".status-tabs .tab[data-status=skipped]")
    page.wait_for_selector(".status-tabs .tab.current[data-status=skipped]")
    rows = page.locator("#items tbody tr")
    assert rows.count() == 1
    assert SKIP_REASON in rows.first.inner_text()
    shot(page, "skipped")

    # The status filter of the form, then a search, which keeps it.
    page.select_option("#id_status", "open")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert {r.get_attribute("data-item") for r in page.locator("#items tbody tr").all()} == {
        str(item.pk) for item in states.open}
    page.fill("#id_q", "prompt 3")
    with page.expect_navigation():
        page.press("#id_q", "Enter")
    assert page.locator("#items tbody tr").count() == 1
    assert "prompt 3" in page.inner_text("#items tbody tr")
    assert "1 prompt matches" in page.inner_text("#result-line")
    shot(page, "search")

    # Open the complete item from the list and read its labels, its review and its history.
    first = Annotation.objects.filter(item=states.complete).order_by("pk").first()
    quality_services.review_item(actor=states.users["reviewer"], item=states.complete,
                                 decision="exclude", annotation_id=first.pk,
                                 note="The rationale is not about the answers.")
    page.fill("#id_q", "")
    page.select_option("#id_status", "complete")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    page.click(f"#items a[href$='/items/{states.complete.pk}/']")
    page.wait_for_selector("#labels")
    labels = list(Annotation.objects.filter(item=states.complete).select_related("annotator"))
    assert page.locator("#labels article.label").count() == len(labels) == 2
    for label in labels:
        card = page.locator(f"#label-{label.pk}")
        assert card.locator(".username").inner_text() == label.annotator.username
        assert card.locator(".tiers-line > li").count() == len(label.ranking)
        if label.rationale:
            assert label.rationale in card.inner_text()
    assert "harmful" in page.inner_text(f"#label-{labels[0].pk}")
    assert "The rationale is not about the answers." in page.inner_text("#reviews")
    assert "review.exclude" in page.inner_text("#audit")
    shot(page, "item")
    page.locator("#audit").scroll_into_view_if_needed()
    shot(page, "item-bottom")

    # The skipped item's page names the reason too.
    page.goto(f"{live_server.url}/projects/{project.pk}/items/{states.in_progress.pk}/")
    assert SKIP_REASON in page.inner_text("#skips")
    page.locator("#skips").scroll_into_view_if_needed()
    shot(page, "item-skips")
