"""Background tasks of imports."""

from __future__ import annotations

from celery import shared_task

from . import jobs


@shared_task(name="annotation.import_items_file")
def import_items_file(job_id: str) -> None:
    """Import an upload stored by ``jobs.submit``; the outcome goes to its ImportJob row."""
    jobs.run(job_id)


@shared_task(name="annotation.recover_import_jobs")
def recover_import_jobs() -> dict[str, int]:
    """Beat: fail the jobs whose worker was lost, send again those no worker started."""
    return jobs.sweep()
