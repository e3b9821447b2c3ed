"""PostgreSQL only: concurrent imports into one project, and the COPY path's ids."""

from __future__ import annotations

import io
import threading

import pytest
from django.db import connection

from annotation.imports import services
from annotation.models import Item, Response

from .conftest import counts, jsonl

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_imports_of_one_file_at_once_store_it_once(project_with_roles):
    project, users = project_with_roles
    body = jsonl(*({"prompt": f"q{i}", "chosen": "a", "rejected": "b"} for i in range(500)))
    start = threading.Barrier(2)
    results, failures = [], []

    def run():
        try:
            start.wait()
            results.append(services.import_items(actor=users["manager"], project=project,
                                                 source=io.BytesIO(body), format="trl"))
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    # The project lock queues the second import behind the first, which then sees every
    # line as a duplicate instead of failing on the unique content hash.
    assert sorted(r["created"] for r in results) == [0, 500]
    assert sorted(r["duplicates"] for r in results) == [0, 500]
    assert counts(project) == {"items": 500, "responses": 1000, "annotations": 500}


def test_copied_rows_take_ids_from_the_sequences(project_with_roles):
    project, users = project_with_roles
    services.import_items(actor=users["manager"], project=project, format="native",
                          source=io.BytesIO(jsonl({"prompt": "a", "responses": ["x", "y"]})))
    imported = Item.objects.get(project=project)
    # Rows created the ordinary way afterwards get fresh ids, not ones the import used.
    later = Item.objects.create(project=project, prompt="b", content_hash="later")
    response = Response.objects.create(item=later, position=0, text="z")
    assert later.pk > imported.pk
    assert response.pk > max(imported.responses.values_list("pk", flat=True))
