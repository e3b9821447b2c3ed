"""Submitting and skipping a leased task (the rules are in :mod:`.services`' docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from rankwise.errors import Conflict, NotFound, ValidationFailed
from rankwise.text import text_problem

from ..models import Annotation, Assignment, Item, Membership
from ..project_settings import ProjectSettings
from ..webhooks.events import emit
from . import selectors, statements
from .counters import counter_update, retrying
from .validation import (
    InvalidSubmission,
    check_submission,
    normalise,
    qualification_status,
    same_flags,
    same_ranking,
)

Status = Assignment.Status
SKIP_REASON_MAX_CHARS = 2000


@dataclass(frozen=True)
class Submitted:
    annotation_id: int
    assignment_id: int
    created: bool
    practice: dict | None  # instant feedback, practice items only


def submit_annotation(*, assignment_id: int, annotator, ranking: Any, strength: Any = None,
                      flags: Any = None, rationale: Any = None, duration_ms: Any = None,
                      idempotency_key: str | None = None,
                      now: datetime | None = None) -> Submitted:
    """Store the annotator's ranking for their assignment; see the module docstring."""
    body = {"ranking": ranking, "strength": strength, "flags": flags, "rationale": rationale,
            "duration_ms": duration_ms}
    try:
        return retrying(lambda: _submit(
            assignment_id=assignment_id, annotator=annotator, body=body,
            idempotency_key=idempotency_key, now=now or timezone.now(),
        ), retry_integrity_errors=False)
    except IntegrityError:
        # The assignment row lock serialises submissions of one assignment, so the only
        # collision left is a key this annotator already used for another assignment.
        raise Conflict(
            "This Idempotency-Key was already used for another submission.",
            code="idempotency_key_reused",
        ) from None


def _submit(*, assignment_id: int, annotator, body: dict, idempotency_key: str | None,
            now: datetime) -> Submitted:
    held = statements.held(assignment_id=assignment_id, user_id=annotator.pk)
    if held is None or not held.is_member:
        raise NotFound("No such assignment.")
    if held.status == Status.SUBMITTED:
        return _replay(held=held, annotator=annotator, body=body,
                       idempotency_key=idempotency_key)
    if held.status == Status.SKIPPED:
        raise Conflict("This assignment was skipped; it cannot be submitted.",
                       code="assignment_skipped")
    try:
        clean = check_submission(response_ids=held.display_order,
                                 allowed_flags=ProjectSettings.read(held.settings).flags, **body)
    except InvalidSubmission as exc:
        raise ValidationFailed(errors=exc.errors) from None

    # A lease still holds its slot, even past its time, and the label takes its place. A
    # reclaimed one needs a free slot, unless the item is gold (gold has no overlap).
    lease_held = held.status == Status.LEASED
    counted = statements.count_label(item_id=held.item_id, lease_held=lease_held,
                                     bounded=not held.is_gold)
    if counted is None:
        raise Conflict(
            "Your lease on this item expired and it has since got all the labels it "
            "needs; this submission was not stored.",
            code="lease_expired",
        )
    annotation_id = statements.store_annotation(
        held=held, user_id=annotator.pk, ranking=clean.ranking, strength=clean.strength,
        flags=clean.flags, rationale=clean.rationale, duration_ms=clean.duration_ms,
        idempotency_key=idempotency_key or None, now=now, response_flags=clean.response_flags,
    )
    done, overlap = counted
    if done == overlap and not held.is_gold:
        # This label completed the item (gold has no overlap): the only submit that pays
        # for the webhook lookup.
        emit(project=held.project_id, event="item.completed", payload={
            "item": held.item_id, "annotations": done, "overlap": overlap,
            "annotation": annotation_id, "completed_at": now})
    practice = None
    if held.is_practice:
        practice = _practice_feedback(held=held, ranking=clean.ranking, annotator=annotator,
                                      now=now)
    return Submitted(annotation_id=annotation_id, assignment_id=held.id, created=True,
                     practice=practice)


