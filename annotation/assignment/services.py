"""The assignment engine: who ranks which item next, leases, submissions and skips.

Who may annotate
    Every member of the project, whatever the role: managers and reviewers often rank a few
    items themselves to calibrate. Staff users who are not members get a 403 that asks them
    to join; non-members get 404 (the project's existence is not leaked). A paused member
    gets no new task (403, ``code: membership_paused``) but may still submit or skip the task
    in hand, so the item's slot is not held until the lease runs out. When the project has a
    guideline, a member who has not acknowledged its current version gets 403
    (``code: guideline_not_acknowledged``, with the version and the URL to acknowledge); a
    new version asks again.

What comes next (``next_task``), in this order
    1. The annotator's live lease, if they hold one: asking again returns the same task.
    2. Practice, when ``settings["qualification"] = {"required": N, "min_accuracy": p}`` is
       set and the member has not qualified: gold items, marked ``is_practice``, each
       answered with the correct ranking at submit. The member qualifies once their most
       recent N practice answers are at least a share p exactly right (every tier equal);
       ``Membership.qualified_at`` records it and real tasks open. A member who falls short
       keeps practising on further gold items; with none left they get 403
       (``code: not_qualified``) until a manager steps in. Gold items seen in practice are
       never served again to that member, so their later gold accuracy is not inflated.
    3. The open queue: non-gold items with ``annotations_done + leases_live < overlap`` that
       the annotator has not had, started items first (so they finish), then the reward
       model's uncertainty when ``settings["active_learning"]`` is on, then age. See
       ``selectors.queue_order``. Nothing left: ``None`` (the API's 204).
    4. With probability ``gold_rate`` (a Bernoulli draw per task), a hidden gold item the
       annotator never had is served in place of the open-queue item step 3 found, which
       keeps its slot. The gold task shows that item's reason, and every answer about it
       (next, asking again, submit, skip, feedback, lease timing) is shaped like an ordinary
       one, so nobody can tell which task is the test; nothing reveals the gold ranking.
       It is stored like any label (source human). Gold items are not limited by overlap.
       When step 3 finds nothing there is no gold either (a task after "nothing left" would
       be gold for certain); without a gold item left the draw falls through.
    Every task carries ``reason``: the annotator reads the rule's category, the assignment
    stores the details for managers (see ``reasons``).

The claim
    One short transaction of a few statements (``statements``: plain SQL, prepared on
    PostgreSQL): lock the member's membership row (one person's concurrent requests queue
    instead of leasing two items) while reading the project, the guideline gate and whether
    any lease needs settling; reclaim this project's expired leases found on the way; then
    ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1`` the first candidate with its responses,
    count the lease with a conditional UPDATE (``annotations_done + leases_live <
    overlap``, so a stale queue state can never over-fill) and insert the assignment. Every
    statement that moves an item's counters reads the project's overlap itself. On SQLite,
    the embedded default, the transaction takes the write lock at BEGIN
    (``transaction_mode: IMMEDIATE``), so claims queue and the same code is safe. The unique
    (item, annotator) constraint makes a double assignment impossible; a collision, or a
    deadlock PostgreSQL broke, restarts the claim.

    "Nothing left" (204) is only said after a look that waits for rows other transactions
    hold, and after reopening items closed with a free slot (see
    ``statements.reopen_items``), so a busy moment never reads as an empty queue.

Queue state
    ``Item.queue_state`` (started / new / closed) is kept in the same UPDATE as the counters
    and indexed partially, so a claim walks only open items. When a manager changes the
    overlap, the next claim recomputes the project's queue once (``_sync_queue``).

Leases
    A lease lasts ``project.lease_seconds``. Expired leases are reclaimed lazily by the next
    claim in the project and every minute by the ``annotation.reclaim_expired_leases`` task:
    status ``expired``, ``leases_live`` decremented. The item may come back to the same
    annotator later if it still needs labels: their expired row is re-leased (the pair is
    unique). A submit on a lease that ran out but was not reclaimed yet is accepted (its slot
    is still reserved). After reclaim it is accepted only while the item has a free slot
    (``annotations_done + leases_live < overlap``, checked in the same UPDATE that counts
    it); otherwise 409 ``lease_expired`` and nothing is stored.

Submissions
    Validated by ``validation.check_submission`` (400 naming every problem). Only the lease
    owner may submit: anyone else gets 404. The annotation records the guideline version
    current at submit and ``duration_ms``. Submitting counts the label, releases the lease
    and closes the assignment in one transaction. Repeating a submission returns the stored
    annotation with 200 (the first answer is 201), never a second one; a repeat is a request
    with the same ``Idempotency-Key`` or the same ranking (tied ids in any order), strength,
    flags (as a set) and rationale, of the types a first submit accepts (``duration_ms`` is
    ignored, as a retry may measure again). Any other body for a submitted assignment, with
    no key or another key, is 409 ``already_submitted``; an ``Idempotency-Key`` used before for
    another assignment is 409 ``idempotency_key_reused``; submitting a skipped assignment is
    409 ``assignment_skipped``.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import (
    Case,
    F,
    FloatField,
    OuterRef,
    PositiveSmallIntegerField,
    Subquery,
    Value,
    When,
)
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual
from django.utils import timezone

from rankwise.errors import Conflict, NotFound, Unavailable, ValidationFailed
from rankwise.errors import PermissionDenied as Refused
from rankwise.text import text_problem

from ..models import Annotation, Assignment, Item, Membership, Project
from ..project_settings import ProjectSettings, project_settings
from . import reasons, selectors, statements
from .validation import (
    InvalidSubmission,
    check_submission,
    normalise,
    qualification_status,
    same_ranking,
)

Status = Assignment.Status
QueueState = Item.QueueState
CLAIM_ATTEMPTS = 5
SKIP_REASON_MAX_CHARS = 2000


@dataclass(frozen=True)
class Task:
    assignment: Assignment
    item: Item
    project: Project
    responses: list[dict]  # {"id", "text"} in this annotator's display order
    reason: str  # as shown to the annotator
    guideline_version: int | None


@dataclass(frozen=True)
class Submitted:
    annotation_id: int
    assignment_id: int
    created: bool
    practice: dict | None  # instant feedback, practice items only


# --- counters -------------------------------------------------------------------------

def _queue_state(delta: int = 0) -> Case:
    """The item's queue state after its counters move by ``delta`` (same UPDATE), under the
    project's overlap as the UPDATE reads it; the ORM twin of ``statements.queue_state_sql``."""
    filled = F("annotations_done") + F("leases_live")
    if delta:
        filled = filled + delta
    overlap = Subquery(Project.objects.filter(pk=OuterRef("project_id")).values("overlap")[:1])
    return Case(
        When(GreaterThanOrEqual(filled, overlap), then=Value(None)),
        When(GreaterThan(filled, 0), then=Value(QueueState.STARTED)),
        default=Value(QueueState.NEW),
        output_field=PositiveSmallIntegerField(),
    )


