"""Imports that run in the background (``?async=1``): an ImportJob row and a stored upload.

The row is the record the API, the UI and the admin read: status, timestamps, the counts
once done, or the reason and the bad lines once failed. The upload itself stays a file in
DATA_DIR/imports/ (named in the row), because the worker has to read it and DATA_DIR is
shared by the web and worker processes already (artifacts, snapshots); it is deleted once
the import has finished either way.

The web process stores the upload, creates the row and sends the task after the commit, so
a worker never looks for a row it cannot see yet. The worker takes the row locked while it
moves it from queued to running: a task delivered twice finds it running or finished and
leaves it alone, so an upload is imported once.

While it imports, the worker process lists the job in its heartbeat row
(:func:`rankwise.workers.holding`). Beat's :func:`sweep` fails a running job whose worker
stopped beating for ``WORKER_LOST_AFTER`` and deletes its upload (imports are all or
nothing and skip items already in the project, so the file can simply be submitted again),
and sends again a queued job that no worker started within ``RESEND_AFTER`` (its message
was never sent: the broker was down).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from rankwise import workers
from rankwise.celery import enqueue_on_commit
from rankwise.errors import (
    ApplicationError,
    LineErrors,
    PayloadTooLarge,
    ValidationFailed,
    error_text,
)

from ..models import ImportJob, Project
from . import reader, services

log = logging.getLogger(__name__)
COPY_CHUNK = 1 << 20
TASK = "annotation.import_items_file"
# A running job that no worker process lists (one started before workers listed what they
# hold) is given this long before it counts as lost.
UNLISTED_LOST_AFTER = timedelta(hours=2)


def jobs_dir() -> Path:
    path = Path(settings.DATA_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _upload_name(job_id: uuid.UUID | str) -> str:
    return f"{uuid.UUID(str(job_id)).hex}.data"


def _holding_key(job_id: uuid.UUID | str) -> str:
    return f"import_job:{uuid.UUID(str(job_id))}"


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def public(job: ImportJob) -> dict[str, Any]:
    """What the API shows of a job."""
    return {
        "id": str(job.pk), "project": job.project_id, "status": str(job.status),
        "format": job.format, "labels": job.labels, "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at), "finished_at": _iso(job.finished_at),
        "result": job.result, "detail": job.detail, "errors": job.errors,
    }


def load(*, project: Project, job_id: uuid.UUID | str) -> ImportJob | None:
    """The project's job with this id; None for another project's, so it is not found."""
    return ImportJob.objects.filter(pk=job_id, project=project).first()


def _store_upload(source: BinaryIO, path: Path) -> None:
    """Copy the upload as sent (gzip stays gzip), refusing one over the import's limit."""
    written = 0
    try:
        with path.open("wb") as out:
            while chunk := source.read(COPY_CHUNK):
                written += len(chunk)
                # Compressed data is never larger than what it decompresses to, give or
                # take gzip's few header bytes, so this bound rejects no valid import.
                if written > settings.IMPORT_MAX_BYTES + 1024:
                    raise PayloadTooLarge(str(reader.InputTooLarge(
                        settings.IMPORT_MAX_BYTES)))
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if written == 0:
        path.unlink(missing_ok=True)
        raise ValidationFailed.of_fields({"file": "There are no lines to import."})


def submit(*, actor, project: Project, source: BinaryIO, format: str,
           labels: str | None) -> ImportJob:
    """Store the upload, record the job and queue its import once the row is committed."""
    format, labels = services.resolve_options(project=project, format=format, labels=labels)
    job_id = uuid.uuid4()
    upload = jobs_dir() / _upload_name(job_id)
    _store_upload(source, upload)
    try:
        job = ImportJob.objects.create(
            id=job_id, project=project,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            format=format, labels=labels, upload_name=upload.name,
        )
    except BaseException:
        upload.unlink(missing_ok=True)
        raise
    # Sent now in autocommit, or when the caller's transaction commits.
    enqueue_on_commit(TASK, str(job_id))
    # A worker (or an eager task) may have moved it on already; answer with what is true now.
    job.refresh_from_db()
    return job