def same_body(annotation: Annotation, body: dict) -> bool:
    """Whether a body repeats the stored submission: the same ranking (tied ids in any
    order), strength, task and response flags (each as a set) and rationale, each of the type a first submission
    must have, so that a body the first submit would have refused is never replayed."""
    ranking = body["ranking"]
    if not isinstance(ranking, list) or not all(
        isinstance(tier, list) and all(_is_int(rid) for rid in tier) for tier in ranking
    ):
        return False
    if not same_ranking(ranking, annotation.ranking):
        return False
    strength, flags, rationale = body["strength"], body["flags"], body["rationale"]
    if strength is not None and not _is_int(strength):
        return False
    if not same_flags(flags, annotation.flags, annotation.response_flags):
        return False
    rationale = "" if rationale is None else rationale
    return (
        strength == annotation.strength
        and isinstance(rationale, str) and rationale == annotation.rationale
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _replay(*, held: statements.Held, annotator, body: dict,
            idempotency_key: str | None) -> Submitted:
    annotation = Annotation.objects.get(assignment_id=held.id)
    same_key = bool(idempotency_key) and idempotency_key == annotation.idempotency_key
    if not same_key and not same_body(annotation, body):
        raise Conflict(
            f"This assignment was already submitted (annotation {annotation.pk}); a "
            "submission cannot be changed.",
            code="already_submitted", annotation=annotation.pk,
        )
    practice = None
    if held.is_practice:
        practice = _practice_feedback(held=held, ranking=annotation.ranking,
                                      annotator=annotator, now=None)
    return Submitted(annotation_id=annotation.pk, assignment_id=held.id, created=False,
                     practice=practice)


def _practice_feedback(*, held: statements.Held, ranking: list[list[int]], annotator,
                       now: datetime | None) -> dict:
    """The correct answer of a practice item, and the member's qualification progress."""
    rules = ProjectSettings.read(held.settings).qualification
    required, min_accuracy = rules.required, rules.min_accuracy
    answers = selectors.practice_answers(project_id=held.project_id, annotator=annotator,
                                         limit=max(required, 1))
    results = [same_ranking(given, gold) for given, gold in answers]
    qualified, accuracy = qualification_status(correct=results, required=required,
                                               min_accuracy=min_accuracy)
    if qualified and now is not None:
        Membership.objects.filter(
            project_id=held.project_id, user=annotator, qualified_at__isnull=True
        ).update(qualified_at=now)
    window = results[-required:] if required else []
    return {
        "correct": same_ranking(ranking, held.gold_ranking),
        "gold_ranking": normalise(held.gold_ranking),
        "answered": len(window),
        "answered_correctly": sum(window),
        "required": required,
        "min_accuracy": min_accuracy,
        "accuracy": accuracy,
        "qualified": qualified,
    }


# --- skip -----------------------------------------------------------------------------

def skip_assignment(*, assignment_id: int, annotator, reason: Any = "",
                    now: datetime | None = None) -> Assignment:
    """Give the task back: the item goes to someone else and never returns to this
    annotator. Skipping twice is the same as once."""
    if reason is None:
        reason = ""
    if not isinstance(reason, str):
        raise ValidationFailed.of_fields({"reason": "reason must be a string."})
    if len(reason) > SKIP_REASON_MAX_CHARS:
        raise ValidationFailed.of_fields({"reason": (
            f"reason is {len(reason)} characters; at most {SKIP_REASON_MAX_CHARS}.")})
    if problem := text_problem(reason):
        raise ValidationFailed.of_fields({"reason": f"reason {problem}"})
    now = now or timezone.now()
    # Like a submit, a skip that loses a deadlock to a concurrent claim is run again.
    return retrying(lambda: _skip(assignment_id=assignment_id, annotator=annotator,
                                  reason=reason, now=now), retry_integrity_errors=False)


def _skip(*, assignment_id: int, annotator, reason: str, now: datetime) -> Assignment:
    assignment = (
        Assignment.objects.filter(pk=assignment_id, annotator=annotator)
        .select_for_update(of=("self",))
        .first()
    )
    if assignment is None or not Membership.objects.filter(
        project_id=assignment.project_id, user=annotator
    ).exists():
        raise NotFound("No such assignment.")
    if assignment.status == Status.SKIPPED:
        return assignment
    if assignment.status == Status.SUBMITTED:
        raise Conflict("This assignment was already submitted; it cannot be skipped.",
                       code="already_submitted")
    if assignment.status == Status.LEASED:
        Item.objects.filter(pk=assignment.item_id).update(**counter_update(live=-1))
    Assignment.objects.filter(pk=assignment.pk).update(
        status=Status.SKIPPED, skip_reason=reason, finished_at=now
    )
    assignment.status, assignment.skip_reason, assignment.finished_at = (
        Status.SKIPPED, reason, now)
    return assignment
