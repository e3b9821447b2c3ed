"""Reads of one item's page: the prompt, its responses, the gold answer, every label with
its revision chain, the skips with their reasons, the reviews and the audit trail. Six
queries whatever the number of labels (the consensus comes from the caller)."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from ..models import Annotation, Assignment, AuditLog, Item, Project, Review
from .selectors import LABELS

EXCERPT_CHARS = 80


def item_page(*, project: Project, item: Item, consensus=None) -> dict:
    """Everything the page of ``item`` (an item of ``project``) shows. ``consensus`` is the
    item's stored :class:`~annotation.quality.models.Consensus`, or None."""
    responses = list(item.responses.order_by("position"))
    names = {r.pk: {"id": r.pk, "number": r.position + 1, "excerpt": _excerpt(r.text)}
             for r in responses}
    labels = list(Annotation.objects.filter(item=item).select_related("annotator")
                  .order_by("pk"))
    assignments = list(Assignment.objects.filter(item=item).select_related("annotator")
                       .order_by("pk"))
    now = timezone.now()
    live = sum(1 for a in assignments
               if a.status == Assignment.Status.LEASED and a.lease_expires_at > now)
    reviews = list(Review.objects.filter(item=item).select_related("reviewer").order_by("pk"))
    return {
        "item": item,
        "responses": responses,
        "gold": tiers(item.gold_ranking, names) if item.is_gold else None,
        "labels": _labels(labels, names),
        "skips": [a for a in assignments if a.status == Assignment.Status.SKIPPED],
        "live_leases": live,
        "status": _status(item, project.overlap, live),
        "status_label": LABELS[_status(item, project.overlap, live)],
        "reviews": [{"review": r, "tiers": tiers(r.ranking, names)} for r in reviews],
        "consensus": ({"row": consensus, "tiers": tiers(consensus.ranking, names)}
                      if consensus is not None else None),
        "audit": _audit(project, item, [label.pk for label in labels]),
    }


def tiers(ranking, names: dict[int, dict]) -> list[list[dict]]:
    """Tiers of response ids, best first, as tiers of {number, excerpt} (an id the item no
    longer has is shown by its id)."""
    out = []
    for tier in ranking or []:
        out.append([names.get(rid, {"id": rid, "number": None, "excerpt": f"response {rid}"})
                    for rid in (tier if isinstance(tier, list) else [tier])])
    return out


def _labels(labels: list[Annotation], names: dict[int, dict]) -> list[dict]:
    revised_by = {label.supersedes_id: label.pk for label in labels if label.supersedes_id}
    out = []
    for label in labels:
        response_flags = [{"response": names.get(_int(rid), {"id": rid, "number": None,
                                                             "excerpt": f"response {rid}"}),
                           "flags": flags}
                          for rid, flags in sorted((label.response_flags or {}).items(),
                                                   key=lambda pair: str(pair[0])) if flags]
        out.append({
            "label": label,
            "tiers": tiers(label.ranking, names),
            "response_flags": response_flags,
            "duration_s": (round(label.duration_ms / 1000, 1)
                           if label.duration_ms is not None else None),
            "revised_by": revised_by.get(label.pk),
        })
    return out


def _audit(project: Project, item: Item, label_ids: list[int]) -> list[AuditLog]:
    """Audit rows whose target is the item or one of its labels (services.audit stores the
    target's class name and primary key as text)."""
    targets = Q(target_type="Item", target_id=str(item.pk))
    if label_ids:
        targets |= Q(target_type="Annotation", target_id__in=[str(pk) for pk in label_ids])
    return list(AuditLog.objects.filter(project=project).filter(targets)
                .select_related("actor").order_by("-created_at", "-pk"))


def _status(item: Item, overlap: int, live: int) -> str:
    """The list's status (annotation.browse.selectors)."""
    if item.is_gold:
        return "gold"
    if item.annotations_done >= overlap:
        return "complete"
    return "in_progress" if live else "open"


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1] + "…"
