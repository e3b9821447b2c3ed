"""Snapshots: immutable export files built in the background."""

from __future__ import annotations

import uuid

from django.conf import settings as django_settings
from django.db import models


class Snapshot(models.Model):
    """One immutable export of a project: a JSON Lines file and a Parquet file with the same
    rows, a dataset card, and the manifest of the labels and reviews it was built from, so
    a rebuild gives the same bytes. Files live in ``DATA_DIR/snapshots/<id>/``; nothing of
    the request names a path."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        READY = "ready"
        FAILED = "failed"

    # A UUID: it is in the download URL, and a sequence would let a manager count others'.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE,
                                related_name="snapshots")
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    format = models.CharField(max_length=16)
    params = models.JSONField(default=dict, blank=True, help_text="The export filters used.")
    progress = models.FloatField(default=0.0, help_text="0..1 while building.")
    rows = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the JSON Lines file.")
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    parquet_sha256 = models.CharField(max_length=64, blank=True)
    parquet_size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    manifest_sha256 = models.CharField(
        max_length=64, blank=True,
        help_text="Of the manifest: the ids of every annotation and review it was built from.")
    n_annotations = models.PositiveIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True, help_text="Why it failed.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "-created_at"], name="snapshot_project_idx")]

    def __str__(self) -> str:
        return f"Snapshot {self.pk} of {self.project_id} ({self.status})"
