"""Prompts waiting for responses: the first half of the closed loop.

A team imports prompts alone (import format ``prompts``); each becomes a ``PendingPrompt``,
not an item, so the assignment engine never sees a prompt without responses. When a policy
proposes responses for it (``training.candidates``), one transaction creates an ordinary
:class:`~annotation.models.Item` with those responses (each naming the model that wrote
it) and marks the prompt ``proposed`` with a link to the item; from then on it is queued,
labelled, exported and trained on like any other item. A prompt whose proposals failed
(the policy kept writing the same text twice, say) is ``failed`` with the reason, and can
be proposed for again.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ..models import Item, Project


class PendingPrompt(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PROPOSED = "proposed"
        FAILED = "failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE,
                                related_name="pending_prompts")
    prompt = models.TextField(blank=True)
    messages = models.JSONField(null=True, blank=True,
                                help_text='Conversation: [{"role", "content"}, ...].')
    meta = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    item = models.OneToOneField(Item, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="pending_prompt")
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    proposed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"],
                                    name="pending_prompt_unique_hash"),
        ]
        indexes = [
            models.Index(fields=["project", "id"], name="pending_prompt_open_idx",
                         condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"Prompt {self.pk} ({self.status}) of {self.project_id}"
