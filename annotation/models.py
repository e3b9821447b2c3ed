"""Projects, people and their roles, guidelines, items with K responses, assignments,
annotations (ranking tiers), reviews, background imports and the audit log."""

from __future__ import annotations

import uuid

from django.conf import settings as django_settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Project(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    responses_per_item = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(2), MaxValueValidator(9)],
        help_text="K: how many candidate responses each item has.",
    )
    overlap = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="How many annotators should rank each item.",
    )
    gold_rate = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of served tasks that are gold items.",
    )
    lease_seconds = models.PositiveIntegerField(
        default=django_settings.RANKWISE_DEFAULT_LEASE_SECONDS,
        validators=[MinValueValidator(30), MaxValueValidator(7 * 24 * 3600)],
        help_text="How long an annotator holds a task before it is offered to others.",
    )
    settings = models.JSONField(default=dict, blank=True)
    # The overlap that the items' queue_state was last computed for. When someone changes
    # overlap, the assignment engine sees the difference on its next claim and recomputes
    # the queue once (annotation.assignment.services), whoever changed it and however.
    queue_overlap = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    # When consensus and trust were last recomputed (annotation.quality.schedule).
    quality_computed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(responses_per_item__gte=2) & Q(responses_per_item__lte=9),
                name="project_k_between_2_and_9",
            ),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0) & Q(gold_rate__lte=1),
                name="project_gold_rate_0_1",
            ),
            models.CheckConstraint(condition=Q(overlap__gte=1), name="project_overlap_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        ANNOTATOR = "annotator"
        REVIEWER = "reviewer"
        MANAGER = "manager"

    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Set when the member passed the project's practice round (settings["qualification"]).
    qualified_at = models.DateTimeField(null=True, blank=True)
    # Why and when the member was paused; paused_by is NULL for an automatic pause (trust).
    paused_reason = models.TextField(blank=True, default="", db_default="")
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    # Trust is judged on labels made since the last resume, so a resumed member is not
    # paused again at once for the labels that paused them.
    resumed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.role} of {self.project}"


class Guideline(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="guidelines")
    version = models.PositiveIntegerField()
    text = models.TextField(help_text="Markdown.")
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="guideline_unique_version"),
        ]

    def __str__(self) -> str:
        return f"{self.project} guidelines v{self.version}"


class Acknowledgement(models.Model):
    user = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    guideline = models.ForeignKey(
        Guideline, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "guideline"], name="ack_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} read {self.guideline}"


class Item(models.Model):
    """One prompt (plain text or a conversation) with K candidate responses."""

    class QueueState(models.IntegerChoices):
        # Served in this order; an item that needs no more leases has no state (NULL), so
        # the partial indexes below hold only the open items and next() never walks past
        # finished ones.
        STARTED = 0, "started"
        NEW = 1, "new"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    prompt = models.TextField(blank=True)
    messages = models.JSONField(
        null=True, blank=True, help_text='Conversation: [{"role", "content"}, ...].'
    )
    content_hash = models.CharField(max_length=64)
    meta = models.JSONField(default=dict, blank=True)
    is_gold = models.BooleanField(default=False)
    gold_ranking = models.JSONField(
        null=True, blank=True, help_text="Tiers of response ids, best first (gold items only)."
    )
    # Counters kept by the assignment engine so that next() never counts rows.
    annotations_done = models.PositiveIntegerField(default=0)
    leases_live = models.PositiveIntegerField(default=0)
    imported_labels = models.PositiveIntegerField(default=0)
    # Active learning: the smallest score gap between two of this item's responses under the
    # project's active reward model (small = the model is unsure). Null: not scored yet.
    uncertainty = models.FloatField(null=True, blank=True)
    # Kept by the assignment engine in the same UPDATE as the counters: STARTED when
    # annotations_done + leases_live is between 1 and overlap - 1, NEW at 0, NULL when full.
    queue_state = models.PositiveSmallIntegerField(
        choices=QueueState.choices, null=True, blank=True, default=QueueState.NEW
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="item_unique_hash"),
            models.CheckConstraint(
                condition=Q(is_gold=False) | Q(gold_ranking__isnull=False),
                name="item_gold_has_ranking",
            ),
        ]
        indexes = [
            models.Index(
                fields=["project", "is_gold", "annotations_done", "id"], name="item_queue_idx"
            ),
            # The assignment queue: open, non-gold items in serving order, with and without
            # active learning. Partial, so their size is the open work, not the project.
            models.Index(
                fields=["project", "queue_state", "id"], name="item_open_queue_idx",
                condition=Q(queue_state__isnull=False, is_gold=False),
            ),
            models.Index(
                fields=["project", "queue_state", "uncertainty", "id"],
                name="item_open_uncertainty_idx",
                condition=Q(queue_state__isnull=False, is_gold=False),
            ),
            models.Index(fields=["project", "id"], name="item_gold_idx", condition=Q(is_gold=True)),
            # Closed items by label count: finds the few closed with fewer labels than the
            # overlap (leased, or closed under an overlap a manager has since raised).
            models.Index(
                fields=["project", "annotations_done"], name="item_closed_idx",
                condition=Q(queue_state__isnull=True, is_gold=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Item {self.pk} of {self.project_id}"


class Response(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="responses")
    position = models.PositiveSmallIntegerField(help_text="0-based position in the import.")
    text = models.TextField()
    model = models.CharField(max_length=200, blank=True, help_text="Which model wrote it.")
    external_id = models.CharField(max_length=200, blank=True)
    # A judge's critique-and-revise rewrite of ``origin`` (judges.revisions). db_default: the
    # importer's plain-SQL inserts leave it out.
    synthetic = models.BooleanField(default=False, db_default=False)
    origin = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="revisions",
                               help_text="The response this one revises (synthetic only).")

    class Meta:
        ordering = ["item", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "position"], name="response_unique_position"),
        ]

    def __str__(self) -> str:
        return f"Response {self.position} of item {self.item_id}"