def _counter_update(*, done: int = 0, live: int = 0) -> dict:
    fields: dict[str, Any] = {"queue_state": _queue_state(done + live)}
    if done:
        fields["annotations_done"] = F("annotations_done") + done
    if live:
        fields["leases_live"] = F("leases_live") + live
    return fields


def _sync_queue(project: Project) -> None:
    """Bring the items' queue state in line with the project's overlap, once, after someone
    changed it. Only one claim does the work: the conditional UPDATE on the project row lets
    one transaction through and makes the others wait for its commit, after which they find
    nothing to do. While ``queue_overlap`` is unset the engine never ran in the project, so
    every item still has zero counters, which read the same under any overlap."""
    if project.queue_overlap == project.overlap:
        return
    rows = Project.objects.filter(pk=project.pk, overlap=project.overlap)
    if project.queue_overlap is None:
        rows = rows.filter(queue_overlap__isnull=True)
    else:
        rows = rows.filter(queue_overlap=project.queue_overlap)
    if rows.update(queue_overlap=project.overlap) and project.queue_overlap is not None:
        Item.objects.filter(project_id=project.pk).update(queue_state=_queue_state())
    project.queue_overlap = project.overlap


def _expire(leases: Iterable[tuple[int, int]]) -> int:
    """Mark locked, still-leased assignments expired and give their slots back.
    ``leases``: (assignment id, item id)."""
    leases = list(leases)
    if not leases:
        return 0
    Assignment.objects.filter(pk__in=[a for a, _i in leases]).update(status=Status.EXPIRED)
    groups: dict[int, list[int]] = defaultdict(list)
    for item_id, n in Counter(item_id for _a, item_id in leases).items():
        groups[n].append(item_id)
    for n, item_ids in sorted(groups.items()):
        # Sorted ids: concurrent reclaims lock shared items in the same order.
        Item.objects.filter(pk__in=sorted(item_ids)).update(**_counter_update(live=-n))
    return len(leases)


