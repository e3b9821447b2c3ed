"""Constitutions, judges, their runs and the verdicts behind each judge's labels.

A judge's label is an ``annotation.Annotation`` with ``source="ai"`` (so export, consensus
and training read it only where a ``source`` filter asks for it); :class:`JudgeVerdict`
keeps what the annotation cannot: which judge, run, principle and constitution version,
the soft preference and the raw model output. API keys are never stored: see
:func:`judges.backends.api_key_for`.
"""

from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models

from annotation.models import Annotation, Item, Project


def every_item() -> str:
    """A run's default selection (a callable: JSON field defaults must not be shared)."""
    return "all"


class Constitution(models.Model):
    """One published version of a project's principles; the newest version is current."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="constitutions")
    version = models.PositiveIntegerField()
    # [{"name", "question", "critique", "revision"}, ...] in the order they were written.
    principles = models.JSONField(default=list)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-version"]
        constraints = [models.UniqueConstraint(fields=["project", "version"],
                                               name="constitution_unique_version")]

    def __str__(self) -> str:
        return f"Constitution v{self.version} of project {self.project_id}"


class Judge(models.Model):
    class Backend(models.TextChoices):
        OPENAI = "openai"
        LOCAL_LM = "local_lm"
        REWARD_MODEL = "reward_model"

    class Principles(models.TextChoices):
        SAMPLE = "sample"  # one principle drawn per comparison (RL-CAI)
        ALL = "all"  # every principle, preferences averaged

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="judges")
    name = models.CharField(max_length=100)
    backend = models.CharField(max_length=16, choices=Backend.choices)
    model = models.CharField(max_length=200, blank=True)
    base_url = models.CharField(max_length=500, blank=True)
    path = models.CharField(max_length=500, blank=True)
    principles = models.CharField(max_length=8, choices=Principles.choices,
                                  default=Principles.SAMPLE)
    seed = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"],
                                               name="judge_unique_name")]

    def __str__(self) -> str:
        return f"Judge {self.name} ({self.backend})"


class JudgeRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Kind(models.TextChoices):
        JUDGE = "judge"  # label the items' pairs
        REVISE = "revise"  # critique and revise their responses (judges.revisions)

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    judge = models.ForeignKey(Judge, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.JUDGE)
    rounds = models.PositiveSmallIntegerField(
        default=1, help_text="Critique-and-revise rounds per response (revise runs).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # "all" | "unlabelled" | "low_agreement" | [item ids]
    selection = models.JSONField(default=every_item)
    limit = models.PositiveIntegerField(null=True, blank=True)
    constitution_version = models.PositiveIntegerField()
    item_ids = models.JSONField(default=list, help_text="The items chosen, in order.")
    progress = models.FloatField(default=0.0)
    n_items = models.PositiveIntegerField(default=0)
    n_judged = models.PositiveIntegerField(default=0)
    n_unparseable = models.PositiveIntegerField(default=0)
    n_skipped = models.PositiveIntegerField(default=0)
    # {"comparisons", "prompt_chars", "already_judged"}: what the run will cost, before it starts.
    estimate = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written by the worker executing the run (at its claim and at each batch); a running
    # run silent for longer than judges.recovery allows lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # How many times a worker claimed the run; the sweep gives up after MAX_ATTEMPTS.
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Judge run {self.pk} ({self.status})"


class JudgeVerdict(models.Model):
    """What one judge said about one item; its ranking is the annotation's."""

    # None for an unparseable answer: recorded (raw and error) but never a label.
    annotation = models.OneToOneField(Annotation, null=True, blank=True,
                                      on_delete=models.CASCADE, related_name="judge_verdict")
    judge = models.ForeignKey(Judge, on_delete=models.CASCADE, related_name="verdicts")
    run = models.ForeignKey(JudgeRun, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="verdicts")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="judge_verdicts")
    # The principle drawn ("sample"), or the names joined by "+" ("all").
    principle = models.CharField(max_length=500)
    constitution_version = models.PositiveIntegerField()
    preference = models.FloatField(null=True, blank=True, help_text="P(response A is better).")
    verdict = models.CharField(max_length=16)  # A | B | tie | unparseable
    raw = models.TextField(blank=True)
    error = models.TextField(blank=True)
    # True when the backend was shown the item's response B first (a one-prompt backend's
    # order is drawn per verdict; see judges.engine.order). verdict and preference are
    # always about the item's positions, whatever the order shown.
    swapped = models.BooleanField(default=False)
    # A backend that reads both orders (local_lm): P(the response shown first is better)
    # in each order, [as given, swapped], averaged over the principles; else None.
    order_preferences = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(
            fields=["judge", "item", "principle", "constitution_version"],
            condition=models.Q(annotation__isnull=False), name="judge_verdict_unique")]

    def __str__(self) -> str:
        return f"Verdict {self.verdict} of judge {self.judge_id} on item {self.item_id}"