class Assignment(models.Model):
    class Status(models.TextChoices):
        LEASED = "leased"
        SUBMITTED = "submitted"
        SKIPPED = "skipped"
        EXPIRED = "expired"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LEASED)
    display_order = models.JSONField(help_text="Response ids in the order this annotator saw them.")
    reason = models.CharField(max_length=200, blank=True, help_text="Why this task was chosen.")
    is_practice = models.BooleanField(default=False)
    leased_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # The one rule that makes double assignment impossible, whatever the races.
            models.UniqueConstraint(fields=["item", "annotator"], name="assignment_unique_item_user"),
        ]
        indexes = [
            models.Index(fields=["project", "annotator", "status"], name="assignment_user_idx"),
            models.Index(fields=["status", "lease_expires_at"], name="assignment_lease_idx"),
            # Lazy reclaim on each claim: this project's expired leases, found without a scan.
            models.Index(
                fields=["project", "lease_expires_at"], name="assignment_live_lease_idx",
                condition=Q(status="leased"),
            ),
        ]

    def __str__(self) -> str:
        return f"Assignment {self.pk}: item {self.item_id} → {self.annotator_id} ({self.status})"


class Annotation(models.Model):
    class Source(models.TextChoices):
        HUMAN = "human"
        AI = "ai"
        IMPORT = "import"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    assignment = models.OneToOneField(
        Assignment, null=True, blank=True, on_delete=models.CASCADE, related_name="annotation"
    )
    annotator = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="annotations",
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.HUMAN)
    ranking = models.JSONField(help_text="Tiers of response ids, best first; a tier holds ties.")
    strength = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    flags = models.JSONField(default=list, blank=True, help_text="Flags on the task as a whole.")
    # Flags on single responses: {"<response id>": ["harmful", ...]}. db_default: the
    # engine's and the importer's plain-SQL inserts leave it out.
    response_flags = models.JSONField(default=dict, blank=True, db_default={})
    rationale = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    guideline_version = models.PositiveIntegerField(null=True, blank=True)
    # Set by a reviewer's "exclude" decision: the label is kept and shown to reviewers, but
    # left out of agreement, consensus, training and export.
    # db_default: the engine's and the importer's plain-SQL inserts leave it out.
    excluded = models.BooleanField(default=False, db_default=False)
    # A revision is a new annotation that supersedes the annotator's earlier one: the earlier
    # row is kept (superseded=True, shown in history and the audit trail) and every reader of
    # counted labels leaves it out. The revision takes over the assignment.
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="superseded_by"
    )
    superseded = models.BooleanField(default=False, db_default=False)
    # NULL, not "": the unique (annotator, idempotency_key) constraint skips NULLs.
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["annotator", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="annotation_unique_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["item", "annotator"],
                condition=Q(annotator__isnull=False, source="human", superseded=False),
                name="annotation_unique_item_human",
            ),
            models.CheckConstraint(
                condition=Q(strength__isnull=True) | (Q(strength__gte=1) & Q(strength__lte=3)),
                name="annotation_strength_1_3",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "created_at"], name="annotation_project_time_idx"),
        ]

    def __str__(self) -> str:
        return f"Annotation {self.pk} of item {self.item_id}"


class Review(models.Model):
    """A reviewer's decision on an item; the newest ``accept`` / ``rank`` / ``gold`` decision
    of an item overrides its consensus (``ranking``), ``exclude`` marks one label."""

    class Decision(models.TextChoices):
        ACCEPT = "accept", "accept one annotator's ranking"
        RANK = "rank", "the reviewer's own ranking"
        GOLD = "gold", "promote to gold with this answer"
        EXCLUDE = "exclude", "leave one label out"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="reviews")
    annotation = models.ForeignKey(
        Annotation, null=True, blank=True, on_delete=models.CASCADE, related_name="reviews"
    )
    reviewer = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    decision = models.CharField(max_length=16, choices=Decision.choices)
    ranking = models.JSONField(
        null=True, blank=True,
        help_text="Tiers of response ids, best first: the decided ranking (not for exclude).",
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["item", "-id"], name="review_item_idx")]

    def __str__(self) -> str:
        return f"{self.decision} of item {self.item_id}"


class ImportJob(models.Model):
    """One background import of a JSON Lines upload (``?async=1``): what the worker did."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    # A UUID rather than a sequence: the id is in the polling URL, and a number would let a
    # manager count (and guess) other projects' imports.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    format = models.CharField(max_length=16)
    labels = models.CharField(max_length=16)
    upload_name = models.CharField(
        max_length=64,
        help_text="The stored upload in DATA_DIR/imports/, a file because the worker reads "
                  "it; deleted once the import has finished.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(
        null=True, blank=True,
        help_text="The counts once done: created, duplicates, imported_labels, gold.",
    )
    detail = models.TextField(blank=True, help_text="Why it failed.")
    errors = models.JSONField(
        default=list, blank=True,
        help_text='Bad lines, [{"line", "message"}], as many as a synchronous import lists.',
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.pk} into {self.project_id} ({self.status})"


class AuditLog(models.Model):
    """Who did what to which object, for managers' audits. Append-only."""

    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_log"
    )
    actor = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="audit_project_time_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


# Models that live beside their domain's code; imported here so Django finds them.
from .exports.models import Snapshot  # noqa: E402, F401
from .prompts.models import PendingPrompt  # noqa: E402, F401
from .quality.models import Consensus  # noqa: E402, F401
from .webhooks.models import Webhook, WebhookDelivery  # noqa: E402, F401