def _retrying(work, *, retry_integrity_errors: bool = True):
    """Run ``work`` in a transaction, again when a race lost it: a unique-constraint
    collision (the same annotator claiming twice at once) or a deadlock, which PostgreSQL
    resolves by aborting one of the transactions involved."""
    for attempt in range(CLAIM_ATTEMPTS):
        try:
            with transaction.atomic():
                return work()
        except IntegrityError:
            if not retry_integrity_errors:
                raise
            continue
        except OperationalError as exc:
            if attempt + 1 == CLAIM_ATTEMPTS or not _is_transient(exc):
                raise
    raise Unavailable("The queue is busy; try again.", retry_after=1)


def _is_transient(exc: OperationalError) -> bool:
    code = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
    return code in {"40P01", "40001"}  # deadlock_detected, serialization_failure


# --- next -----------------------------------------------------------------------------

def _refuse_non_member(*, project_id: int, user) -> None:
    if user.is_staff and Project.objects.filter(pk=project_id).exists():
        raise Refused("Staff must join the project as a member to annotate in it.",
                      code="not_a_member")
    raise NotFound("No such project.")


def _check_may_annotate(membership: Membership) -> None:
    project = membership.project
    if membership.status == Membership.Status.PAUSED:
        raise Refused(
            "Your membership in this project is paused: you get no new tasks until a "
            "manager resumes it.",
            code="membership_paused",
        )
    version = membership.guideline_version
    if version is not None and not membership.guideline_acknowledged:
        raise Refused(
            f"Read and acknowledge the project's guideline (version {version}) before "
            "annotating.",
            code="guideline_not_acknowledged",
            guideline_version=version,
            guideline_url=f"/api/v1/projects/{project.pk}/guidelines/",
            acknowledge_url=f"/api/v1/projects/{project.pk}/guidelines/acknowledge/",
        )


def next_task(*, project_id: int, annotator, now: datetime | None = None,
              rng: random.Random | None = None) -> Task | None:
    """The annotator's next task in the project, leased to them; None when nothing is left."""
    return _retrying(lambda: _next_task(
        project_id=project_id, annotator=annotator, now=now or timezone.now(), rng=rng or random,
    ))


def _next_task(*, project_id: int, annotator, now: datetime, rng) -> Task | None:
    membership = statements.annotator(project_id=project_id, user_id=annotator.pk, now=now)
    if membership is None:
        _refuse_non_member(project_id=project_id, user=annotator)
    _check_may_annotate(membership)
    project = membership.project
    _sync_queue(project)

    mine: statements.Lease | None = None
    expired: list[tuple[int, int]] = []
    if membership.leases_to_settle:
        for lease in statements.leases_to_settle(project_id=project.pk, user_id=annotator.pk,
                                                 now=now):
            if lease.lease_expires_at <= now:
                expired.append((lease.id, lease.item_id))
            elif lease.annotator_id == annotator.pk and mine is None:
                mine = lease
        _expire(expired)
    if mine is not None:
        return _task(membership=membership, assignment=Assignment(
            id=mine.id, project_id=project.pk, item_id=mine.item_id, annotator_id=annotator.pk,
            status=Status.LEASED, display_order=mine.display_order, reason=mine.reason,
            is_practice=mine.is_practice, lease_expires_at=mine.lease_expires_at,
        ))

    rules = project_settings(project).qualification
    required, min_accuracy = rules.required, rules.min_accuracy
    if required and membership.qualified_at is None:
        return _practice_task(membership=membership, annotator=annotator, required=required,
                              min_accuracy=min_accuracy, now=now, rng=rng)

    gold = None
    if project.gold_rate > 0 and rng.random() < project.gold_rate:
        gold = selectors.gold_candidates(project=project, annotator=annotator).first()

    active_learning = selectors.uses_active_learning(project)
    item = _open_item(project=project, user_id=annotator.pk, active_learning=active_learning,
                      claim=gold is None)
    if item is None:
        # No gold either: a task after "nothing left" would be gold for certain.
        return None
    reason = reasons.for_open_item(
        labels=item.annotations_done, in_progress=item.leases_live, overlap=project.overlap,
        active_learning=active_learning, item_uncertainty=item.uncertainty,
    )
    if gold is not None:
        # In place of the open item, which keeps its slot; the gold lease shows its reason.
        Item.objects.filter(pk=gold.pk).update(**_counter_update(live=1))
        return _lease(membership=membership, item_id=gold.pk, expired_assignment_id=None,
                      reason=reasons.hidden_gold(instead_of=reason), now=now, rng=rng)
    return _lease(membership=membership, item_id=item.id,
                  expired_assignment_id=item.expired_assignment_id, reason=reason,
                  now=now, rng=rng, shown=item.shown)


