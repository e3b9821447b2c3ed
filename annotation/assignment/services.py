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
    overlap, the next claim recomputes the project's queue once (``sync_queue``).

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
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from rankwise.errors import NotFound
from rankwise.errors import PermissionDenied as Refused

from ..models import Assignment, Item, Membership, Project
from ..project_settings import project_settings
from . import reasons, selectors, statements
from .counters import CLAIM_ATTEMPTS, counter_update, expire, queue_state, retrying, sync_queue

# Submitting and skipping live beside this module; the engine's API is this one.
from .submission import SKIP_REASON_MAX_CHARS, Submitted, skip_assignment, submit_annotation

__all__ = ["SKIP_REASON_MAX_CHARS", "Submitted", "Task", "next_task", "reclaim_expired_leases",
           "skip_assignment", "submit_annotation"]

Status = Assignment.Status
QueueState = Item.QueueState


@dataclass(frozen=True)
class Task:
    assignment: Assignment
    item: Item
    project: Project
    responses: list[dict]  # {"id", "text"} in this annotator's display order
    reason: str  # as shown to the annotator
    guideline_version: int | None


# --- next -----------------------------------------------------------------------------

def _refuse_non_member(*, project_id: int, user) -> None:
    if user.is_staff and Project.objects.filter(pk=project_id).exists():
        raise Refused("Staff must join the project as a member to annotate in it.",
                      code="not_a_member")
    raise NotFound("No such project.")


def _check_may_annotate(membership: Membership) -> None:
    project = membership.project
    if membership.status == Membership.Status.PAUSED:
        reason = f" Reason: {membership.paused_reason}" if membership.paused_reason else ""
        raise Refused(
            "Your membership in this project is paused: you get no new tasks until a "
            f"manager resumes it.{reason}",
            code="membership_paused",
            reason=membership.paused_reason,
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
    return retrying(lambda: _next_task(
        project_id=project_id, annotator=annotator, now=now or timezone.now(), rng=rng or random,
    ))


def _next_task(*, project_id: int, annotator, now: datetime, rng) -> Task | None:
    membership = statements.annotator(project_id=project_id, user_id=annotator.pk, now=now)
    if membership is None:
        _refuse_non_member(project_id=project_id, user=annotator)
    _check_may_annotate(membership)
    project = membership.project
    sync_queue(project)

    mine: statements.Lease | None = None
    expired: list[tuple[int, int]] = []
    if membership.leases_to_settle:
        for lease in statements.leases_to_settle(project_id=project.pk, user_id=annotator.pk,
                                                 now=now):
            if lease.lease_expires_at <= now:
                expired.append((lease.id, lease.item_id))
            elif lease.annotator_id == annotator.pk and mine is None:
                mine = lease
        expire(expired)
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
        Item.objects.filter(pk=gold.pk).update(**counter_update(live=1))
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
        Item.objects.filter(pk=item.id).update(queue_state=queue_state())
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
    Item.objects.filter(pk=item.pk).update(**counter_update(live=1))
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
            total += expire((a.pk, a.item_id) for a in batch)
        if len(batch) < batch_size:
            break
    return total


