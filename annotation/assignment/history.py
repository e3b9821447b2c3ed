"""Reads for one annotator about their own work: progress, their labels, one label to revise.

Only the caller's own labels are read here, never anybody else's, and nothing says whether
an item is gold or what its expected ranking is: a gold item shows up like any other.
The answers avoid the key names that carry other people's labels elsewhere in the API
(``rationale``, ``labels``...); an annotator's own reason is ``why``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Sum
from django.db.models.functions import Least
from django.utils import timezone

from ..models import Annotation, Assignment, Item, Project
from ..project_settings import ProjectSettings, project_settings
from .revision import refusal

Status = Assignment.Status
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
EXCERPT_CHARS = 160


def progress(*, project: Project, annotator) -> dict:
    """The project's labels done of those it needs (items × overlap, each item counted up
    to the overlap), items complete, the annotator's submitted labels (all sessions) and
    the items still open to them. Gold items are left out of the project's numbers, which
    makes none of them visible: they are never counted against the overlap."""
    items = Item.objects.filter(project=project, is_gold=False)
    totals = items.aggregate(
        items=Count("id"),
        done=Sum(Least(F("annotations_done"), project.overlap, output_field=IntegerField())),
        complete=Count("id", filter=Q(annotations_done__gte=project.overlap)),
    )
    had = Assignment.objects.filter(item=OuterRef("pk"), annotator=annotator).exclude(
        status=Status.EXPIRED)
    left = items.filter(queue_state__isnull=False).filter(~Exists(had)).count()
    mine = Assignment.objects.filter(project=project, annotator=annotator,
                                     status=Status.SUBMITTED).count()
    return {
        "done": totals["done"] or 0,
        "needed": totals["items"] * project.overlap,
        "items_complete": totals["complete"],
        "items_total": totals["items"],
        "overlap": project.overlap,
        "submitted_by_you": mine,
        "left_for_you": left,
    }


def my_labels(*, project: Project, annotator, page: int = 1,
              page_size: int = PAGE_SIZE) -> dict:
    """One page of the annotator's labels in the project, newest first; a revised label
    is listed too (``superseded``), below the revision that replaced it."""
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    rows = (Annotation.objects.filter(project=project, annotator=annotator,
                                      source=Annotation.Source.HUMAN)
            .select_related("item", "assignment").order_by("-created_at", "-id"))
    count = rows.count()
    last = max(1, -(-count // page_size))
    page = max(1, min(page, last))
    chunk = list(rows[(page - 1) * page_size:page * page_size])
    display = _display_orders(chunk)
    rules, now = project_settings(project), timezone.now()
    return {
        "count": count, "page": page, "page_size": page_size, "pages": last,
        "results": [label_entry(label, display=display.get(label.pk, []), rules=rules, now=now)
                    for label in chunk],
    }


def _display_orders(labels: list[Annotation]) -> dict[int, list[int]]:
    """The order each label's item was shown in. A superseded label has let go of its
    assignment, but (item, annotator) names one assignment, which its revision holds."""
    if not labels:
        return {}
    shown = dict(Assignment.objects.filter(
        annotator_id=labels[0].annotator_id, item_id__in={label.item_id for label in labels},
    ).values_list("item_id", "display_order"))
    return {label.pk: list(shown.get(label.item_id) or []) for label in labels}


def label_entry(label: Annotation, *, display: list[int], rules: ProjectSettings,
                now: datetime) -> dict:
    """What the annotator's history shows of one of their labels."""
    item = label.item
    text = item.prompt or next((str(m.get("content", "")) for m in (item.messages or [])
                                if isinstance(m, dict) and m.get("role") == "user"), "")
    # A superseded label's assignment is its revision's; practice ones are never revised.
    is_practice = label.assignment.is_practice if label.assignment_id else False
    why_not = None
    if label.superseded:
        why_not = "You changed this label later; the newer version counts."
    else:
        conflict = refusal(label=label, rules=rules, is_practice=is_practice,
                           first_submitted=(label.assignment.finished_at if label.assignment_id
                                            else None) or label.created_at, now=now)
        why_not = conflict.detail if conflict is not None else None
    return {
        "id": label.pk,
        "item": {"id": item.pk, "excerpt": _excerpt(text)},
        "submitted_at": label.created_at,
        "display_order": list(display),
        "ranking": label.ranking,
        "strength": label.strength,
        "flags": list(label.flags or []),
        "response_flags": dict(label.response_flags or {}),
        "why": label.rationale,
        "is_practice": is_practice,
        "superseded": label.superseded,
        "revises": label.supersedes_id,
        "revisable": why_not is None,
        "not_revisable_because": why_not,
    }


def _excerpt(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1] + "…"


@dataclass(frozen=True)
class LabelToRevise:
    entry: dict
    item: dict  # what the ranking page shows: prompt or messages, responses in display order


def label_to_revise(*, label: Annotation) -> LabelToRevise:
    """The caller's label with its item as they were shown it (the same display order)."""
    project = label.project
    rules = project_settings(project)
    entry = label_entry(label, display=_display_orders([label]).get(label.pk, []),
                        rules=rules, now=timezone.now())
    item = label.item
    texts = dict(item.responses.values_list("id", "text"))
    shown: dict = {"id": item.pk}
    if item.messages is not None:
        shown["messages"] = item.messages
    else:
        shown["prompt"] = item.prompt
    shown["responses"] = [{"id": rid, "text": texts.get(rid, "")} for rid in entry["display_order"]]
    return LabelToRevise(entry=entry, item=shown)
