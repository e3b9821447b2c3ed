"""Item counters and the retry rule shared by every write of the engine.

``annotations_done`` and ``leases_live`` on an item are the engine's ledger: every claim,
submit, skip and expiry moves them in the same transaction as the assignment row, and
``queue_state`` (open / full) is recomputed from them by the UPDATE that moves them. Writes
run through :func:`retrying`, which retries the transient faults a busy database answers
with (deadlocks, serialisation failures, a unique-constraint race on a claim).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Case, F, OuterRef, PositiveSmallIntegerField, Subquery, Value, When
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual

from rankwise.errors import Unavailable

from ..models import Assignment, Item, Project

Status = Assignment.Status
QueueState = Item.QueueState
CLAIM_ATTEMPTS = 5


def queue_state(delta: int = 0) -> Case:
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


def counter_update(*, done: int = 0, live: int = 0) -> dict:
    fields: dict[str, Any] = {"queue_state": queue_state(done + live)}
    if done:
        fields["annotations_done"] = F("annotations_done") + done
    if live:
        fields["leases_live"] = F("leases_live") + live
    return fields


def sync_queue(project: Project) -> None:
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
        # Synthetic pairs (judges.revisions) stay closed: the judge labels them, not people.
        Item.objects.filter(project_id=project.pk).exclude(responses__synthetic=True).update(
            queue_state=queue_state())
    project.queue_overlap = project.overlap


def expire(leases: Iterable[tuple[int, int]]) -> int:
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
        Item.objects.filter(pk__in=sorted(item_ids)).update(**counter_update(live=-n))
    return len(leases)


def retrying(work, *, retry_integrity_errors: bool = True):
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
            if attempt + 1 == CLAIM_ATTEMPTS or not is_transient(exc):
                raise
    raise Unavailable("The queue is busy; try again.", retry_after=1)


def is_transient(exc: OperationalError) -> bool:
    code = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
    return code in {"40P01", "40001"}  # deadlock_detected, serialization_failure