def _open_item(*, project: Project, user_id: int, active_learning: bool,
               claim: bool) -> statements.Candidate | None:
    """The first open item in serving order that has a free slot, locked, with a lease
    counted on it when ``claim``; None when nothing is left for this annotator."""
    reopened = False
    for _stale in range(CLAIM_ATTEMPTS):
        item = statements.next_open_item(project_id=project.pk, user_id=user_id,
                                         active_learning=active_learning)
        if item is None:
            if reopened or not statements.reopen_items(project_id=project.pk):
                return None
            reopened = True
            continue
        if claim:
            if statements.take_slot(item_id=item.id):
                return item
        elif item.annotations_done + item.leases_live < project.overlap:
            return item
        # Its queue state was stale (set for another overlap and missed): correct it and
        # look again. The locked row stays ours until commit, so the next look skips it.
        Item.objects.filter(pk=item.id).update(queue_state=_queue_state())
    return None


def _practice_task(*, membership: Membership, annotator, required: int, min_accuracy: float,
                   now: datetime, rng) -> Task:
    project = membership.project
    item = selectors.gold_candidates(project=project, annotator=annotator).first()
    if item is None:
        raise Refused(
            f"You have not passed this project's practice round ({min_accuracy:.0%} of "
            f"{required} gold items exactly right) and no practice items are left; ask a "
            "manager.",
            code="not_qualified",
        )
    number = selectors.practice_served(project=project, annotator=annotator) + 1
    Item.objects.filter(pk=item.pk).update(**_counter_update(live=1))
    return _lease(membership=membership, item_id=item.pk, expired_assignment_id=None,
                  reason=reasons.practice(number, required), now=now, rng=rng,
                  is_practice=True)


def _lease(*, membership: Membership, item_id: int, expired_assignment_id: int | None,
           reason: str, now: datetime, rng, is_practice: bool = False,
           shown: statements.Shown | None = None) -> Task:
    project = membership.project
    if shown is None:
        shown = statements.item_shown(item_id=item_id)
    order = list(shown.texts)
    rng.shuffle(order)
    expires = now + timedelta(seconds=project.lease_seconds)
    assignment_id = statements.lease(
        project_id=project.pk, item_id=item_id, user_id=membership.user_id, order=order,
        reason=reason, is_practice=is_practice, now=now, expires=expires,
        expired_assignment_id=expired_assignment_id,
    )
    assignment = Assignment(
        id=assignment_id, project_id=project.pk, item_id=item_id,
        annotator_id=membership.user_id, status=Status.LEASED, display_order=order,
        reason=reason, is_practice=is_practice, leased_at=now, lease_expires_at=expires,
    )
    return _task(membership=membership, assignment=assignment, shown=shown)


def _task(*, membership: Membership, assignment: Assignment,
          shown: statements.Shown | None = None) -> Task:
    project = membership.project
    if shown is None:
        shown = statements.item_shown(item_id=assignment.item_id)
    item = Item(id=assignment.item_id, project_id=project.pk, prompt=shown.prompt,
                messages=shown.messages, uncertainty=shown.uncertainty)
    reason = reasons.shown_to_annotator(stored=assignment.reason,
                                        is_practice=assignment.is_practice)
    return Task(
        assignment=assignment, item=item, project=project,
        responses=[{"id": rid, "text": shown.texts[rid]} for rid in assignment.display_order],
        reason=reason, guideline_version=membership.guideline_version,
    )


