"""The item list: statuses and their counts, filters, search, pages, who may open it, and a
fixed number of queries per page."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from annotation.assignment import services as engine
from annotation.browse import selectors
from annotation.models import Annotation, Assignment
from annotation.quality import services as quality_services

from .conftest import SKIP_REASON, add_items, label, skip

pytestmark = pytest.mark.django_db


def url(states, **query) -> str:
    base = f"/projects/{states.project.pk}/items/"
    return f"{base}?{urlencode(query)}" if query else base


def get(client, user, path, status=200):
    client.force_login(user)
    answer = client.get(path)
    assert answer.status_code == status, answer.content[:500]
    return answer


def listed(answer) -> dict[int, str]:
    """item id → status, as the table shows them."""
    html = answer.content.decode()
    return {int(pk): status for pk, status in
            re.findall(r'<tr data-item="(\d+)" data-status="(\w+)">', html)}


def test_each_item_has_its_status_and_the_counts_add_up(client, states):
    answer = get(client, states.users["reviewer"], url(states))
    rows = listed(answer)
    assert rows == {states.complete.pk: "complete", states.in_progress.pk: "in_progress",
                    states.open[0].pk: "open", states.open[1].pk: "open",
                    states.gold.pk: "gold"}
    counts = answer.context["page"].total, {t["key"]: t["count"] for t in answer.context["tabs"]}
    assert counts == (5, {"": 5, "open": 2, "in_progress": 1, "complete": 1, "gold": 1,
                          "needs_review": 1, "skipped": 1})
    html = answer.content.decode()
    # The counts are links that filter.
    assert re.search(r'href="\?status=skipped"[^>]*>Skipped <span class="count">1</span>', html)
    assert "Search looks at prompt text only" in html


def test_an_expired_lease_is_not_in_progress(states):
    lease = Assignment.objects.get(item=states.in_progress, status="leased")
    later = lease.lease_expires_at + timedelta(seconds=1)
    counts = selectors.status_counts(project=states.project, in_review=0, now=later)
    assert (counts["open"], counts["in_progress"]) == (3, 0)
    page = selectors.browse_items(project=states.project, filters=selectors.Filters(),
                                  reasons={}, counts=counts, now=later)
    assert {row.id: row.status for row in page.rows}[states.in_progress.pk] == "open"


@pytest.mark.parametrize("status,expected", [
    ("open", "open"), ("in_progress", "in_progress"), ("complete", "complete"),
    ("gold", "gold"), ("needs_review", "complete"), ("skipped", "in_progress")])
def test_the_status_filter(client, states, status, expected):
    rows = listed(get(client, states.users["manager"], url(states, status=status)))
    want = {"open": {i.pk for i in states.open}, "in_progress": {states.in_progress.pk},
            "complete": {states.complete.pk}, "gold": {states.gold.pk},
            "needs_review": {states.complete.pk}, "skipped": {states.in_progress.pk}}[status]
    assert set(rows) == want
    assert set(rows.values()) == {expected}


def test_needs_review_is_the_review_queue_with_its_reasons(client, states):
    answer = get(client, states.users["reviewer"], url(states, status="needs_review"))
    (row,) = answer.context["page"].rows
    assert row.review_reasons == ["flagged"]
    assert 'title="flagged">Needs review</span>' in answer.content.decode()


def test_the_skipped_view_shows_who_skipped_and_why(client, states):
    skip(states.project, states.users["ann0"], reason="")  # a skip without a reason
    answer = get(client, states.users["manager"], url(states, status="skipped"))
    html = answer.content.decode()
    assert f"ann0: “{SKIP_REASON}”" in html
    assert "no reason given" in html
    rows = {row.id: row for row in answer.context["page"].rows}
    assert rows[states.in_progress.pk].n_skips == 1
    assert len(rows) == 2


def test_search_looks_at_prompts_only(client, states):
    rows = listed(get(client, states.users["reviewer"], url(states, q="PROMPT 3")))
    assert set(rows) == {states.open[1].pk}
    answer = get(client, states.users["reviewer"], url(states, q="answer 0"))
    assert listed(answer) == {}
    assert "No items match." in answer.content.decode()
    assert answer.context["page"].matches == 0


def test_search_combines_with_status_and_id_range(client, states):
    rows = listed(get(client, states.users["reviewer"], url(states, q="prompt", status="open")))
    assert set(rows) == {i.pk for i in states.open}
    ids = sorted([states.in_progress.pk, states.open[0].pk])
    rows = listed(get(client, states.users["reviewer"],
                      url(states, id_from=ids[0], id_to=ids[1])))
    assert set(rows) == set(range(ids[0], ids[1] + 1))


def test_bad_filter_values_are_named_and_left_out(client, states):
    answer = get(client, states.users["reviewer"], url(states, status="done", page="x",
                                                        id_from="-3"))
    html = answer.content.decode()
    for name in ("status:", "page:", "id_from:"):
        assert name in html
    assert len(listed(answer)) == 5


def test_pages_are_stable_and_cover_every_item_once(client, states):
    add_items(states.project, 118, start=10)
    seen, number = [], 1
    while True:
        answer = get(client, states.users["reviewer"], url(states, page=number))
        page = answer.context["page"]
        seen += [row.id for row in page.rows]
        assert page.n_pages == 3 and page.total == 123
        if not page.has_next:
            break
        assert f'href="?page={number + 1}"' in answer.content.decode()
        number += 1
    assert number == 3 and len(page.rows) == 23
    assert seen == sorted(seen) and len(set(seen)) == 123
    # A page past the end is empty, not an error; filters survive in the page links.
    assert listed(get(client, states.users["reviewer"], url(states, page=9))) == {}
    answer = get(client, states.users["reviewer"], url(states, q="prompt", status="open"))
    assert 'href="?q=prompt&amp;status=open&amp;page=2"' in answer.content.decode()
    assert "120 prompts match" in answer.content.decode()


@pytest.mark.parametrize("who", ["ann0", "outsider"])
def test_annotators_and_outsiders_get_404(client, states, who):
    get(client, states.users[who], url(states), status=404)
    get(client, states.users[who], url(states, status="gold"), status=404)


def test_reviewers_managers_and_staff_may_browse(client, states):
    for who in ("reviewer", "manager", "staff"):
        assert len(listed(get(client, states.users[who], url(states)))) == 5
    client.logout()
    answer = client.get(url(states))
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")


def test_the_project_page_links_the_browser_for_reviewers_only(client, states):
    link = f'href="/projects/{states.project.pk}/items/"'
    assert link in get(client, states.users["reviewer"],
                       f"/projects/{states.project.pk}/").content.decode()
    assert link not in get(client, states.users["ann0"],
                           f"/projects/{states.project.pk}/").content.decode()


def test_a_page_of_fifty_items_costs_a_fixed_number_of_queries(
        client, make_member, states, django_assert_max_num_queries):
    project, users = states.project, states.users
    add_items(project, 60, start=10)
    extra = [make_member(project, f"extra{i}", "annotator", users["manager"]) for i in range(3)]
    for user in extra:
        for _ in range(4):
            skip(project, user, reason=f"not for me, {user.username}")
        label(project, user, flags=["unsure"], rationale="hm")
    client.force_login(users["reviewer"])
    # 4 for the session, the user, the project and the role; 2 for the review queue's
    # fingerprint and, the first time, about 11 for the queue itself (a fixed number,
    # whatever the project's size); 3 or 4 for the counts, the page, the page's skips and a
    # search's count. None per row.
    for query in ({"status": "needs_review"}, {}, {"status": "skipped"}, {"status": "open"},
                  {"q": "prompt"}):
        with django_assert_max_num_queries(22):
            answer = client.get(url(states, **query))
        assert answer.status_code == 200
    assert len(answer.context["page"].rows) == 50


def test_needs_review_follows_new_labels_and_reviews(client, states):
    """The review queue is cached under a fingerprint of its inputs: a new flagged label
    and a reviewer's decision both show at once."""
    def needs_review():
        answer = get(client, states.users["reviewer"], url(states, status="needs_review"))
        return set(listed(answer))

    assert needs_review() == {states.complete.pk}
    # ann1 submits the item leased to it with a flag.
    lease = Assignment.objects.get(item=states.in_progress, status="leased")
    engine.submit_annotation(assignment_id=lease.pk, annotator=states.users["ann1"],
                             ranking=[[i] for i in lease.display_order], flags=["unsure"])
    assert needs_review() == {states.complete.pk, states.in_progress.pk}
    flagged = Annotation.objects.get(item=states.complete, flags=["harmful"])
    quality_services.review_item(actor=states.users["reviewer"], item=states.complete,
                                 decision="exclude", annotation_id=flagged.pk, note="")
    assert needs_review() == {states.in_progress.pk}
