"""next and submit run a small, fixed number of queries, whatever the project's size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken
from rest_framework.test import APIClient

from annotation.assignment import selectors, statements

from .conftest import add_items, ranking_for

# Token lookup, membership (with project, guideline and lease check), candidate (with its
# responses), counter update, insert.
NEXT_QUERIES = 5
# Token lookup, assignment (locked, with item, project, guideline), counters, close, insert.
SUBMIT_QUERIES = 5
# Token lookup, membership, the held lease, the item's text.
NEXT_AGAIN_QUERIES = 4


def _statements(captured) -> list[str]:
    """The queries sent, without the savepoints of the test's own transaction."""
    return [q["sql"] for q in captured.captured_queries
            if not (q["sql"] or "").startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def _measure(project, user) -> dict[str, int]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    url = f"/api/v1/projects/{project.pk}/next/"
    # Some history first: the counts must not depend on it either.
    for _ in range(5):
        task = client.get(url).json()
        client.post(f"/api/v1/assignments/{task['assignment']}/submit/",
                    {"ranking": ranking_for(task)}, format="json")
    counts = {}
    with CaptureQueriesContext(connection) as captured:
        task = client.get(url).json()
    counts["next"] = len(_statements(captured))
    with CaptureQueriesContext(connection) as captured:
        again = client.get(url).json()
    assert again["assignment"] == task["assignment"]
    counts["next again"] = len(_statements(captured))
    with CaptureQueriesContext(connection) as captured:
        answer = client.post(f"/api/v1/assignments/{task['assignment']}/submit/",
                             {"ranking": ranking_for(task)}, format="json")
    assert answer.status_code == 201
    counts["submit"] = len(_statements(captured))
    return counts


def test_query_counts_are_small_and_independent_of_project_size(make_project, make_annotators):
    small, large = make_project(name="small", overlap=2), make_project(name="large", overlap=2)
    add_items(small, 20)
    add_items(large, 3000, start=100)
    (user,) = make_annotators(small, 1)
    from annotation import services as project_services
    project_services.set_membership(actor=large.created_by, project=large, user=user,
                                    role="annotator")
    expected = {"next": NEXT_QUERIES, "next again": NEXT_AGAIN_QUERIES,
                "submit": SUBMIT_QUERIES}
    assert _measure(small, user) == expected
    assert _measure(large, user) == expected


def test_the_sql_queue_serves_in_the_order_of_the_queryset(make_project, make_annotators):
    """``statements.next_open_item`` runs the order ``selectors.open_candidates`` states."""
    from annotation.assignment import services

    for active_learning in (False, True):
        project = make_project(name=f"al {active_learning}", overlap=2,
                               settings={"active_learning": active_learning})
        add_items(project, 12, start=100 * active_learning,
                  uncertainty=[0.5, None, 0.1, 0.9, None, 0.3, 0.2, None, 0.7, 0.05, 0.6, None])
        alice, bob = make_annotators(project, 2, prefix=f"al{active_learning}-")
        # Bob starts some items so that both queue states are present.
        for _ in range(4):
            services.next_task(project_id=project.pk, annotator=bob)
        expected = list(selectors.open_candidates(project=project, annotator=alice)
                        .values_list("id", flat=True))
        served = []
        while (task := services.next_task(project_id=project.pk, annotator=alice)):
            served.append(task.item.pk)
            services.submit_annotation(assignment_id=task.assignment.pk, annotator=alice,
                                       ranking=[[r["id"]] for r in task.responses])
        assert served == expected


@pytest.mark.postgres
def test_postgres_plans_walk_the_partial_indexes(make_project, make_annotators):
    project = make_project(overlap=3)
    add_items(project, 3000)
    add_items(project, 50, gold=True, start=10_000)
    (user,) = make_annotators(project, 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    params = {"project": project.pk, "user": user.pk}
    for order, index in ((statements.ORDER_BY_AGE, "item_open_queue_idx"),
                         (statements.ORDER_BY_UNCERTAINTY, "item_open_uncertainty_idx")):
        sql = statements.OPEN_ITEM.format(order=order) + " FOR UPDATE OF i SKIP LOCKED"
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert f"Index Scan using {index}" in plan, plan
        assert "Seq Scan on annotation_item" not in plan, plan
        assert "Sort" not in plan.split("SubPlan")[0], plan
    gold_plan = selectors.gold_candidates(project=project, annotator=user).explain()
    assert "Seq Scan on annotation_item" not in gold_plan, gold_plan
