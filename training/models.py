"""The model registry's tables: training runs and the model versions they publish.

A ``TrainingRun`` is one attempt (queued → running → succeeded | failed) and records its
own progress, loss curve and outcome so that the API and UI can follow it. A successful
run publishes one ``ModelVersion``: an immutable artifact folder under
``settings.ARTIFACTS_DIR`` plus the metrics it earned on its evaluation split. Every model
kind (``reward`` models and DPO ``policy`` models) shares this one table, told apart by ``kind``:
version numbers count per project and kind, and at most one version per project and kind
is active; the API's scores, feedback and active learning use the active reward model.
The rules that write these rows are in :mod:`training.registry` and :mod:`training.runs`.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q

from annotation.models import Project


class TrainingRun(models.Model):
    class Kind(models.TextChoices):
        REWARD_MODEL = "reward_model"
        POLICY = "policy"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        API = "api"
        BEAT = "beat"
        CLI = "cli"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_runs")
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.REWARD_MODEL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0..1 while training.")
    loss_curve = models.JSONField(
        default=list, blank=True, help_text="[[progress 0..1, loss], ...] in training order."
    )
    metrics = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True, help_text="What was asked for.")
    outcome = models.CharField(
        max_length=200, blank=True,
        help_text="What happened to the model: activated, kept the previous one, and why.",
    )
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    triggered_by = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.API)
    requested_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    celery_task_id = models.CharField(max_length=64, blank=True)
    # The worker process that holds the run while it runs (its rankwise.WorkerHeartbeat
    # row): one that stops beating lost the run (see training.recovery).
    worker_hostname = models.CharField(max_length=255, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    # The newest annotation this run could see (by created_at): the beat task counts the
    # comparisons that arrived after it.
    data_until = models.DateTimeField(null=True, blank=True)
    n_comparisons = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped by every progress write: a running run whose row stopped changing long ago
    # is stuck or lost (see training.recovery).
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="training_run_progress_0_1"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "kind", "-created_at"], name="training_run_project_idx"),
            models.Index(fields=["status", "updated_at"], name="training_run_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.kind}, {self.status}) of {self.project_id}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class ModelVersion(models.Model):
    class Kind(models.TextChoices):
        REWARD = "reward"
        POLICY = "policy"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.REWARD)
    version = models.PositiveIntegerField(help_text="Counted per project and kind.")
    is_active = models.BooleanField(default=False)
    metrics = models.JSONField(default=dict, blank=True, help_text="On this run's eval split.")
    config = models.JSONField(default=dict, blank=True, help_text="The trainer's config.")
    data_fingerprint = models.JSONField(
        default=dict, blank=True,
        help_text='{"sha256", "n_annotations", "n_comparisons", "n_items"} of the data used.',
    )
    eval_split = models.JSONField(
        default=dict, blank=True,
        help_text='{"seed", "fraction", "train_items", "eval_items": [item ids]}.',
    )
    artifact_path = models.CharField(
        max_length=500, help_text="Relative to ARTIFACTS_DIR: model.safetensors, config.json, ..."
    )
    training_run = models.OneToOneField(
        TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="model_version"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "kind", "version"],
                                    name="model_version_unique_number"),
            # At most one active model per project and kind, whatever the races between runs.
            models.UniqueConstraint(
                fields=["project", "kind"], condition=Q(is_active=True),
                name="model_version_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} {self.kind} model {self.name}"

    @property
    def name(self) -> str:
        return f"v{self.version}"

    @property
    def directory(self) -> Path:
        return Path(django_settings.ARTIFACTS_DIR) / self.artifact_path
