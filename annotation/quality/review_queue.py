"""Reads: the items a reviewer should look at, and why; and a project's progress."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from ..assignment.validation import same_ranking
from ..models import Annotation, Item, Project
from ..project_settings import project_settings
from ..selectors import project_progress
from . import compute
from .labels import HUMAN_AND_IMPORT, counted_labels

PROMPT_CHARS = 200


def review_queue(*, project: Project) -> list[dict]:
    """Items with low human agreement, a flagged label, a gold answer the annotators'
    consensus contradicts, or a consensus confidence below the project's threshold; an item
    leaves the queue once a reviewer decided it (accept, rank or gold). Most reasons first,
    then lowest agreement."""
    quality = project_settings(project).quality
    # People's labels only, whatever judges.in_consensus says: the queue is where reviewers
    # look at what people disagreed on.
    results = compute.compute(project=project, method=quality.consensus,
                              sources=HUMAN_AND_IMPORT)
    found = counted_labels(project=project, sources=HUMAN_AND_IMPORT)
    flags: dict[int, set[str]] = {}
    for label in found.labels:
        if label.flags:
            flags.setdefault(label.item_id, set()).update(label.flags)
    gold = dict(Item.objects.filter(project=project, is_gold=True)
                .values_list("pk", "gold_ranking"))
    rows = []
    for item_id, result in results.items():
        if result.source == "review":
            continue
        reasons = []
        if result.agreement is not None and result.agreement < quality.review_below_agreement:
            reasons.append("low_agreement")
        if item_id in flags:
            reasons.append("flagged")
        if item_id in gold and gold[item_id] and not same_ranking(result.ranking, gold[item_id]):
            reasons.append("gold_disagreement")
        if result.n_labels >= 2 and result.confidence < quality.review_below_confidence:
            reasons.append("low_confidence")
        if reasons:
            rows.append({"item": item_id, "reasons": reasons, "agreement": result.agreement,
                         "confidence": result.confidence, "n_labels": result.n_labels,
                         "flags": sorted(flags.get(item_id, ()))})
    rows.sort(key=lambda r: (-len(r["reasons"]), r["agreement"] if r["agreement"] is not None
                             else 1.0, r["item"]))
    prompts = dict(_prompts(item_ids=[r["item"] for r in rows]))
    for row in rows:
        row["prompt"] = prompts.get(row["item"], "")
    return rows


def _prompts(*, item_ids):
    for pk, prompt, messages in Item.objects.filter(pk__in=item_ids).values_list(
            "pk", "prompt", "messages"):
        text = prompt
        if not text and messages:
            text = next((m.get("content", "") for m in messages if isinstance(m, dict)
                         and m.get("role") == "user"), "")
        yield pk, str(text)[:PROMPT_CHARS]


def progress(*, project: Project) -> dict:
    """Items complete / total, labels overall and per hour over the last 24 hours."""
    now = timezone.now()
    start = (now - timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    per_hour = dict(
        Annotation.objects.filter(project=project, source=Annotation.Source.HUMAN,
                                  superseded=False, created_at__gte=start)
        .annotate(hour=TruncHour("created_at")).values("hour")
        .annotate(n=Count("id")).values_list("hour", "n"))
    hours = [start + timedelta(hours=h) for h in range(24)]
    return {
        **project_progress(project=project),
        "overlap": project.overlap,
        "labels_last_hour": Annotation.objects.filter(
            project=project, source=Annotation.Source.HUMAN, superseded=False,
            created_at__gte=now - timedelta(hours=1)).count(),
        "labels_per_hour": [{"hour": hour.isoformat(), "labels": per_hour.get(hour, 0)}
                            for hour in hours],
        "review_queue": len(review_queue(project=project)),
    }