# --- submit ---------------------------------------------------------------------------

def submit_annotation(*, assignment_id: int, annotator, ranking: Any, strength: Any = None,
                      flags: Any = None, rationale: Any = None, duration_ms: Any = None,
                      idempotency_key: str | None = None,
                      now: datetime | None = None) -> Submitted:
    """Store the annotator's ranking for their assignment; see the module docstring."""
    body = {"ranking": ranking, "strength": strength, "flags": flags, "rationale": rationale,
            "duration_ms": duration_ms}
    try:
        return _retrying(lambda: _submit(
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
    if not statements.count_label(item_id=held.item_id, lease_held=lease_held,
                                  bounded=not held.is_gold):
        raise Conflict(
            "Your lease on this item expired and it has since got all the labels it "
            "needs; this submission was not stored.",
            code="lease_expired",
        )
    annotation_id = statements.store_annotation(
        held=held, user_id=annotator.pk, ranking=clean.ranking, strength=clean.strength,
        flags=clean.flags, rationale=clean.rationale, duration_ms=clean.duration_ms,
        idempotency_key=idempotency_key or None, now=now,
    )
    practice = None
    if held.is_practice:
        practice = _practice_feedback(held=held, ranking=clean.ranking, annotator=annotator,
                                      now=now)
    return Submitted(annotation_id=annotation_id, assignment_id=held.id, created=True,
                     practice=practice)


def _same_body(annotation: Annotation, body: dict) -> bool:
    """Whether a body repeats the stored submission: the same ranking (tied ids in any
    order), strength, flags (as a set) and rationale, each of the type a first submission
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
    flags = [] if flags is None else flags
    if not isinstance(flags, list) or not all(isinstance(flag, str) for flag in flags):
        return False
    rationale = "" if rationale is None else rationale
    return (
        strength == annotation.strength
        and set(flags) == set(annotation.flags)
        and isinstance(rationale, str) and rationale == annotation.rationale
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _replay(*, held: statements.Held, annotator, body: dict,
            idempotency_key: str | None) -> Submitted:
    annotation = Annotation.objects.get(assignment_id=held.id)
    same_key = bool(idempotency_key) and idempotency_key == annotation.idempotency_key
    if not same_key and not _same_body(annotation, body):
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
    with transaction.atomic():
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
            Item.objects.filter(pk=assignment.item_id).update(
                **_counter_update(live=-1)
            )
        Assignment.objects.filter(pk=assignment.pk).update(
            status=Status.SKIPPED, skip_reason=reason, finished_at=now
        )
        assignment.status, assignment.skip_reason, assignment.finished_at = (
            Status.SKIPPED, reason, now)
        return assignment


# --- maintenance ----------------------------------------------------------------------

def reclaim_expired_leases(*, now: datetime | None = None, project: Project | None = None,
                           batch_size: int = 1000, max_batches: int = 100) -> int:
    """Expire leases past their time (all projects, or one); returns how many."""
    now = now or timezone.now()
    total = 0
    for _batch in range(max_batches):
        with transaction.atomic():
            batch = list(
                selectors.expired_leases(now=now, project=project)
                .only("id", "item_id")
                .select_for_update(skip_locked=True, of=("self",))[:batch_size]
            )
            total += _expire((a.pk, a.item_id) for a in batch)
        if len(batch) < batch_size:
            break
    return total


def record_uncertainty(*, project: Project, uncertainty: dict[int, float | None],
                       batch_size: int = 1000) -> int:
    """Set ``Item.uncertainty`` for some of the project's items (the reward model's smallest
    score gap between two responses; None clears it). With ``settings["active_learning"]``
    the queue serves the smallest first. Returns how many items were updated."""
    updated = 0
    ids = sorted(uncertainty)
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size]
        value = Case(*(When(pk=pk, then=Value(uncertainty[pk])) for pk in chunk),
                     output_field=FloatField())
        updated += Item.objects.filter(project_id=project.pk, pk__in=chunk).update(
            uncertainty=value
        )
    return updated
