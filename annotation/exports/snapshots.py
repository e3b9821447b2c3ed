"""Snapshots: immutable export files, built in the background, that a rebuild reproduces.

A manager asks for one (:func:`create`): a queued :class:`Snapshot` row with the export's
parameters, the consensus method resolved from the project settings so that a later change
of the setting cannot change it, and the task ``annotation.build_snapshot`` sent once the
row is committed. The worker (:func:`build`) takes the row from queued to running under a
lock (a task delivered twice builds once), and in a staging folder beside the snapshots:

1. takes the manifest (:func:`annotation.exports.dataset.manifest`): the id of every label
   and review the export reads now, written as canonical JSON to ``manifest.json``;
2. writes the rows of the export restricted to that manifest as JSON Lines, recording its
   progress on the row, then the same rows as Parquet;
3. writes the dataset card (:mod:`annotation.exports.card`) as ``README.md``;

then renames the folder to ``SNAPSHOTS_DIR/<id>/`` (one rename, so a reader sees every file
or none) and marks the row ready with the files' sha256, sizes and row count, emitting
``snapshot.ready`` to the project's webhooks in the same transaction. A failure leaves the
row failed with its reason in ``detail`` and no folder: nothing half written is served.

Files are named by the row's UUID and fixed names (:data:`FILES`); nothing of a request
becomes a path. :func:`rebuild` writes the data files again from the stored manifest, which
gives the same bytes as long as the labels it names still exist.

A worker lost mid-build (killed, out of memory) leaves a running row; the beat sweep
(:func:`sweep`) fails it once no live worker holds it and sends again a queued row no
worker started, as imports do (:mod:`annotation.imports.jobs`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from rankwise import workers
from rankwise.celery import enqueue_on_commit
from rankwise.errors import ApplicationError, Conflict, error_text

from ..models import Annotation, Guideline, Project, Review
from ..project_settings import project_settings
from ..quality.selectors import agreement_report
from ..webhooks import services as webhooks
from . import card, dataset, writers
from .models import Snapshot
from .params import ExportParams

log = logging.getLogger(__name__)

TASK = "annotation.build_snapshot"
FILES = {"jsonl": "data.jsonl", "parquet": "data.parquet", "card": "README.md",
         "manifest": "manifest.json"}
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet",
               "card": "text/markdown; charset=utf-8", "manifest": "application/json"}
MANIFEST_VERSION = 1
# Progress: the manifest is taken by 5%, the JSON Lines file written by 80%, then Parquet
# and the card. The row is written at most once a percent.
AFTER_MANIFEST, AFTER_JSONL, AFTER_PARQUET = 0.05, 0.80, 0.95
ID_CHUNK = 10_000
# A running snapshot that no worker process lists is given this long before it counts as lost.
UNLISTED_LOST_AFTER = timedelta(hours=2)


class Gone(ApplicationError):
    """A ready snapshot whose files are no longer on this server."""

    status = 410
    default_detail = "The snapshot's files are gone from this server."


@dataclass(frozen=True)
class Built:
    """The data files of a build: digests, sizes and rows."""

    sha256: str
    size_bytes: int
    rows: int
    parquet_sha256: str
    parquet_size_bytes: int
    manifest_sha256: str
    manifest_size_bytes: int

    def recorded(self) -> dict[str, Any]:
        """The fields of the Snapshot row these fill in."""
        return {"sha256": self.sha256, "size_bytes": self.size_bytes, "rows": self.rows,
                "parquet_sha256": self.parquet_sha256,
                "parquet_size_bytes": self.parquet_size_bytes,
                "manifest_sha256": self.manifest_sha256}


# --- where files live -------------------------------------------------------------------------


def root() -> Path:
    return Path(settings.SNAPSHOTS_DIR)


def folder_of(snapshot: Snapshot) -> Path:
    """``SNAPSHOTS_DIR/<uuid>``: the row's own id, never a name from a request."""
    return root() / str(uuid.UUID(str(snapshot.pk)))


def _staging_root() -> Path:
    # Beside the snapshots, on the same file system, so that publishing is one rename.
    return root() / ".staging"


def file_of(snapshot: Snapshot, kind: str) -> Path:
    """One of the snapshot's files by kind (a key of :data:`FILES`)."""
    return folder_of(snapshot) / FILES[kind]


def ready_file(snapshot: Snapshot, kind: str) -> Path:
    """The file to serve; raises Conflict while the snapshot is not ready, Gone if lost."""
    if snapshot.status != Snapshot.Status.READY:
        raise Conflict(f"The snapshot is {snapshot.status}; its files exist once it is ready.",
                       code="snapshot_not_ready")
    path = file_of(snapshot, kind)
    if not path.is_file():
        raise Gone()
    return path


