"""The review page in Chromium against the real API: a reviewer picks a queued item, reads
every label, accepts one annotator's ranking, enters their own with the ranking widget,
promotes an item to gold and excludes a label; the API then tells the same story."""

from __future__ import annotations

import json

import pytest

from annotation.models import Annotation, Item
from tests.browser.test_annotate import drag
from tests.browser.test_dashboard import api_as, labelled_project
from tests.conftest import MOBILE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ITEM = "#review[data-state=item]"


def open_review(page, live_server, project, *, item: int | None = None) -> None:
    query = f"?item={item}" if item else ""
    page.goto(f"{live_server.url}/projects/{project.pk}/review/{query}")
    page.wait_for_selector(ITEM if item else "#review[data-state=queue]")


def decided(page, n: int) -> None:
    page.wait_for_selector(f"#review[data-decided='{n}']")


@pytest.mark.parametrize("width", ["desktop", "mobile"])
def test_a_reviewer_accepts_an_annotators_ranking(
    live_server, new_page, log_in, shot, make_user, width
):
    data = labelled_project(make_user)
    project, people = data["project"], data["people"]
    reviewer = api_as(people["reviewer"])
    queue = reviewer.get(f"/api/v1/projects/{project.pk}/review-queue/").json()
    assert queue["count"] >= 1
    page = new_page(MOBILE, mobile=True) if width == "mobile" else new_page()
    log_in(page, "dash-reviewer")
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.click(f"a[href='/projects/{project.pk}/review/']")
    page.wait_for_selector("#review[data-state=queue]")
    assert page.inner_text("#queue-count") == str(queue["count"])
    first = page.locator("#queue li").first
    item_id = int(first.get_attribute("data-item"))
    assert item_id == queue["results"][0]["item"]
    for reason in queue["results"][0]["reasons"]:
        assert first.locator(f".badge.reason.{reason}").count() == 1
    shot(page, "queue")

    first.locator("button").click()
    page.wait_for_selector(f"{ITEM}[data-item='{item_id}']")
    assert page.locator("#queue button[aria-current=true]").count() == 1
    assert page.url.endswith(f"?item={item_id}")
    shot(page, "item")
    labels = {
        label.annotator.username: label for label in Annotation.objects.filter(item_id=item_id)
    }
    assert page.locator("#labels .label-card").count() == len(labels) == 3
    for name, label in labels.items():
        card = page.locator(f".label-card[data-label='{label.pk}']")
        assert card.locator(".label-author").inner_text() == name
        assert card.locator(".mini-tier").count() == len(label.ranking)
        for flag in label.flags:
            assert flag.replace("_", " ") in card.inner_text()
    assert page.locator("#pool .response-card").count() == 3

    # Another method: the page asks the API for it.
    with page.expect_response(lambda r: f"/items/{item_id}/?consensus=bradley_terry" in r.url):
        page.select_option("#method", "bradley_terry")
    page.wait_for_function(
        "() => document.querySelector('#consensus').innerText.includes('Bradley')"
    )
    page.select_option("#method", "majority")
    page.wait_for_function(
        "() => document.querySelector('#consensus').innerText.includes('Majority')"
    )

    alice = labels["alice"]
    page.fill("#note", "alice follows the guideline here")
    page.locator(f".label-card[data-label='{alice.pk}'] button.accept").click()
    decided(page, 1)
    page.wait_for_selector("#consensus[data-source=review]")
    assert "accepted alice's ranking" in page.inner_text("#notice")
    assert json.loads(page.get_attribute("#consensus", "data-ranking")) == alice.ranking
    assert "alice follows the guideline here" in page.inner_text("#reviews")
    assert page.locator(f"#queue li[data-item='{item_id}']").count() == 0
    assert page.inner_text("#queue-count") == str(queue["count"] - 1)
    shot(page, "accepted")

    body = reviewer.get(f"/api/v1/items/{item_id}/").json()
    assert body["consensus"]["ranking"] == alice.ranking
    assert body["consensus"]["source"] == "review"
    assert body["reviews"][-1]["decision"] == "accept"
    assert body["reviews"][-1]["annotation"] == alice.pk


def test_a_reviewer_enters_their_own_ranking_and_promotes_it_to_gold(
    live_server, new_page, log_in, shot, make_user
):
    data = labelled_project(make_user)
    project, people = data["project"], data["people"]
    item, ids = data["items"][1]  # bruno reversed this one
    page = new_page()
    log_in(page, "dash-manager")
    open_review(page, live_server, project, item=item.pk)
    assert page.locator("#editor").is_hidden()
    assert page.locator("#pool .response-actions").first.is_hidden()

    page.click("#rank-own")
    assert page.locator("#editor").is_visible()
    # The ranking page's widget: a drag for 1st place, then keys for the rest.
    drag(page, ".response-card[data-num='2'] .response-head", ".next-slot")
    page.keyboard.press("3")
    assert page.inner_text("#submit") == "Use my ranking (1 left)"
    page.keyboard.press("1")
    assert page.inner_text(".response-card[data-num='2'] .rank-badge") == "1st"
    shot(page, "own-ranking")
    mine = [[ids[1]], [ids[2]], [ids[0]]]
    page.click("#submit")
    decided(page, 1)
    page.wait_for_selector("#consensus[data-source=review]")
    assert json.loads(page.get_attribute("#consensus", "data-ranking")) == mine
    assert page.locator("#editor").is_hidden()
    manager = api_as(people["manager"])
    body = manager.get(f"/api/v1/items/{item.pk}/").json()
    assert body["consensus"] == {**body["consensus"], "ranking": mine, "source": "review"}
    assert body["reviews"][-1]["decision"] == "rank"

    # The consensus (now the reviewer's ranking) becomes the gold answer.
    options = page.eval_on_selector_all("#gold-source option", "os => os.map(o => o.value)")
    assert options[0] == "consensus"
    page.select_option("#gold-source", "consensus")
    page.click("#promote")
    decided(page, 2)
    page.wait_for_selector("#item-badges .badge.gold")
    item.refresh_from_db()
    assert item.is_gold and item.gold_ranking == mine
    assert "Gold answer" in page.inner_text("#gold-line")
    shot(page, "gold")


def test_a_reviewer_excludes_a_label(live_server, new_page, log_in, shot, make_user):
    data = labelled_project(make_user, n_items=4)
    project, people = data["project"], data["people"]
    item, _ids = data["items"][2]
    carla = Annotation.objects.get(item=item, annotator=people["carla"])
    page = new_page(MOBILE, mobile=True)
    log_in(page, "dash-reviewer")
    open_review(page, live_server, project, item=item.pk)
    card = page.locator(f".label-card[data-label='{carla.pk}']")
    card.locator("button.exclude").click()
    decided(page, 1)
    page.wait_for_selector(f".label-card.excluded[data-label='{carla.pk}']")
    assert card.locator("button.accept").is_disabled()
    assert "excluded carla's label" in page.inner_text("#notice")
    card.scroll_into_view_if_needed()
    shot(page, "excluded")
    carla.refresh_from_db()
    assert carla.excluded
    labels = api_as(people["reviewer"]).get(f"/api/v1/items/{item.pk}/").json()["labels"]
    assert {label["id"]: label["excluded"] for label in labels}[carla.pk] is True
    # Gold can be promoted only from rankings that still count.
    options = page.eval_on_selector_all("#gold-source option", "os => os.map(o => o.value)")
    assert f"label-{carla.pk}" not in options
    assert Item.objects.get(pk=item.pk).is_gold is False
