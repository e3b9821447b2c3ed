"""PostgreSQL only: concurrent imports into one project, two workers on one background job,
and the COPY path's ids."""

from __future__ import annotations

import io
import threading

import pytest
from django.db import connection

from annotation.imports import jobs, services
from annotation.models import ImportJob, Item, Response

from .conftest import counts, jsonl

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_at_once(work, n: int = 2) -> list:
    """Run ``work()`` in n threads released together; return their results in any order.

    Each thread closes its own database connection; any exception fails the test."""
    start = threading.Barrier(n)
    results, failures = [], []

    def run():
        try:
            start.wait()
            results.append(work())
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return results


def test_two_imports_of_one_file_at_once_store_it_once(project_with_roles):
    project, users = project_with_roles
    body = jsonl(*({"prompt": f"q{i}", "chosen": "a", "rejected": "b"} for i in range(500)))
    results = run_at_once(lambda: services.import_items(
        actor=users["manager"], project=project, source=io.BytesIO(body), format="trl"))
    # The project lock queues the second import behind the first, which then sees every
    # line as a duplicate instead of failing on the unique content hash.
    assert sorted(r["created"] for r in results) == [0, 500]
    assert sorted(r["duplicates"] for r in results) == [0, 500]
    assert counts(project) == {"items": 500, "responses": 1000, "annotations": 500}


def test_two_workers_on_one_job_import_it_once(project_with_roles, settings, tmp_path):
    project, users = project_with_roles
    settings.DATA_DIR = tmp_path
    body = jsonl(*({"prompt": f"q{i}", "chosen": "a", "rejected": "b"} for i in range(500)))
    # The row and upload as jobs.submit leaves them; made here because in autocommit
    # submit's task would run (eagerly) at once.
    job = ImportJob.objects.create(project=project, created_by=users["manager"], format="trl",
                                   labels="imported", upload_name="job.data")
    (jobs.jobs_dir() / job.upload_name).write_bytes(body)
    run_at_once(lambda: jobs.run(str(job.pk)))
    job.refresh_from_db()
    # Had both run it, the second would have recorded all 500 lines as duplicates.
    assert job.status == ImportJob.Status.DONE
    assert job.result == {"created": 500, "prompts": 0, "duplicates": 0, "imported_labels": 500, "gold": 0,
                          "empty_responses": 0}
    assert counts(project) == {"items": 500, "responses": 1000, "annotations": 500}
    assert not (jobs.jobs_dir() / job.upload_name).exists()


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
