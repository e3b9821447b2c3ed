"""Stored consensus: a recomputable result per item and method, never a change to labels."""

from __future__ import annotations

from django.db import models


class Consensus(models.Model):
    """One item's consensus ranking by one method.

    ``fingerprint`` digests what it was computed from (the item's counted labels, the
    newest decisive review and, for Dawid–Skene, the project's labels as a whole), so a
    reader can tell a stale row from a current one; rows are rewritten, labels never are.
    """

    class Method(models.TextChoices):
        MAJORITY = "majority"
        BRADLEY_TERRY = "bradley_terry"
        DAWID_SKENE = "dawid_skene"

    class Source(models.TextChoices):
        LABELS = "labels"
        REVIEW = "review"

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE,
                                related_name="consensus")
    item = models.ForeignKey("annotation.Item", on_delete=models.CASCADE,
                             related_name="consensus")
    method = models.CharField(max_length=16, choices=Method.choices)
    ranking = models.JSONField(help_text="Tiers of response ids, best first.")
    confidence = models.FloatField(help_text="0..1; 1.0 for a reviewer's decision.")
    agreement = models.FloatField(
        null=True, blank=True,
        help_text="Share of human pair votes equal to the consensus (two or more labels).",
    )
    n_labels = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.LABELS)
    fingerprint = models.CharField(max_length=64)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "method"], name="consensus_unique_method"),
        ]
        indexes = [models.Index(fields=["project", "method"], name="consensus_project_idx")]

    def __str__(self) -> str:
        return f"{self.method} consensus of item {self.item_id}"
