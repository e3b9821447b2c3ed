"""The manager dashboard in Chromium against the real API: the figures and charts of a
labelled project, sorting the annotator table, pausing and resuming an annotator; and who
may open the page at all."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotation import services
from annotation.assignment.services import next_task, submit_annotation
from annotation.models import Annotation, Item, Membership, Project, Response
from tests.conftest import MOBILE

READY = "#dashboard[data-state=ready]"
SPEED = {"alice": 20_000, "bruno": 12_000, "carla": 2_500}
ANSWERS = (
    "hash them with bcrypt or argon2, salted.",
    "encrypt them with a key kept next to the database.",
    "store them as they are, the database is private.",
)


def _item(project: Project, n: int, *, gold: bool = False) -> tuple[Item, list[int]]:
    prompt = f"Question {n}: how should I store passwords in a web app?"
    # A gold item needs a ranking from the start; the real one names the responses below.
    item = Item.objects.create(
        project=project,
        prompt=prompt,
        is_gold=gold,
        gold_ranking=[] if gold else None,
        content_hash=hashlib.sha256(f"{project.pk}-{n}".encode()).hexdigest(),
    )
    # Best to worst from position n % 3 on, as alice ranks them (gold: from position 0).
    turn = 0 if gold else n % 3
    ids = [
        Response.objects.create(
            item=item, position=p, text=f"Answer {n}.{p}: " + ANSWERS[(p - turn) % 3]
        ).pk
        for p in range(3)
    ]
    return item, ids


def _ranking(name: str, index: int, by_position: list[int], shown: list[int]) -> list[list[int]]:
    """alice ranks the item's best answer (a different position from item to item) first;
    bruno agrees except on every third item, which he reverses; carla always prefers what
    was shown first."""
    if name == "carla":
        return [[rid] for rid in shown]
    turn = index % len(by_position)
    best_first = by_position[turn:] + by_position[:turn]
    if name == "bruno" and index % 3 == 1:
        best_first.reverse()
    return [[rid] for rid in best_first]


def labelled_project(make_user, *, n_items: int = 10) -> dict:
    """A K=3, overlap 3 project: a manager, a reviewer, three annotators who ranked every
    item through the assignment engine (some disagreeing, one biased towards the first
    response shown), one flagged label, a gold item, labels spread over three weeks."""
    manager = make_user("dash-manager")
    project = services.create_project(
        actor=manager, name="Password advice", responses_per_item=3, overlap=3
    )
    people = {"manager": manager, "reviewer": make_user("dash-reviewer")}
    services.set_membership(
        actor=manager, project=project, user=people["reviewer"], role=Membership.Role.REVIEWER
    )
    for name in SPEED:
        people[name] = make_user(name)
        services.set_membership(
            actor=manager, project=project, user=people[name], role=Membership.Role.ANNOTATOR
        )
    items = [_item(project, n) for n in range(n_items)]
    index_of = {item.pk: (n, ids) for n, (item, ids) in enumerate(items)}
    rng = random.Random(7)
    for name in SPEED:
        while (
            task := next_task(project_id=project.pk, annotator=people[name], rng=rng)
        ) is not None:
            n, ids = index_of[task.item.pk]
            shown = [r["id"] for r in task.responses]
            flags = ["factually_wrong"] if (name, n) == ("bruno", 4) else []
            submit_annotation(
                assignment_id=task.assignment.pk,
                annotator=people[name],
                ranking=_ranking(name, n, ids, shown),
                flags=flags,
                duration_ms=SPEED[name] + 100 * n,
            )
    gold, gold_ids = _item(project, n_items, gold=True)
    gold.gold_ranking = [[rid] for rid in gold_ids]
    gold.save(update_fields=["gold_ranking"])
    for name, ranking in (
        ("alice", gold.gold_ranking),
        ("bruno", gold.gold_ranking),
        ("carla", [[gold_ids[2]], [gold_ids[1]], [gold_ids[0]]]),
    ):
        Annotation.objects.create(
            project=project,
            item=gold,
            annotator=people[name],
            ranking=ranking,
            duration_ms=SPEED[name],
        )
    now = timezone.now()
    for n, (item, _ids) in enumerate(items):
        weeks_ago = 2 if n < 4 else 1 if n < 7 else 0
        if weeks_ago:
            Annotation.objects.filter(item=item).update(created_at=now - timedelta(weeks=weeks_ago))
    return {"project": project, "people": people, "items": items, "gold": gold}


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def column_of(page, key: str) -> list[str]:
    return page.eval_on_selector_all(
        f"#annotators tbody tr[data-annotator] [data-key='{key}']",
        "cells => cells.map(c => c.innerText.trim())",
    )


def usernames(page) -> list[str]:
    return [name.replace(" (you)", "") for name in column_of(page, "username")]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", ["desktop", "mobile"])
def test_the_dashboard_shows_the_figures_and_sorts_the_table(
    live_server, new_page, log_in, shot, make_user, width
):
    data = labelled_project(make_user)
    project = data["project"]
    page = new_page(MOBILE, mobile=True) if width == "mobile" else new_page()
    log_in(page, "dash-reviewer")
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.click(f"a[href='/projects/{project.pk}/dashboard/']")
    page.wait_for_selector(READY)
    shot(page, "top")

    assert page.inner_text("#items-done") == "10" and page.inner_text("#items-total") == "11"
    assert int(page.get_attribute("#items-bar", "aria-valuenow")) == 91
    assert page.locator("#hourly-chart svg .column").count() == 24
    tiles = {
        t.get_attribute("data-key"): t.inner_text() for t in page.locator("#headline .tile").all()
    }
    assert set(tiles) == {
        "alpha_nominal",
        "alpha_ordinal",
        "fleiss_kappa",
        "percent_agreement",
        "kendall_w",
    }
    alpha = (
        api_as(data["people"]["reviewer"]).get(f"/api/v1/projects/{project.pk}/agreement/").json()
    )
    assert f"{alpha['krippendorff_alpha']['nominal']:.2f}" in tiles["alpha_nominal"]
    assert "95% CI" in tiles["alpha_nominal"]

    # Three weeks of labels: a line through three points with its CI band.
    weekly = page.locator("#weekly-chart svg")
    assert weekly.locator(".series.alpha .point").count() == 3
    assert weekly.locator(".series.alpha .band").count() >= 1
    assert weekly.locator(".series.percent .point").count() == 3
    # κ for every pair of the three annotators, both ways round.
    assert page.locator("#kappa-chart svg .cell[data-value]").count() == 6
    assert "κ =" in page.locator("#kappa-chart svg .cell[data-value] title").first.text_content()
    # carla always took the response shown first: the only highlighted bar.
    bias = page.locator("#bias-chart svg .bar-row.highlight")
    assert bias.count() == 1 and bias.get_attribute("data-label") == "carla"
    assert float(bias.get_attribute("data-value")) == 1.0
    assert page.locator("#bias-chart svg .reference line").count() == 1
    gold = {
        row.get_attribute("data-label"): row.get_attribute("data-value")
        for row in page.locator("#gold-chart svg .bar-row").all()
    }
    assert float(gold["alice"]) == 1.0 and float(gold["carla"]) == 0.0
    assert page.inner_text("#review-count") != "0"
    assert page.get_attribute("#csv-link", "href") == (
        f"/api/v1/projects/{project.pk}/annotators/?format=csv"
    )

    # The table: every column, sorted by name to start with.
    headers = page.eval_on_selector_all(
        "#annotators thead th", "ths => ths.map(t => t.dataset.key)"
    )
    assert {
        "username",
        "status",
        "trust",
        "labels",
        "gold_accuracy",
        "agreement",
        "median_seconds",
        "speed_ratio",
        "first_wins",
        "bias_p",
        "tie_rate",
        "longest_run",
        "modal_share",
        "skips",
        "skip_rate",
        "flags",
        "reason",
    } <= set(headers)
    assert "actions" not in headers, "a reviewer may not pause anyone"
    assert usernames(page)[:3] == ["alice", "bruno", "carla"]
    page.locator("#annotators-title").scroll_into_view_if_needed()
    shot(page, "table")

    page.click("#annotators th[data-key=median_seconds] button")
    assert (
        page.get_attribute("#annotators th[data-key=median_seconds]", "aria-sort") == "descending"
    )
    assert usernames(page)[:3] == ["alice", "bruno", "carla"]
    page.click("#annotators th[data-key=median_seconds] button")
    assert page.get_attribute("#annotators th[data-key=median_seconds]", "aria-sort") == "ascending"
    assert usernames(page)[:3] == ["carla", "bruno", "alice"]
    assert page.get_attribute("#annotators th[data-key=username]", "aria-sort") == "none"
    page.click("#annotators th[data-key=username] button")
    page.click("#annotators th[data-key=username] button")
    assert page.get_attribute("#annotators th[data-key=username]", "aria-sort") == "descending"
    names = usernames(page)
    assert names == sorted(names, key=str.lower, reverse=True)
    page.click("#annotators th[data-key=first_wins] button")
    assert usernames(page)[0] == "carla"
    page.locator("#kappa-title").scroll_into_view_if_needed()
    shot(page, "charts")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", ["desktop", "mobile"])
def test_a_manager_pauses_and_resumes_an_annotator(
    live_server, new_page, log_in, shot, make_user, width
):
    data = labelled_project(make_user, n_items=4)
    project, bruno = data["project"], data["people"]["bruno"]
    membership = Membership.objects.get(project=project, user=bruno)
    page = new_page(MOBILE, mobile=True) if width == "mobile" else new_page()
    log_in(page, "dash-manager")
    page.goto(f"{live_server.url}/projects/{project.pk}/dashboard/")
    page.wait_for_selector(READY)
    row = page.locator(f"#annotators tr[data-annotator='{bruno.pk}']")
    assert row.locator("[data-key=status]").inner_text().strip() == "active"

    row.locator("button.pause").click()
    page.fill(f"#pause-reason-{membership.pk}", "Reverses every third ranking; retraining")
    row.locator("xpath=following-sibling::tr[1]").scroll_into_view_if_needed()
    shot(page, "pause-form")
    page.click(".pause-form button[type=submit]")
    page.wait_for_selector(f"#annotators tr.paused[data-annotator='{bruno.pk}']")
    status = row.locator("[data-key=status]").inner_text()
    assert "paused" in status and "Reverses every third ranking; retraining" in status
    assert "by dash-manager" in status
    shot(page, "paused")

    membership.refresh_from_db()
    assert membership.status == Membership.Status.PAUSED
    assert membership.paused_reason == "Reverses every third ranking; retraining"
    refused = api_as(bruno).get(f"/api/v1/projects/{project.pk}/next/")
    assert refused.status_code == 403
    assert refused.json()["code"] == "membership_paused"
    listed = api_as(data["people"]["reviewer"]).get(f"/api/v1/projects/{project.pk}/annotators/")
    assert {r["username"]: r["status"] for r in listed.json()["results"]}["bruno"] == "paused"

    row.locator("button.resume").click()
    page.wait_for_selector(f"#annotators tr:not(.paused)[data-annotator='{bruno.pk}'] button.pause")
    assert row.locator("[data-key=status]").inner_text().strip() == "active"
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE
    assert api_as(bruno).get(f"/api/v1/projects/{project.pk}/next/").status_code in (200, 204)
    shot(page, "resumed")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_new_project_shows_what_is_missing(live_server, new_page, log_in, shot, make_user):
    manager = make_user("new-manager")
    project = services.create_project(actor=manager, name="Fresh", responses_per_item=2)
    page = new_page(MOBILE, mobile=True)
    log_in(page, manager.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/dashboard/")
    page.wait_for_selector(READY)
    assert page.inner_text("#items-total") == "0"
    assert "No week has two labels" in page.inner_text("#weekly-chart")
    assert "No two annotators share" in page.inner_text("#kappa-chart")
    assert {t.inner_text().split("\n")[1] for t in page.locator("#headline .tile").all()} == {"–"}
    shot(page, "empty-dashboard")
    page.goto(f"{live_server.url}/projects/{project.pk}/review/")
    page.wait_for_selector("#review[data-state=queue]")
    assert page.locator("#queue-empty").is_visible()
    assert page.inner_text("#queue-count") == "0"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_annotators_are_refused_both_pages(live_server, new_page, log_in, make_user):
    data = labelled_project(make_user, n_items=2)
    project = data["project"]
    new_page.allow_http(403, f"/projects/{project.pk}/")
    page = new_page()
    log_in(page, "alice")
    for name in ("dashboard", "review"):
        answer = page.goto(f"{live_server.url}/projects/{project.pk}/{name}/")
        assert answer.status == 403, name
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    assert page.locator(f"a[href='/projects/{project.pk}/dashboard/']").count() == 0
    assert page.locator(f"a[href='/projects/{project.pk}/review/']").count() == 0


@pytest.mark.django_db
def test_who_may_open_the_pages(client, make_user):
    manager = make_user("pages-owner")
    project = services.create_project(actor=manager, name="Pages", responses_per_item=2)
    people = {role: make_user(f"pages-{role}") for role in Membership.Role.values}
    for role, user in people.items():
        services.set_membership(actor=manager, project=project, user=user, role=role)
    outsider = make_user("pages-outsider")
    for name in ("dashboard", "review"):
        url = f"/projects/{project.pk}/{name}/"
        client.logout()
        answer = client.get(url)
        assert answer.status_code == 302 and answer.url.startswith("/login/")
        client.force_login(outsider)
        assert client.get(url).status_code == 404
        assert client.get(f"/projects/999999/{name}/").status_code == 404
        client.force_login(people[Membership.Role.ANNOTATOR])
        assert client.get(url).status_code == 403
        for role in (Membership.Role.REVIEWER, Membership.Role.MANAGER):
            client.force_login(people[role])
            answer = client.get(url)
            assert answer.status_code == 200 and answer.cookies.get("csrftoken")
            assert '<script id="quality-config" type="application/json">' in answer.content.decode()
        client.force_login(make_user(f"pages-staff-{name}", staff=True))
        assert client.get(url).status_code == 200
    client.force_login(people[Membership.Role.REVIEWER])
    body = client.get(f"/projects/{project.pk}/").content.decode()
    assert f'href="/projects/{project.pk}/dashboard/"' in body
    assert f'href="/projects/{project.pk}/review/"' in body
