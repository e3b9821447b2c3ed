"""Background imports: the ImportJob row a worker fills in, and running a job only once."""

from __future__ import annotations

import io

import pytest

from annotation.imports import jobs
from annotation.models import ImportJob

from .conftest import counts, jsonl

TRL = [{"prompt": f"q{i}", "chosen": "a", "rejected": "b"} for i in range(3)]


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def uploads(data_dir) -> list[str]:
    return sorted(p.name for p in (data_dir / "imports").iterdir())


def submit(project, user, body: bytes, format="trl") -> ImportJob:
    """Store and record a job; in a test's transaction its task is never sent."""
    return jobs.submit(actor=user, project=project, source=io.BytesIO(body), format=format,
                       labels=None)


def test_submit_records_a_queued_job_beside_its_upload(project_with_roles, data_dir):
    project, users = project_with_roles
    job = submit(project, users["manager"], jsonl(*TRL))
    row = ImportJob.objects.get(pk=job.pk)
    assert (row.status, row.format, row.labels) == ("queued", "trl", "imported")
    assert row.project == project and row.created_by == users["manager"]
    assert row.started_at is None and row.finished_at is None and row.result is None
    assert uploads(data_dir) == [row.upload_name]
    assert (data_dir / "imports" / row.upload_name).read_bytes() == jsonl(*TRL)
    assert counts(project)["items"] == 0


def test_a_failed_import_records_its_line_errors_and_imports_nothing(project_with_roles,
                                                                      data_dir, settings):
    project, users = project_with_roles
    settings.IMPORT_MAX_ERRORS = 2
    body = jsonl(TRL[0], {"prompt": "x", "chosen": 1, "rejected": "b"}, "{not json",
                 TRL[1], {"prompt": "y"})
    job = submit(project, users["manager"], body)
    jobs.run(str(job.pk))
    row = ImportJob.objects.get(pk=job.pk)
    assert row.status == ImportJob.Status.FAILED
    # The count is exact; the list stops where a synchronous import's answer stops.
    assert row.detail == "3 lines are invalid; nothing was imported."
    assert [error["line"] for error in row.errors] == [2, 3]
    assert all(error["message"] for error in row.errors)
    assert row.result is None and row.finished_at is not None
    assert counts(project) == {"items": 0, "responses": 0, "annotations": 0}
    assert uploads(data_dir) == []


def test_running_the_same_job_twice_imports_once(project_with_roles, data_dir):
    project, users = project_with_roles
    job = submit(project, users["manager"], jsonl(*TRL))
    jobs.run(str(job.pk))
    first = ImportJob.objects.get(pk=job.pk)
    jobs.run(str(job.pk))  # the task delivered again
    again = ImportJob.objects.get(pk=job.pk)
    assert again.status == ImportJob.Status.DONE
    # Left alone: a second run would have recorded every line as a duplicate.
    assert again.result == {"created": 3, "prompts": 0, "duplicates": 0, "imported_labels": 3, "gold": 0,
                            "empty_responses": 0}
    assert again.finished_at == first.finished_at
    assert counts(project) == {"items": 3, "responses": 6, "annotations": 3}


def test_a_job_another_worker_is_running_is_left_to_it(project_with_roles, data_dir):
    project, users = project_with_roles
    job = submit(project, users["manager"], jsonl(*TRL))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)
    jobs.run(str(job.pk))
    row = ImportJob.objects.get(pk=job.pk)
    assert (row.status, row.result, row.finished_at) == ("running", None, None)
    assert uploads(data_dir) == [row.upload_name]  # still the other worker's to read
    assert counts(project)["items"] == 0


def test_a_file_error_is_the_jobs_detail(project_with_roles, data_dir):
    project, users = project_with_roles
    job = submit(project, users["manager"], b"\x1f\x8b\x08\x00 not really gzip")
    jobs.run(str(job.pk))
    row = ImportJob.objects.get(pk=job.pk)
    assert row.status == ImportJob.Status.FAILED
    assert row.detail.startswith("file: ") and "cannot be decompressed" in row.detail
    assert row.errors == []
    assert uploads(data_dir) == []


def test_a_project_changed_since_submit_fails_the_job(project_with_roles, data_dir):
    project, users = project_with_roles
    job = submit(project, users["manager"], jsonl(*TRL))
    project.responses_per_item = 3
    project.save(update_fields=["responses_per_item"])
    jobs.run(str(job.pk))
    row = ImportJob.objects.get(pk=job.pk)
    assert row.status == ImportJob.Status.FAILED
    assert row.detail.startswith("format: trl lines hold 2 responses")
    assert counts(project)["items"] == 0


def test_a_lost_upload_fails_the_job_and_is_reported(project_with_roles, data_dir):
    project, users = project_with_roles
    job = submit(project, users["manager"], jsonl(*TRL))
    (data_dir / "imports" / job.upload_name).unlink()
    with pytest.raises(FileNotFoundError):
        jobs.run(str(job.pk))
    row = ImportJob.objects.get(pk=job.pk)
    assert row.status == ImportJob.Status.FAILED
    assert row.detail == "The import failed on the server; see its log."


def test_deleting_the_project_removes_its_jobs_and_the_upload(project_with_roles, data_dir):
    project, users = project_with_roles
    job = submit(project, users["manager"], jsonl(*TRL))
    project.delete()
    assert not ImportJob.objects.filter(pk=job.pk).exists()
    jobs.run(str(job.pk))  # the task was already on its way
    assert uploads(data_dir) == []


def test_the_uploader_may_be_deleted_before_the_import_runs(project_with_roles, data_dir,
                                                            make_user):
    project, _ = project_with_roles
    uploader = make_user("gone")
    job = submit(project, uploader, jsonl(*TRL))
    uploader.delete()
    jobs.run(str(job.pk))
    row = ImportJob.objects.get(pk=job.pk)
    assert row.created_by is None and row.status == ImportJob.Status.DONE
    assert counts(project)["items"] == 3


def test_the_admin_lists_jobs_by_status_and_shows_the_outcome(project_with_roles, data_dir,
                                                              django_user_model, client):
    project, users = project_with_roles
    job = submit(project, users["manager"], jsonl(TRL[0], {"prompt": "x"}))
    jobs.run(str(job.pk))
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "pw-root-1")
    client.force_login(admin)
    listing = client.get("/admin/annotation/importjob/?status__exact=failed")
    assert listing.status_code == 200
    assert str(job.pk) in listing.content.decode()
    assert str(job.pk) not in client.get(
        "/admin/annotation/importjob/?status__exact=done").content.decode()
    page = client.get(f"/admin/annotation/importjob/{job.pk}/change/")
    assert page.status_code == 200
    # What the worker recorded is shown, not offered for editing.
    assert 'name="errors"' not in page.content.decode()
    assert "1 line is invalid" in page.content.decode()