def _start(job_id: str) -> ImportJob | None:
    """Move a queued job to running and return it; None when there is nothing to run."""
    with transaction.atomic():
        # Locked, so that of two deliveries of the same task only one sees it queued.
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            # Deleted with its project before a worker got to it: only the upload is left.
            (jobs_dir() / _upload_name(job_id)).unlink(missing_ok=True)
            return None
        if job.status != ImportJob.Status.QUEUED:
            return None
        job.status = ImportJob.Status.RUNNING
        job.started_at = timezone.now()
        job.save(update_fields=["status", "started_at"])
    return job


def _finish(job: ImportJob, **outcome: Any) -> None:
    # An update, not save(): if the project (and the row with it) was deleted meanwhile,
    # there is nothing to record, which is not an error. Only a running job is finished:
    # one the sweep already failed as lost keeps that outcome.
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
        finished_at=timezone.now(), **outcome)
    (jobs_dir() / job.upload_name).unlink(missing_ok=True)


def run(job_id: str) -> None:
    """Run a queued import. Idempotent: a running or finished job is left as it is."""
    job = _start(job_id)
    if job is None:
        return
    failed = ImportJob.Status.FAILED
    try:
        project = Project.objects.get(pk=job.project_id)
        actor = get_user_model().objects.filter(pk=job.created_by_id).first()
        with workers.holding(_holding_key(job.pk)), \
                (jobs_dir() / job.upload_name).open("rb") as source:
            result = services.import_items(actor=actor, project=project, source=source,
                                           format=job.format, labels=job.labels)
    except LineErrors as exc:
        _finish(job, status=failed, detail=str(exc.detail),
                errors=exc.errors[:settings.IMPORT_MAX_ERRORS])
    except ApplicationError as exc:
        _finish(job, status=failed, detail=error_text(exc))
    except Project.DoesNotExist:
        _finish(job, status=failed, detail="The project was deleted.")
    except Exception:
        log.exception("import job %s failed", job_id)
        _finish(job, status=failed, detail="The import failed on the server; see its log.")
        raise
    else:
        _finish(job, status=ImportJob.Status.DONE, result=result)


# --- lost jobs ------------------------------------------------------------------------------


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Fail the running jobs whose worker was lost; send again the queued jobs that no
    worker started. How many of each."""
    now = now or timezone.now()
    listed = workers.holders()
    lost = 0
    for job in ImportJob.objects.filter(status=ImportJob.Status.RUNNING).only(
            "pk", "started_at", "upload_name"):
        seen = listed.get(_holding_key(job.pk))
        if seen is None:
            if job.started_at is None or job.started_at >= now - UNLISTED_LOST_AFTER:
                continue
            since = "listed it"
        elif seen >= workers.lost_before(now):
            continue
        else:
            since = f"beat since {seen:%Y-%m-%d %H:%M:%S} UTC"
        if ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
                status=ImportJob.Status.FAILED, finished_at=now,
                detail=f"The worker running this import was lost (no worker {since}) "
                       f"before it recorded an outcome. Submit the file again: an import is "
                       f"all or nothing, and items already in the project are skipped."):
            log.warning("import job %s: its worker was lost", job.pk)
            (jobs_dir() / job.upload_name).unlink(missing_ok=True)
            lost += 1
    resent = 0
    waiting = ImportJob.objects.filter(
        status=ImportJob.Status.QUEUED,
        created_at__lt=now - timedelta(seconds=settings.RESEND_AFTER)).only("pk", "created_at")
    for job in waiting:
        if workers.resend_due(_holding_key(job.pk), queued_at=job.created_at, now=now):
            # A send that fails (the broker down) is logged by enqueue_on_commit; the job
            # stays queued and a later sweep tries again.
            enqueue_on_commit(TASK, str(job.pk))
            resent += 1
    return {"failed": lost, "resent": resent}