# --- requests -------------------------------------------------------------------------------


def create(*, actor, project: Project, params: ExportParams) -> Snapshot:
    """Record a queued snapshot and send its build once the row is committed."""
    if params.consensus is None:
        params = dataclasses.replace(params, consensus=project_settings(project).quality.consensus)
    snapshot = Snapshot.objects.create(
        project=project, format=params.format, params=params.as_dict(),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    enqueue_on_commit(TASK, str(snapshot.pk))
    # An eager task may have built it already; answer with what is true now.
    snapshot.refresh_from_db()
    return snapshot


def for_project(*, project: Project):
    return Snapshot.objects.filter(project=project).order_by("-created_at", "pk")


def load(*, project: Project, snapshot_id) -> Snapshot | None:
    """The project's snapshot with this id; None for another project's."""
    return Snapshot.objects.filter(project=project, pk=snapshot_id).first()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def urls(snapshot: Snapshot) -> dict[str, str | None]:
    """Paths of the detail and of each file's download (the files once ready)."""
    detail = reverse("api-snapshot", kwargs={"pk": snapshot.project_id, "snapshot": snapshot.pk})
    ready = snapshot.status == Snapshot.Status.READY
    download = f"{detail}download/?file="
    return {"url": detail,
            **{key: f"{download}{kind}" if ready else None for key, kind in (
                ("download_url", "jsonl"), ("parquet_url", "parquet"), ("card_url", "card"),
                ("manifest_url", "manifest"))}}


def public(snapshot: Snapshot) -> dict[str, Any]:
    """What the API shows of a snapshot."""
    return {
        "id": str(snapshot.pk), "project": snapshot.project_id, "status": str(snapshot.status),
        "progress": snapshot.progress, "format": snapshot.format, "params": snapshot.params,
        "rows": snapshot.rows, "sha256": snapshot.sha256 or None,
        "size_bytes": snapshot.size_bytes, "parquet_sha256": snapshot.parquet_sha256 or None,
        "parquet_size_bytes": snapshot.parquet_size_bytes,
        "manifest_sha256": snapshot.manifest_sha256 or None,
        "n_annotations": snapshot.n_annotations, "detail": snapshot.detail,
        "created_by": snapshot.created_by_id, "created_at": _iso(snapshot.created_at),
        "started_at": _iso(snapshot.started_at), "finished_at": _iso(snapshot.finished_at),
        **urls(snapshot),
    }


# --- the build ------------------------------------------------------------------------------


def _holding_key(snapshot_id) -> str:
    return f"snapshot:{uuid.UUID(str(snapshot_id))}"


def _start(snapshot_id: str) -> Snapshot | None:
    """Move a queued snapshot to running and return it; None when there is nothing to do."""
    with transaction.atomic():
        # Locked: of two deliveries of the same task only one sees it queued.
        snapshot = (Snapshot.objects.select_for_update().select_related("project")
                    .filter(pk=snapshot_id).first())
        if snapshot is None or snapshot.status != Snapshot.Status.QUEUED:
            return None
        snapshot.status = Snapshot.Status.RUNNING
        snapshot.started_at = timezone.now()
        snapshot.save(update_fields=["status", "started_at"])
    return snapshot


def _running(snapshot: Snapshot):
    # Only a running row is written: one the sweep failed as lost keeps that outcome.
    return Snapshot.objects.filter(pk=snapshot.pk, status=Snapshot.Status.RUNNING)


def build(snapshot_id: str) -> None:
    """Build a queued snapshot. Idempotent: a running or finished one is left as it is."""
    snapshot = _start(snapshot_id)
    if snapshot is None:
        return
    staging = _staging_root() / f"{uuid.UUID(str(snapshot.pk)).hex}-{uuid.uuid4().hex[:8]}"
    try:
        with workers.holding(_holding_key(snapshot.pk)):
            staging.mkdir(parents=True)
            params = ExportParams.from_dict(snapshot.params)
            manifest = dataset.manifest(project=snapshot.project, params=params)
            _set_progress(snapshot, AFTER_MANIFEST)
            # One pass without texts, for a progress figure that means something.
            total = dataset.count_rows(project=snapshot.project, params=params,
                                       manifest=manifest)
            built = write_files(project=snapshot.project, params=params, manifest=manifest,
                                into=staging, on_rows=_progress_of(snapshot, total))
            _set_progress(snapshot, AFTER_PARQUET)
            (staging / FILES["card"]).write_text(
                card.render(_card_facts(snapshot, params, manifest, built)), encoding="utf-8")
            _sync(staging)
            _publish(snapshot, staging, built, n_annotations=len(manifest.annotation_ids))
    except ApplicationError as exc:
        _fail(snapshot, staging, error_text(exc))
    except Exception as exc:
        log.exception("snapshot %s failed", snapshot.pk)
        _fail(snapshot, staging, f"The build failed on the server ({type(exc).__name__}); "
                                 "see its log.")


def _publish(snapshot: Snapshot, staging: Path, built: Built, *, n_annotations: int) -> None:
    final = folder_of(snapshot)
    if final.exists():
        # Left by an attempt that died between its rename and its commit: never served,
        # since only a ready row's files are.
        shutil.rmtree(final)
    os.rename(staging, final)
    with transaction.atomic():
        done = _running(snapshot).update(
            status=Snapshot.Status.READY, progress=1.0, finished_at=timezone.now(),
            n_annotations=n_annotations, **built.recorded())
        if not done:
            # Failed as lost meanwhile, or deleted with its project: not ours to publish.
            shutil.rmtree(final, ignore_errors=True)
            return
        snapshot.refresh_from_db()
        webhooks.emit(project=snapshot.project, event="snapshot.ready",
                      payload=_ready_payload(snapshot))


def _ready_payload(snapshot: Snapshot) -> dict[str, Any]:
    keys = ("id", "project", "format", "params", "rows", "sha256", "size_bytes",
            "parquet_sha256", "parquet_size_bytes", "manifest_sha256", "n_annotations",
            "finished_at", "url", "download_url", "parquet_url", "card_url", "manifest_url")
    shown = public(snapshot)
    return {key: shown[key] for key in keys}


def _fail(snapshot: Snapshot, staging: Path, detail: str) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    if _running(snapshot).update(status=Snapshot.Status.FAILED, finished_at=timezone.now(),
                                 detail=detail[:2000]):
        # Renamed into place before the failure (announcing it failed): never served.
        shutil.rmtree(folder_of(snapshot), ignore_errors=True)


def _set_progress(snapshot: Snapshot, value: float) -> None:
    _running(snapshot).update(progress=round(min(max(value, 0.0), 1.0), 4))


def _progress_of(snapshot: Snapshot, total: int):
    """A callback for rows written so far that records progress a percent at a time."""
    step = max(1, total // 100)
    span = AFTER_JSONL - AFTER_MANIFEST

    def on_rows(written: int) -> None:
        if written % step == 0 and total:
            _set_progress(snapshot, AFTER_MANIFEST + span * min(written / total, 1.0))

    return on_rows


def _sync(folder: Path) -> None:
    """Flush the files to disk before the rename makes them visible."""
    for path in folder.iterdir():
        with path.open("rb") as fh:
            os.fsync(fh.fileno())


# --- the files ------------------------------------------------------------------------------


def manifest_bytes(*, project: Project, params: ExportParams, manifest) -> bytes:
    """Canonical JSON of what a snapshot is built from: equal inputs, equal bytes."""
    body = {"version": MANIFEST_VERSION, "project": project.pk, "format": params.format,
            "params": params.as_dict(), "annotation_ids": sorted(manifest.annotation_ids),
            "review_ids": sorted(manifest.review_ids)}
    return (json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _counted(rows: Iterable[dict], on_rows) -> Iterator[dict]:
    for written, row in enumerate(rows, start=1):
        yield row
        on_rows(written)


def write_files(*, project: Project, params: ExportParams, manifest, into: Path,
                on_rows=None) -> Built:
    """Write ``manifest.json``, ``data.jsonl`` and ``data.parquet`` into ``into``."""
    manifest_data = manifest_bytes(project=project, params=params, manifest=manifest)
    (into / FILES["manifest"]).write_bytes(manifest_data)
    rows = dataset.export_rows(project=project, params=params, manifest=manifest)
    if on_rows is not None:
        rows = _counted(rows, on_rows)
    sha256, size, n_rows = writers.write_jsonl(rows, into / FILES["jsonl"])
    parquet_sha256, parquet_size = writers.write_parquet(
        into / FILES["jsonl"], into / FILES["parquet"], format=params.format)
    return Built(sha256=sha256, size_bytes=size, rows=n_rows, parquet_sha256=parquet_sha256,
                 parquet_size_bytes=parquet_size,
                 manifest_sha256=hashlib.sha256(manifest_data).hexdigest(),
                 manifest_size_bytes=len(manifest_data))


def stored_manifest(snapshot: Snapshot):
    """The manifest a ready snapshot was built from, checked against its recorded digest."""
    data = ready_file(snapshot, "manifest").read_bytes()
    if hashlib.sha256(data).hexdigest() != snapshot.manifest_sha256:
        raise Conflict("The snapshot's manifest.json does not match its recorded sha256.",
                       code="manifest_changed")
    body = json.loads(data)
    return dataset.Manifest(annotation_ids=tuple(body["annotation_ids"]),
                            review_ids=tuple(body["review_ids"]))


def rebuild(*, snapshot: Snapshot, into: Path) -> Built:
    """Write a ready snapshot's data files again into ``into`` from its stored manifest and
    parameters. The same bytes (compare ``Built`` with the row) while the labels and
    reviews the manifest names still exist; the files in the snapshot are not touched."""
    manifest = stored_manifest(snapshot)
    into.mkdir(parents=True, exist_ok=True)
    return write_files(project=snapshot.project, params=ExportParams.from_dict(snapshot.params),
                       manifest=manifest, into=into)


# --- the card -------------------------------------------------------------------------------


def _chunks(ids: tuple[int, ...]) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), ID_CHUNK):
        yield ordered[start:start + ID_CHUNK]


def _card_facts(snapshot: Snapshot, params: ExportParams, manifest, built: Built) -> card.CardFacts:
    project = snapshot.project
    items: set[int] = set()
    annotators: set[int] = set()
    versions: set[int] = set()
    for chunk in _chunks(manifest.annotation_ids):
        rows = Annotation.objects.filter(pk__in=chunk).values_list(
            "item_id", "annotator_id", "source", "guideline_version")
        for item_id, annotator_id, source, version in rows:
            items.add(item_id)
            if source == Annotation.Source.HUMAN and annotator_id is not None:
                annotators.add(annotator_id)
            if version is not None:
                versions.add(version)
    for chunk in _chunks(manifest.review_ids):
        items.update(Review.objects.filter(pk__in=chunk).values_list("item_id", flat=True))
    current = Guideline.objects.filter(project=project).aggregate(v=Max("version"))["v"]
    agreement = agreement_report(project=project, guideline_version=params.guideline_version,
                                 since=params.since)
    files = (card.FileFacts(FILES["jsonl"], built.size_bytes, built.sha256, built.rows),
             card.FileFacts(FILES["parquet"], built.parquet_size_bytes, built.parquet_sha256,
                            built.rows),
             card.FileFacts(FILES["manifest"], built.manifest_size_bytes, built.manifest_sha256))
    return card.CardFacts(
        project_id=project.pk, project_name=project.name, snapshot_id=str(snapshot.pk),
        format=params.format, params=params.as_dict(), consensus=str(params.consensus),
        license=project_settings(project).export.license, rows=built.rows,
        n_annotations=len(manifest.annotation_ids), n_reviews=len(manifest.review_ids),
        n_items=len(items), n_annotators=len(annotators), guideline_versions=tuple(versions),
        current_guideline_version=current, created_at=snapshot.created_at, files=files,
        agreement=agreement if agreement.get("n_labels") else None,
        description=project.description,
    )


# --- lost builds ----------------------------------------------------------------------------


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Fail the running snapshots whose worker was lost; send again the queued ones no
    worker started. How many of each."""
    now = now or timezone.now()
    listed = workers.holders()
    lost = 0
    for snapshot in Snapshot.objects.filter(status=Snapshot.Status.RUNNING).only(
            "pk", "started_at"):
        seen = listed.get(_holding_key(snapshot.pk))
        if seen is None:
            if snapshot.started_at is None or snapshot.started_at >= now - UNLISTED_LOST_AFTER:
                continue
        elif seen >= workers.lost_before(now):
            continue
        if _running(snapshot).update(
                status=Snapshot.Status.FAILED, finished_at=now,
                detail="The worker building this snapshot was lost before it finished; "
                       "create the snapshot again."):
            log.warning("snapshot %s: its worker was lost", snapshot.pk)
            for staged in _staging_root().glob(f"{uuid.UUID(str(snapshot.pk)).hex}-*"):
                shutil.rmtree(staged, ignore_errors=True)
            lost += 1
    resent = 0
    waiting = Snapshot.objects.filter(
        status=Snapshot.Status.QUEUED,
        created_at__lt=now - timedelta(seconds=settings.RESEND_AFTER)).only("pk", "created_at")
    for snapshot in waiting:
        if workers.resend_due(_holding_key(snapshot.pk), queued_at=snapshot.created_at, now=now):
            enqueue_on_commit(TASK, str(snapshot.pk))
            resent += 1
    return {"failed": lost, "resent": resent}
