"""Many annotators at once, on real threads with their own database connections.

32 annotators hammer next/submit on 500 items with overlap 3. Whatever the interleaving,
no item may get more than 3 labels, no annotator may rank an item twice, and every 201 must
be a stored annotation. This runs on PostgreSQL (row locks, SKIP LOCKED) and on the
embedded SQLite default (IMMEDIATE transactions queue the writers); a queue that checks
capacity outside the write transaction over-fills here on SQLite.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Count
from rest_framework.test import APIClient

from annotation.models import Annotation, Assignment, Item

from .conftest import add_items

N_ANNOTATORS = 32
N_ITEMS = 500
OVERLAP = 3


def _hammer(user, project_id: int, barrier: threading.Barrier, outcome: dict,
            labelled: list | None = None) -> None:
    client = APIClient()
    client.force_authenticate(user=user)
    created, statuses = [], Counter()
    try:
        barrier.wait()
        while True:
            answer = client.get(f"/api/v1/projects/{project_id}/next/")
            statuses[f"next {answer.status_code}"] += 1
            if answer.status_code != 200:
                break
            task = answer.json()
            ranking = [[r["id"]] for r in task["item"]["responses"]]
            submitted = client.post(f"/api/v1/assignments/{task['assignment']}/submit/",
                                    {"ranking": ranking}, format="json")
            statuses[f"submit {submitted.status_code}"] += 1
            if submitted.status_code == 201:
                created.append(submitted.json()["annotation"])
                if labelled is not None:
                    labelled.append(1)
    except Exception as exc:  # reported by the test, with the thread's name
        statuses[f"error {type(exc).__name__}: {exc}"] += 1
    finally:
        outcome[user.pk] = (created, statuses)
        connection.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_32_annotators_never_overfill_or_double_assign(make_project, make_annotators):
    project = make_project(overlap=OVERLAP, responses_per_item=2)
    add_items(project, N_ITEMS)
    annotators = make_annotators(project, N_ANNOTATORS)
    barrier = threading.Barrier(N_ANNOTATORS)
    outcome: dict = {}
    threads = [threading.Thread(target=_hammer, args=(user, project.pk, barrier, outcome))
               for user in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=540)
    assert not any(thread.is_alive() for thread in threads)

    _check(project, outcome, n_items=N_ITEMS, overlap=OVERLAP, n_annotators=N_ANNOTATORS)


def _check(project, outcome: dict, *, n_items: int, overlap: int, n_annotators: int) -> None:
    statuses = sum((s for _c, s in outcome.values()), Counter())
    unexpected = {k: v for k, v in statuses.items()
                  if k not in ("next 200", "next 204", "submit 201")}
    assert not unexpected, unexpected
    assert statuses["next 204"] == n_annotators  # every annotator ended with "nothing left"

    created = [pk for c, _s in outcome.values() for pk in c]
    assert len(created) == len(set(created)) == n_items * overlap
    assert Annotation.objects.filter(pk__in=created).count() == len(created)
    assert Annotation.objects.filter(project=project).count() == len(created)

    per_item = Counter(dict(Annotation.objects.filter(project=project).values("item_id")
                            .annotate(n=Count("id")).values_list("item_id", "n")))
    assert max(per_item.values()) == overlap, "an item was over-filled"
    assert len(per_item) == n_items
    duplicates = (Annotation.objects.filter(project=project).values("item_id", "annotator_id")
                  .annotate(n=Count("id")).filter(n__gt=1))
    assert not duplicates.exists()
    assert not Item.objects.filter(project=project).exclude(annotations_done=overlap).exists()
    assert not Item.objects.filter(project=project, leases_live__gt=0).exists()
    assert not Assignment.objects.filter(project=project).exclude(status="submitted").exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_raising_overlap_while_annotators_work(make_project, make_annotators):
    """The queue is recomputed once, by one claim, while the others keep claiming."""
    from annotation import services as project_services

    project = make_project(overlap=2, responses_per_item=2)
    add_items(project, 150)
    annotators = make_annotators(project, 12)
    barrier = threading.Barrier(len(annotators))
    outcome: dict = {}
    labelled: list = []
    threads = [threading.Thread(target=_hammer,
                                args=(user, project.pk, barrier, outcome, labelled))
               for user in annotators]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while len(labelled) < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    project.refresh_from_db()
    project_services.update_project(actor=project.created_by, project=project, overlap=3)
    connection.close()
    for thread in threads:
        thread.join(timeout=540)
    assert not any(thread.is_alive() for thread in threads)
    _check(project, outcome, n_items=150, overlap=3, n_annotators=len(annotators))
