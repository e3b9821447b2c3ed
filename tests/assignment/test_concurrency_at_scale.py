"""64 annotators at once on PostgreSQL, more than 10,000 labels: the engine's guarantees hold
at scale.

Each annotator is a thread with its own connection, released together with the others, and
calls the engine directly (next, submit, now and then a skip) until nothing is left. Then:
no item has more labels than the overlap, nobody ranked an item twice, every submission
acknowledged as created is stored exactly as acknowledged, and the counters agree with
the rows.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
from django.db import connection, connections
from django.db.models import Count

from annotation.assignment import services
from annotation.models import Annotation, Assignment, Item
from rankwise.errors import Unavailable

from .conftest import add_items

N_ANNOTATORS = 64
OVERLAP = 3
N_ITEMS = 3_400  # 10,200 labels
SKIP_SHARE = 0.02
SPARE_CONNECTIONS = 4  # this test's own connection and a few for whoever else is connected

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run_at_once(work, n: int) -> list:
    """Run ``work(i)`` for i in 0..n-1 in n threads released together; their results in
    order. Each thread closes its own database connection; an exception in one fails the
    test."""
    start = threading.Barrier(n)
    results: list = [None] * n
    failures: list = []

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            failures.append((i, repr(exc)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "an annotator is stuck"
    assert failures == []
    return results


def _free_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('max_connections')::int"
                       " - current_setting('superuser_reserved_connections')::int"
                       " - (SELECT count(*) FROM pg_stat_activity)")
        return cursor.fetchone()[0]


def _wait_for_connections(needed: int, *, patience_s: float = 60) -> None:
    """Other test runs may share the server; wait for room rather than fail half-way."""
    deadline = time.monotonic() + patience_s
    while (free := _free_connections()) < needed:
        if time.monotonic() > deadline:
            pytest.fail(f"PostgreSQL has {free} free connections; this test needs {needed} "
                        "(raise max_connections)")
        time.sleep(1)


def test_64_annotators_and_10000_labels(make_project, make_annotators):
    project = make_project(overlap=OVERLAP, responses_per_item=2)
    add_items(project, N_ITEMS)
    annotators = make_annotators(project, N_ANNOTATORS)
    _wait_for_connections(N_ANNOTATORS + SPARE_CONNECTIONS)

    def annotate(i: int) -> dict:
        user, rng = annotators[i], random.Random(i)
        acknowledged: dict[int, tuple[int, list]] = {}
        tally = Counter()
        while True:
            try:
                task = services.next_task(project_id=project.pk, annotator=user, rng=rng)
            except Unavailable:
                tally["busy"] += 1
                continue
            if task is None:
                return {"acknowledged": acknowledged, "tally": tally}
            if rng.random() < SKIP_SHARE:
                services.skip_assignment(assignment_id=task.assignment.pk, annotator=user)
                tally["skipped"] += 1
                continue
            ranking = [[r["id"]] for r in task.responses]
            rng.shuffle(ranking)
            result = services.submit_annotation(assignment_id=task.assignment.pk,
                                                annotator=user, ranking=ranking)
            assert result.created
            acknowledged[result.annotation_id] = (task.item.pk, ranking)
            tally["submitted"] += 1

    started = time.monotonic()
    results = run_at_once(annotate, N_ANNOTATORS)
    elapsed = time.monotonic() - started

    acknowledged = {pk: (item_id, i) for i, r in enumerate(results)
                    for pk, (item_id, _ranking) in r["acknowledged"].items()}
    rankings = {pk: ranking for r in results for pk, (_item, ranking) in r["acknowledged"].items()}
    tally = sum((r["tally"] for r in results), Counter())
    labels = N_ITEMS * OVERLAP
    assert tally["submitted"] == len(acknowledged) == labels, (tally, elapsed)

    # Every acknowledged label is stored, as acknowledged, and nothing else is.
    stored = {pk: (item_id, user_id, ranking) for pk, item_id, user_id, ranking in
              Annotation.objects.filter(project=project)
              .values_list("pk", "item_id", "annotator_id", "ranking")}
    assert set(stored) == set(acknowledged)
    user_index = {user.pk: i for i, user in enumerate(annotators)}
    assert all((item_id, user_index[user_id]) == acknowledged[pk] and ranking == rankings[pk]
               for pk, (item_id, user_id, ranking) in stored.items())

    # No over-fill, no item ranked twice by one person, no item left short.
    per_item = Counter(item_id for item_id, _u, _r in stored.values())
    assert len(per_item) == N_ITEMS and set(per_item.values()) == {OVERLAP}
    pairs = Counter((item_id, user_id) for item_id, user_id, _r in stored.values())
    assert max(pairs.values()) == 1
    assert not (Assignment.objects.filter(project=project).values("item_id", "annotator_id")
                .annotate(n=Count("id")).filter(n__gt=1).exists())

    # The counters agree with the rows, and nothing is still leased.
    assert not Item.objects.filter(project=project).exclude(annotations_done=OVERLAP).exists()
    assert not Item.objects.filter(project=project, leases_live__gt=0).exists()
    assert not Item.objects.filter(project=project, queue_state__isnull=False).exists()
    statuses = Counter(Assignment.objects.filter(project=project)
                       .values_list("status", flat=True))
    assert statuses == {"submitted": labels, "skipped": tally["skipped"]}
