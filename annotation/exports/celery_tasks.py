"""Background tasks of exports: building snapshots, and finding builds whose worker was lost."""

from __future__ import annotations

from celery import shared_task

from . import snapshots


@shared_task(name="annotation.build_snapshot")
def build_snapshot(snapshot_id: str) -> None:
    """Build a queued snapshot; progress and outcome go to its Snapshot row."""
    snapshots.build(snapshot_id)


@shared_task(name="annotation.recover_snapshots")
def recover_snapshots() -> dict[str, int]:
    """Beat: fail the builds whose worker was lost, send again those no worker started."""
    return snapshots.sweep()
