"""Imports that run in the background: the upload and its job record live in DATA_DIR/imports/.

A job is a JSON file ``<id>.json`` beside the stored upload ``<id>.data``; the web process
writes it, the Celery task updates it, the API reads it. Files rather than a table because
the upload itself has to be a file that a worker can read, and DATA_DIR is shared by the web
and worker processes already (artifacts, snapshots). Writes are atomic (write, then rename),
so a reader never sees half a record.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions

from ..models import Project
from . import reader, services

log = logging.getLogger(__name__)
COPY_CHUNK = 1 << 20


def jobs_dir() -> Path:
    path = Path(settings.DATA_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _record_path(job_id: str) -> Path:
    return jobs_dir() / f"{uuid.UUID(job_id).hex}.json"


def _upload_path(job_id: str) -> Path:
    return jobs_dir() / f"{uuid.UUID(job_id).hex}.data"


def _save(job: dict[str, Any]) -> None:
    path = _record_path(job["id"])
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(job))
    os.replace(tmp, path)


def load(job_id: str) -> dict[str, Any] | None:
    try:
        return json.loads(_record_path(job_id).read_text())
    except (FileNotFoundError, ValueError):
        return None


def public(job: dict[str, Any]) -> dict[str, Any]:
    """What the API shows of a job."""
    keys = ("id", "project", "status", "format", "labels", "created_at", "started_at",
            "finished_at", "result", "detail", "errors")
    return {key: job.get(key) for key in keys}


def submit(*, actor, project: Project, source: BinaryIO, format: str,
           labels: str | None) -> dict[str, Any]:
    """Store the upload as sent (gzip stays gzip) and queue its import."""
    from .celery_tasks import import_items_file

    format, labels = services.resolve_options(project=project, format=format, labels=labels)
    job_id = str(uuid.uuid4())
    upload = _upload_path(job_id)
    written = 0
    try:
        with upload.open("wb") as out:
            while chunk := source.read(COPY_CHUNK):
                written += len(chunk)
                # Compressed data is never larger than what it decompresses to, give or
                # take gzip's few header bytes, so this bound rejects no valid import.
                if written > settings.IMPORT_MAX_BYTES + 1024:
                    raise services.PayloadTooLarge(str(reader.InputTooLarge(
                        settings.IMPORT_MAX_BYTES)))
                out.write(chunk)
    except BaseException:
        upload.unlink(missing_ok=True)
        raise
    if written == 0:
        upload.unlink(missing_ok=True)
        raise exceptions.ValidationError({"file": "There are no lines to import."})
    job = {
        "id": job_id, "project": project.pk, "actor": getattr(actor, "pk", None),
        "status": "queued", "format": format, "labels": labels,
        "created_at": timezone.now().isoformat(), "started_at": None, "finished_at": None,
        "result": None, "detail": "", "errors": [],
    }
    _save(job)
    import_items_file.delay(job_id)
    return load(job_id) or job


def run(job_id: str) -> None:
    """Run a queued import. Idempotent: a finished job is left as it is."""
    from django.contrib.auth import get_user_model
    from rankwise.api import LineErrors

    job = load(job_id)
    if job is None or job["status"] in ("done", "failed"):
        return
    job.update(status="running", started_at=timezone.now().isoformat())
    _save(job)
    upload = _upload_path(job_id)
    try:
        project = Project.objects.get(pk=job["project"])
        actor = get_user_model().objects.filter(pk=job["actor"]).first()
        with upload.open("rb") as source:
            result = services.import_items(actor=actor, project=project, source=source,
                                           format=job["format"], labels=job["labels"])
        job.update(status="done", result=result)
    except LineErrors as exc:
        job.update(status="failed", detail=str(exc.detail), errors=exc.errors)
    except exceptions.APIException as exc:
        job.update(status="failed", detail=services.error_text(exc.detail))
    except Project.DoesNotExist:
        job.update(status="failed", detail="The project was deleted.")
    except Exception:
        log.exception("import job %s failed", job_id)
        job.update(status="failed", detail="The import failed on the server; see its log.")
        raise
    finally:
        job["finished_at"] = timezone.now().isoformat()
        _save(job)
        if job["status"] in ("done", "failed"):
            upload.unlink(missing_ok=True)
