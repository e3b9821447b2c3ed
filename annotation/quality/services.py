"""Writes: stored consensus, reviewers' decisions, pausing and resuming annotators."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from rankwise.celery import enqueue_on_commit
from rankwise.errors import NotFound, ValidationFailed

from ..assignment.validation import check_ranking, normalise
from ..models import Annotation, Item, Membership, Project, Review
from ..services import audit
from . import compute
from .models import Consensus
from .schedule import RECOMPUTE_TASK, due_projects

# --- consensus ------------------------------------------------------------------------

def store_consensus(*, project: Project, methods=compute.METHODS, item_ids=None) -> int:
    """Recompute and store the consensus of the project's items (of ``item_ids`` only, when
    given) by each method; rows of items that lost every input are deleted. Returns the
    number of rows written."""
    written = 0
    now = timezone.now()
    for method in methods:
        results = compute.compute(project=project, method=method, item_ids=item_ids)
        rows = [Consensus(project=project, item_id=item_id, method=method,
                          ranking=result.ranking, confidence=result.confidence,
                          agreement=result.agreement, n_labels=result.n_labels,
                          source=result.source, fingerprint=result.fingerprint,
                          computed_at=now)
                for item_id, result in results.items()]
        with transaction.atomic():
            stale = Consensus.objects.filter(project=project, method=method)
            if item_ids is not None:
                stale = stale.filter(item_id__in=list(item_ids))
            stale.exclude(item_id__in=list(results)).delete()
            Consensus.objects.bulk_create(
                rows, batch_size=2000, update_conflicts=True, unique_fields=["item", "method"],
                update_fields=["ranking", "confidence", "agreement", "n_labels", "source",
                               "fingerprint", "computed_at"])
        written += len(rows)
    return written


def recompute_quality(*, project_id: int) -> dict:
    """The debounced task's work: every method's consensus, then the trust auto-pause."""
    from .annotators import pause_untrusted

    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return {"consensus": 0, "paused": []}
    started = timezone.now()
    written = store_consensus(project=project)
    paused = pause_untrusted(project=project)
    # What arrived while this ran is newer than ``started``: the next sweep takes it.
    Project.objects.filter(pk=project.pk).update(quality_computed_at=started)
    return {"consensus": written, "paused": [m.user_id for m in paused]}


def recompute_changed() -> dict:
    """Beat: recompute every project whose labels or reviews changed (``schedule``)."""
    done = {}
    for project in due_projects():
        done[project.pk] = recompute_quality(project_id=project.pk)["consensus"]
    return {"projects": done}


def current_consensus(*, item: Item, method: str) -> Consensus | None:
    """The item's stored consensus by ``method``, recomputed first when its inputs changed
    since (or it was never computed)."""
    stored = Consensus.objects.filter(item=item, method=method).first()
    if stored is not None and stored.fingerprint == compute.fingerprint_of(item=item,
                                                                         method=method):
        return stored
    fresh = compute.compute(project=item.project, method=method, item_ids=[item.pk])
    result = fresh.get(item.pk)
    if result is None:
        if stored is not None:
            stored.delete()
        return None
    stored, _ = Consensus.objects.update_or_create(
        item=item, method=method,
        defaults={"project": item.project, "ranking": result.ranking,
                  "confidence": result.confidence, "agreement": result.agreement,
                  "n_labels": result.n_labels, "source": result.source,
                  "fingerprint": result.fingerprint, "computed_at": timezone.now()})
    return stored


# --- review ---------------------------------------------------------------------------

def _label_of(item: Item, annotation_id) -> Annotation:
    if annotation_id is None:
        raise ValidationFailed.of_fields({"annotation": "This decision needs the label's id."})
    label = Annotation.objects.filter(pk=annotation_id, item=item).first()
    if label is None:
        raise ValidationFailed.of_fields({"annotation": f"Item {item.pk} has no label {annotation_id}."})
    if label.superseded:
        raise ValidationFailed.of_fields({"annotation": (
            f"Label {annotation_id} was revised by its annotator; decide on the revision instead.")})
    return label


def _checked_ranking(item: Item, ranking) -> list[list[int]]:
    if ranking is None:
        raise ValidationFailed.of_fields({"ranking": "This decision needs a ranking."})
    errors = check_ranking(ranking, item.responses.values_list("pk", flat=True))
    if errors:
        raise ValidationFailed(detail="Invalid ranking.", errors=errors)
    return normalise(ranking)


@transaction.atomic
def review_item(*, actor, item: Item, decision: str, annotation_id=None, ranking=None,
                note: str = "") -> Review:
    """One reviewer decision (README "Review"); it lands in the audit log and the item's
    consensus follows it."""
    item = Item.objects.select_for_update().get(pk=item.pk)
    label = None
    if decision == Review.Decision.ACCEPT:
        label = _label_of(item, annotation_id)
        if label.excluded:
            raise ValidationFailed.of_fields({"annotation": "That label is excluded."})
        ranking = normalise(label.ranking)
    elif decision in (Review.Decision.RANK, Review.Decision.GOLD):
        if ranking is None and annotation_id is not None:
            ranking = _label_of(item, annotation_id).ranking
        ranking = _checked_ranking(item, ranking)
    elif decision == Review.Decision.EXCLUDE:
        label = _label_of(item, annotation_id)
        ranking = None
        Annotation.objects.filter(pk=label.pk).update(excluded=True)
    else:
        raise ValidationFailed.of_fields({"decision": f"Unknown decision {decision!r}."})
    if decision == Review.Decision.GOLD:
        item.is_gold, item.gold_ranking = True, ranking
        item.save(update_fields=["is_gold", "gold_ranking"])
    review = Review.objects.create(item=item, annotation=label, reviewer=actor,
                                   decision=decision, ranking=ranking, note=note)
    audit(actor=actor, action=f"review.{decision}", project=item.project, target=item,
          review=review.pk, annotation=label.pk if label else None, ranking=ranking, note=note)
    return review


# --- pausing --------------------------------------------------------------------------

def set_member_status(*, actor, membership: Membership, status: str, reason: str = "",
                      automatic: bool = False) -> Membership:
    """Pause or resume a member; both land in the audit log with the reason. A paused
    member's ``next`` answers 403 with the reason; a resumed member's trust is judged
    again on the labels made after resuming."""
    if status not in Membership.Status.values:
        raise ValidationFailed.of_fields({"status": f"Unknown status {status!r}."})
    now = timezone.now()
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.status == status:
            return membership
        membership.status = status
        if status == Membership.Status.PAUSED:
            membership.paused_reason = reason or "Paused by a manager."
            membership.paused_at, membership.paused_by = now, None if automatic else actor
        else:
            membership.paused_reason, membership.paused_at, membership.paused_by = "", None, None
            membership.resumed_at = now
        membership.save(update_fields=["status", "paused_reason", "paused_at", "paused_by",
                                       "resumed_at"])
        action = "membership.pause" if status == Membership.Status.PAUSED else "membership.resume"
        audit(actor=None if automatic else actor, action=action, project=membership.project,
              target=membership, user=membership.user.username, reason=reason,
              automatic=automatic)
    return membership


def membership_of(*, project: Project, member_id: int) -> Membership:
    membership = Membership.objects.filter(project=project, pk=member_id).select_related(
        "user").first()
    if membership is None:
        raise NotFound("No such member.")
    return membership


def recompute_now(*, project: Project) -> None:
    """On demand: the debounced task's work, sent at once."""
    enqueue_on_commit(RECOMPUTE_TASK, project.pk)
