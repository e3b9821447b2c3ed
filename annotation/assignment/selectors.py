"""Reads of the assignment engine: the serving order and the querysets it claims from.

Every queryset here is built to walk an index from the front and stop at the first row it
can use, so its cost does not grow with the number of items in the project:
- open items come from the partial indexes ``item_open_queue_idx`` /
  ``item_open_uncertainty_idx``, which hold only items that still need leases;
- "not yet assigned to this annotator" is an index probe per candidate on the unique
  (item, annotator) constraint of Assignment. The walk passes over open items this
  annotator already ranked and which wait for other people, so it grows with how far one
  annotator runs ahead of the others, never with the size of the project;
- gold items come from the partial ``item_gold_idx``.
"""

from __future__ import annotations

from django.db.models import (
    Exists,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)

from ..models import Annotation, Assignment, Item, Project
from ..project_settings import project_settings

Status = Assignment.Status
ITEM_FIELDS = ("id", "project_id", "prompt", "messages", "is_gold", "annotations_done",
               "leases_live", "uncertainty")


def uses_active_learning(project: Project) -> bool:
    return project_settings(project).active_learning


def queue_order(*, project: Project) -> list:
    """The order in which open items are served: items already started first (so they
    finish), then, with ``settings["active_learning"]``, the reward model's uncertainty
    (smallest first; items not scored yet after the scored ones), then age.

    This is the hook for active learning: the training app writes ``Item.uncertainty``
    (e.g. with ``annotation.services.record_uncertainty``) and the queue follows
    on the next claim. Each order here has its own partial index; a new order needs one too,
    and the same order in ``statements.next_open_item``, which runs it on the hot path (a
    test holds the two together).
    """
    if uses_active_learning(project):
        return ["queue_state", F("uncertainty").asc(nulls_last=True), "id"]
    return ["queue_state", "id"]


def expired_leases(*, now, project: Project | None = None) -> QuerySet[Assignment]:
    qs = Assignment.objects.filter(status=Status.LEASED, lease_expires_at__lte=now)
    if project is not None:
        qs = qs.filter(project_id=project.pk)
    return qs.order_by("lease_expires_at")


def open_candidates(*, project: Project, annotator) -> QuerySet[Item]:
    """Open, non-gold items this annotator has not had (an expired lease does not count: the
    item may come back to them), in serving order. ``expired_assignment_id`` names their
    expired assignment of the item, which a claim re-leases since (item, annotator) is unique."""
    had = Assignment.objects.filter(item=OuterRef("pk"), annotator=annotator).exclude(
        status=Status.EXPIRED
    )
    expired = Assignment.objects.filter(
        item=OuterRef("pk"), annotator=annotator, status=Status.EXPIRED
    ).values("pk")[:1]
    return (
        Item.objects.filter(project_id=project.pk, is_gold=False, queue_state__isnull=False)
        .filter(~Exists(had))
        .annotate(expired_assignment_id=Subquery(expired))
        .only(*ITEM_FIELDS)
        .order_by(*queue_order(project=project))
    )


def gold_candidates(*, project: Project, annotator) -> QuerySet[Item]:
    """Gold items never served to this annotator (each is served to a person at most once),
    oldest first."""
    had = Assignment.objects.filter(item=OuterRef("pk"), annotator=annotator)
    return (
        Item.objects.filter(project_id=project.pk, is_gold=True)
        .filter(~Exists(had))
        .annotate(expired_assignment_id=Value(None, output_field=IntegerField()))
        .only(*ITEM_FIELDS)
        .order_by("id")
    )


def practice_served(*, project: Project, annotator) -> int:
    return Assignment.objects.filter(
        project_id=project.pk, annotator=annotator, is_practice=True
    ).count()


def practice_answers(*, project_id: int, annotator, limit: int) -> list[tuple[list, list]]:
    """(ranking, gold ranking) of the annotator's most recent practice answers, oldest first."""
    rows = list(
        Annotation.objects.filter(project_id=project_id, annotator=annotator,
                                  assignment__is_practice=True, superseded=False)
        .order_by("-id")
        .values_list("ranking", "item__gold_ranking")[:limit]
    )
    rows.reverse()
    return rows
