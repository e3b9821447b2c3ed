"""Leases: expiry, lazy and periodic reclaim, re-leasing, late submissions."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from annotation.assignment import services
from annotation.assignment.celery_tasks import reclaim_expired_leases
from annotation.models import Annotation, Assignment, Item

from .conftest import add_items, ranking_for


def _expire(*assignment_ids: int) -> None:
    Assignment.objects.filter(pk__in=assignment_ids).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


def _next(client, project):
    return client.get(f"/api/v1/projects/{project.pk}/next/")


def test_lease_lasts_lease_seconds(make_project, make_annotators, client_for):
    project = make_project(lease_seconds=90)
    add_items(project, 1)
    (user,) = make_annotators(project, 1)
    before = timezone.now()
    task = _next(client_for(user), project).json()
    assignment = Assignment.objects.get(pk=task["assignment"])
    assert timedelta(seconds=89) < assignment.lease_expires_at - before < timedelta(seconds=91)
    assert task["lease_expires_at"].endswith("Z")


def test_expired_lease_is_reclaimed_lazily_by_the_next_claim(make_project, make_annotators,
                                                             client_for):
    project = make_project(overlap=1)
    (item,) = add_items(project, 1)
    alice, bob = make_annotators(project, 2)
    task = _next(client_for(alice), project).json()
    assert _next(client_for(bob), project).status_code == 204
    _expire(task["assignment"])
    other = _next(client_for(bob), project)
    assert other.status_code == 200
    assert other.json()["item"]["id"] == item.pk
    assert Assignment.objects.get(pk=task["assignment"]).status == "expired"
    item.refresh_from_db()
    assert item.leases_live == 1  # Bob's, Alice's was given back


def test_the_periodic_task_reclaims_expired_leases(make_project, make_annotators, client_for):
    project = make_project(overlap=2)
    items = add_items(project, 3)
    users = make_annotators(project, 3)
    tasks = [_next(client_for(u), project).json() for u in users]
    assert Item.objects.get(pk=items[0].pk).leases_live == 2
    _expire(tasks[0]["assignment"], tasks[2]["assignment"])
    assert reclaim_expired_leases.delay().get() == 2
    statuses = dict(Assignment.objects.values_list("pk", "status"))
    assert [statuses[t["assignment"]] for t in tasks] == ["expired", "leased", "expired"]
    leases = dict(Item.objects.values_list("pk", "leases_live"))
    assert leases == {items[0].pk: 1, items[1].pk: 0, items[2].pk: 0}
    queue = dict(Item.objects.values_list("pk", "queue_state"))
    assert queue == {items[0].pk: Item.QueueState.STARTED, items[1].pk: Item.QueueState.NEW,
                     items[2].pk: Item.QueueState.NEW}
    # Running it again finds nothing: it is idempotent.
    assert services.reclaim_expired_leases() == 0
    assert dict(Item.objects.values_list("pk", "leases_live")) == leases


def test_holder_of_an_expired_lease_may_get_the_item_again(make_project, make_annotators,
                                                           client_for):
    project = make_project(overlap=1)
    (item,) = add_items(project, 1)
    (alice,) = make_annotators(project, 1)
    client = client_for(alice)
    task = _next(client, project).json()
    _expire(task["assignment"])
    again = _next(client, project).json()
    # The same row, leased again with a fresh time and display order.
    assert again["assignment"] == task["assignment"]
    assert again["item"]["id"] == item.pk
    assignment = Assignment.objects.get(pk=task["assignment"])
    assert assignment.status == "leased" and assignment.lease_expires_at > timezone.now()
    assert Item.objects.get(pk=item.pk).leases_live == 1
    answer = client.post(f"/api/v1/assignments/{again['assignment']}/submit/",
                         {"ranking": ranking_for(again)}, format="json")
    assert answer.status_code == 201


def test_late_submit_before_reclaim_is_accepted(make_project, make_annotators, client_for):
    project = make_project(overlap=1)
    add_items(project, 1)
    (alice,) = make_annotators(project, 1)
    client = client_for(alice)
    task = _next(client, project).json()
    _expire(task["assignment"])
    answer = client.post(f"/api/v1/assignments/{task['assignment']}/submit/",
                         {"ranking": ranking_for(task)}, format="json")
    assert answer.status_code == 201
    item = Item.objects.get(pk=task["item"]["id"])
    assert (item.annotations_done, item.leases_live, item.queue_state) == (1, 0, None)


def test_late_submit_after_reclaim_is_accepted_while_the_item_has_room(
        make_project, make_annotators, client_for):
    project = make_project(overlap=2)
    add_items(project, 1)
    alice, bob = make_annotators(project, 2)
    task = _next(client_for(alice), project).json()
    _expire(task["assignment"])
    services.reclaim_expired_leases()
    # Bob holds the other slot; one slot is free for Alice's late answer.
    _next(client_for(bob), project)
    answer = client_for(alice).post(f"/api/v1/assignments/{task['assignment']}/submit/",
                                    {"ranking": ranking_for(task)}, format="json")
    assert answer.status_code == 201
    item = Item.objects.get(pk=task["item"]["id"])
    assert (item.annotations_done, item.leases_live, item.queue_state) == (1, 1, None)


def test_late_submit_that_would_overfill_is_refused(make_project, make_annotators, client_for):
    project = make_project(overlap=1)
    add_items(project, 1)
    alice, bob = make_annotators(project, 2)
    late = _next(client_for(alice), project).json()
    _expire(late["assignment"])
    fresh = _next(client_for(bob), project).json()  # reclaims Alice's lease lazily
    assert fresh["item"]["id"] == late["item"]["id"]
    # Bob's live lease holds the only slot: Alice's answer would make two labels.
    refused = client_for(alice).post(f"/api/v1/assignments/{late['assignment']}/submit/",
                                     {"ranking": ranking_for(late)}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "lease_expired"
    assert client_for(bob).post(f"/api/v1/assignments/{fresh['assignment']}/submit/",
                                {"ranking": ranking_for(fresh)}, format="json").status_code == 201
    # And after Bob's label the item is full: still refused, nothing stored twice.
    again = client_for(alice).post(f"/api/v1/assignments/{late['assignment']}/submit/",
                                   {"ranking": ranking_for(late)}, format="json")
    assert again.status_code == 409
    item = Item.objects.get(pk=late["item"]["id"])
    assert (item.annotations_done, item.leases_live) == (1, 0)
    assert Annotation.objects.count() == 1
    assert Assignment.objects.get(pk=late["assignment"]).status == "expired"


def test_skipping_an_expired_lease_does_not_touch_the_counters(make_project, make_annotators,
                                                               client_for):
    project = make_project(overlap=1)
    add_items(project, 1)
    (alice,) = make_annotators(project, 1)
    task = _next(client_for(alice), project).json()
    _expire(task["assignment"])
    services.reclaim_expired_leases()
    answer = client_for(alice).post(f"/api/v1/assignments/{task['assignment']}/skip/",
                                    {"reason": "late"}, format="json")
    assert answer.status_code == 200
    assert Item.objects.get(pk=task["item"]["id"]).leases_live == 0
    # A skipped item never comes back to the one who skipped it.
    assert _next(client_for(alice), project).status_code == 204


def test_reclaim_can_be_limited_to_one_project(make_project, make_annotators, client_for):
    first, second = make_project(name="a"), make_project(name="b")
    add_items(first, 1)
    add_items(second, 1)
    (alice,) = make_annotators(first, 1)
    from annotation import services as project_services
    project_services.set_membership(actor=second.created_by, project=second, user=alice,
                                    role="annotator")
    a = _next(client_for(alice), first).json()
    b = _next(client_for(alice), second).json()
    _expire(a["assignment"], b["assignment"])
    assert services.reclaim_expired_leases(project=first) == 1
    assert Assignment.objects.get(pk=b["assignment"]).status == "leased"
