"""A real Celery worker, fed through Redis, runs a background import and fills in its row."""

from __future__ import annotations

import time

import pytest

from annotation.models import ImportJob

from .conftest import counts, jsonl, url


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_imports_the_upload_and_records_the_outcome(project_with_roles, client_for,
                                                             settings, tmp_path,
                                                             celery_worker_process):
    project, users = project_with_roles
    # Web and worker share DATA_DIR, as they do in production: the worker reads the upload.
    settings.DATA_DIR = tmp_path
    manager = client_for(users["manager"])
    body = jsonl(*({"prompt": f"q{i}", "chosen": "a", "rejected": "b"} for i in range(50)))
    with celery_worker_process("test-import-worker", tmp_path) as worker:
        response = manager.post(url(project, format="trl", **{"async": "1"}), data=body,
                                content_type="application/x-ndjson")
        assert response.status_code == 202, response.content
        job_url = url(project) + f"{response.json()['id']}/"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = manager.get(job_url).json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.5)
    assert status["status"] == "done", (status, worker.output)
    assert status["result"] == {"created": 50, "prompts": 0, "duplicates": 0, "imported_labels": 50,
                                "gold": 0, "empty_responses": 0}
    assert ImportJob.objects.get(pk=status["id"]).finished_at is not None
    assert counts(project) == {"items": 50, "responses": 100, "annotations": 50}
    assert not list((tmp_path / "imports").iterdir())
    assert "Traceback" not in worker.output, worker.output
