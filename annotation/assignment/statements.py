"""The SQL of the hot path: the statements every ``next`` and ``submit`` runs.

Why SQL and not querysets: profiling the loop showed that building these querysets
(subqueries, CASE updates, row locks) cost the web process more CPU than PostgreSQL spent
running them. Here each statement is a fixed string, written once, that runs unchanged on
PostgreSQL and SQLite; only the row-lock clause differs (SQLite has no row locks: its
IMMEDIATE transactions serialise writers instead). ``selectors.open_candidates`` states the
serving order as a queryset; a test holds ``next_open_item`` to it.

On PostgreSQL the statements are sent with server-side parameters and prepared on each
connection after a few runs, so the server parses and plans them once per connection
(measured: about 40 % less database CPU per label). Django's own queries stay as they
are. Behind a pooler that cannot keep prepared statements (PgBouncer before 1.21 in
transaction mode), set ``RANKWISE_PREPARED_STATEMENTS = False`` in the settings.

Functions take and return plain values; datetimes go in through the backend's adapter and
come back timezone-aware, JSON comes back decoded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.dateparse import parse_datetime

from ..models import (
    Acknowledgement,
    Annotation,
    Assignment,
    Guideline,
    Item,
    Membership,
    Project,
    Response,
)

T = {
    "item": Item._meta.db_table,
    "response": Response._meta.db_table,
    "assignment": Assignment._meta.db_table,
    "annotation": Annotation._meta.db_table,
    "membership": Membership._meta.db_table,
    "project": Project._meta.db_table,
    "guideline": Guideline._meta.db_table,
    "ack": Acknowledgement._meta.db_table,
}
LEASED, SUBMITTED, EXPIRED = (Assignment.Status.LEASED.value, Assignment.Status.SUBMITTED.value,
                              Assignment.Status.EXPIRED.value)


def _lock(table_alias: str, *, skip_locked: bool = False) -> str:
    if not connection.features.has_select_for_update:
        return ""
    return f" FOR UPDATE OF {table_alias}" + (" SKIP LOCKED" if skip_locked else "")


def _json_param(value: Any) -> str:
    return json.dumps(value)


def _json_cast() -> str:
    return "CAST(%({})s AS jsonb)" if connection.vendor == "postgresql" else "%({})s"


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _when(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# The project's overlap as it is now, read by the statement that moves an item's counters:
# a value read earlier in the transaction may be stale by then (a manager changed it), and
# a queue state written from it would close an item that needs more labels.
OVERLAP = (f"(SELECT p.overlap FROM {T['project']} p "
           f"WHERE p.id = {T['item']}.project_id)")


def queue_state_sql(delta: int) -> str:
    """The item's queue state after its counters move by ``delta`` (see Item.QueueState)."""
    filled = "annotations_done + leases_live" + (f" + ({delta})" if delta else "")
    return (f"CASE WHEN {filled} >= {OVERLAP} THEN NULL "
            f"WHEN {filled} > 0 THEN {Item.QueueState.STARTED.value} "
            f"ELSE {Item.QueueState.NEW.value} END")


PREPARE_AFTER = 5  # runs of a statement on one connection before it is prepared


def _prepares() -> bool:
    return connection.vendor == "postgresql" and getattr(
        settings, "RANKWISE_PREPARED_STATEMENTS", True)


def _cursor():
    """A cursor of Django's connection (so transactions, error wrapping and query logging
    are Django's), binding parameters on the server where statements are prepared."""
    if not _prepares():
        return connection.cursor()
    import psycopg

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns preparing off per connection; its own (client-side bound) queries
        # are never prepared either way, so this concerns the statements here only.
        raw.prepare_threshold = PREPARE_AFTER
    with connection.wrap_database_errors:
        cursor = psycopg.Cursor(raw)
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


def _one(sql: str, params: dict) -> tuple | None:
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _all(sql: str, params: dict) -> list[tuple]:
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _count(sql: str, params: dict) -> int:
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- next -----------------------------------------------------------------------------

ANNOTATOR = f"""
SELECT m.id, m.role, m.status, m.qualified_at, m.paused_reason,
       p.name, p.responses_per_item, p.overlap, p.gold_rate, p.lease_seconds, p.settings,
       p.queue_overlap, g.version,
       CASE WHEN g.id IS NULL THEN 0
            WHEN EXISTS (SELECT 1 FROM {T["ack"]} k
                         WHERE k.guideline_id = g.id AND k.user_id = %(user)s) THEN 1
            ELSE 0 END,
       CASE WHEN EXISTS (SELECT 1 FROM {T["assignment"]} a
                         WHERE a.project_id = m.project_id AND a.annotator_id = %(user)s
                           AND a.status = '{LEASED}')
              OR EXISTS (SELECT 1 FROM {T["assignment"]} a
                         WHERE a.project_id = m.project_id AND a.status = '{LEASED}'
                           AND a.lease_expires_at <= %(now)s)
            THEN 1 ELSE 0 END
FROM {T["membership"]} m
JOIN {T["project"]} p ON p.id = m.project_id
LEFT JOIN {T["guideline"]} g ON g.id = (
    SELECT g2.id FROM {T["guideline"]} g2 WHERE g2.project_id = m.project_id
    ORDER BY g2.version DESC LIMIT 1)
WHERE m.project_id = %(project)s AND m.user_id = %(user)s"""


def annotator(*, project_id: int, user_id: int, now: datetime) -> Membership | None:
    """The membership, locked (one person's claims queue), with its project, the current
    guideline version, whether the user acknowledged it, and ``leases_to_settle``: whether
    the user holds a lease here or the project has expired ones (else the claim need not
    look)."""
    row = _one(ANNOTATOR + _lock("m"), {"project": project_id, "user": user_id,
                                        "now": _when(now)})
    if row is None:
        return None
    (membership_id, role, status, qualified_at, paused_reason, name, k, overlap, gold_rate, lease_seconds,
     settings, queue_overlap, version, acknowledged, leases_to_settle) = row
    project = Project(id=project_id, name=name, responses_per_item=k, overlap=overlap,
                      gold_rate=gold_rate, lease_seconds=lease_seconds,
                      settings=_json(settings) or {}, queue_overlap=queue_overlap)
    membership = Membership(id=membership_id, project=project, user_id=user_id, role=role,
                            status=status, qualified_at=_aware(qualified_at),
                            paused_reason=paused_reason or "")
    membership.guideline_version = version
    membership.guideline_acknowledged = bool(acknowledged)
    membership.leases_to_settle = bool(leases_to_settle)
    return membership


@dataclass
class Lease:
    id: int
    item_id: int
    annotator_id: int
    lease_expires_at: datetime
    display_order: list[int]
    reason: str
    is_practice: bool


LEASES = f"""
SELECT a.id, a.item_id, a.annotator_id, a.lease_expires_at, a.display_order, a.reason,
       a.is_practice
FROM {T["assignment"]} a
WHERE a.project_id = %(project)s AND a.status = '{LEASED}'
  AND (a.annotator_id = %(user)s OR a.lease_expires_at <= %(now)s)
ORDER BY CASE WHEN a.annotator_id = %(user)s THEN 0 ELSE 1 END, a.lease_expires_at
LIMIT %(limit)s"""


def leases_to_settle(*, project_id: int, user_id: int, now: datetime,
                     limit: int = 100) -> list[Lease]:
    """The user's live lease (first) and the project's expired leases, locked; rows another
    claim holds are skipped (it is settling them)."""
    rows = _all(LEASES + _lock("a", skip_locked=True), {
        "project": project_id, "user": user_id, "now": _when(now), "limit": limit,
    })
    return [Lease(id=r[0], item_id=r[1], annotator_id=r[2], lease_expires_at=_aware(r[3]),
                  display_order=_json(r[4]), reason=r[5], is_practice=bool(r[6])) for r in rows]


@dataclass
class Shown:
    prompt: str
    messages: Any
    uncertainty: float | None
    texts: dict[int, str]  # response id -> text, in import order


@dataclass
class Candidate:
    id: int
    annotations_done: int
    leases_live: int
    uncertainty: float | None
    expired_assignment_id: int | None
    shown: Shown


if connection.vendor == "postgresql":
    RESPONSES_JSON = f"""(SELECT json_agg(json_build_array(r.position, r.id, r.text))
        FROM {T["response"]} r WHERE r.item_id = i.id)"""
else:
    RESPONSES_JSON = f"""(SELECT json_group_array(json_array(r.position, r.id, r.text))
        FROM {T["response"]} r WHERE r.item_id = i.id)"""

# The annotator's assignment of an item, if any: the pair is unique, and NOT EXISTS below
# has ruled out every status but expired, so this is the expired row to lease again.
OPEN_ITEM = f"""
SELECT i.id, i.annotations_done, i.leases_live, i.uncertainty,
       (SELECT x.id FROM {T["assignment"]} x
        WHERE x.item_id = i.id AND x.annotator_id = %(user)s),
       i.prompt, i.messages, {RESPONSES_JSON}
FROM {T["item"]} i
WHERE i.project_id = %(project)s AND NOT i.is_gold AND i.queue_state IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM {T["assignment"]} a
                  WHERE a.item_id = i.id AND a.annotator_id = %(user)s
                    AND a.status <> '{EXPIRED}')
ORDER BY {{order}}
LIMIT 1"""
ORDER_BY_AGE = "i.queue_state, i.id"
ORDER_BY_UNCERTAINTY = "i.queue_state, i.uncertainty ASC NULLS LAST, i.id"


def next_open_item(*, project_id: int, user_id: int, active_learning: bool) -> Candidate | None:
    """The first open item in serving order (``selectors.queue_order``) that this user has
    not had, locked, with what the annotator is shown of it; items locked by concurrent
    claims are skipped while there are others."""
    sql = OPEN_ITEM.format(order=ORDER_BY_UNCERTAINTY if active_learning else ORDER_BY_AGE)
    params = {"project": project_id, "user": user_id}
    row = _one(sql + _lock("i", skip_locked=True), params)
    if row is None and connection.features.has_select_for_update:
        # Nothing free right now. Rows that other transactions hold (a claim, a submit, a
        # queue rebuild holding them all) may still be open once they commit: wait for them
        # rather than tell this annotator that nothing is left.
        row = _one(sql + _lock("i"), params)
    if row is None:
        return None
    item_id, done, live, uncertainty, expired_id, prompt, messages, responses = row
    texts = {rid: text for _position, rid, text in sorted(_json(responses) or [])}
    return Candidate(id=item_id, annotations_done=done, leases_live=live,
                     uncertainty=uncertainty, expired_assignment_id=expired_id,
                     shown=Shown(prompt=prompt, messages=_json(messages),
                                 uncertainty=uncertainty, texts=texts))


REOPEN = f"""
UPDATE {T["item"]} SET queue_state = {queue_state_sql(0)}
WHERE project_id = %(project)s AND queue_state IS NULL AND NOT is_gold
  AND annotations_done < {OVERLAP} AND annotations_done + leases_live < {OVERLAP}
  AND NOT EXISTS (SELECT 1 FROM {T["response"]} r
                  WHERE r.item_id = {T["item"]}.id AND r.synthetic)"""


def reopen_items(*, project_id: int) -> int:
    """Reopen closed items that still have a free slot; returns how many.

    An item is closed in the same UPDATE that fills it, under the overlap that statement
    sees. One that started before a manager raised the overlap and waited on a row lock
    until after the queue was recomputed still sees the old overlap, and closes an item
    that needs more labels. The engine runs this when an annotator finds nothing left, so
    such an item is reopened exactly when it is the work that remains. The partial index
    ``item_closed_idx`` keeps it to the few closed items with fewer labels than the overlap.
    """
    return _count(REOPEN, {"project": project_id})


TAKE_SLOT = f"""
UPDATE {T["item"]} SET leases_live = leases_live + 1, queue_state = {queue_state_sql(1)}
WHERE id = %(item)s AND annotations_done + leases_live < {OVERLAP}"""


def take_slot(*, item_id: int) -> bool:
    """Count a lease on the item if it has a free slot (the last guard against over-fill)."""
    return _count(TAKE_SLOT, {"item": item_id}) == 1


ITEM_SHOWN = f"""
SELECT i.prompt, i.messages, i.uncertainty, r.id, r.text
FROM {T["item"]} i JOIN {T["response"]} r ON r.item_id = i.id
WHERE i.id = %(item)s
ORDER BY r.position"""


def item_shown(*, item_id: int) -> Shown:
    """What the annotator is shown of an item: its prompt or messages and its responses."""
    rows = _all(ITEM_SHOWN, {"item": item_id})
    if not rows:
        return Shown(prompt="", messages=None, uncertainty=None, texts={})
    prompt, messages, uncertainty = rows[0][:3]
    return Shown(prompt=prompt, messages=_json(messages), uncertainty=uncertainty,
                 texts={r[3]: r[4] for r in rows})


INSERT_LEASE = f"""
INSERT INTO {T["assignment"]} (project_id, item_id, annotator_id, status, display_order,
    reason, is_practice, leased_at, lease_expires_at, finished_at, skip_reason)
VALUES (%(project)s, %(item)s, %(user)s, '{LEASED}', {_json_cast().format("order")},
    %(reason)s, %(practice)s, %(now)s, %(expires)s, NULL, '')
RETURNING id"""
RELEASE_EXPIRED = f"""
UPDATE {T["assignment"]} SET status = '{LEASED}', display_order = {_json_cast().format("order")},
    reason = %(reason)s, is_practice = %(practice)s, leased_at = %(now)s,
    lease_expires_at = %(expires)s, finished_at = NULL, skip_reason = ''
WHERE id = %(assignment)s"""


def lease(*, project_id: int, item_id: int, user_id: int, order: list[int], reason: str,
          is_practice: bool, now: datetime, expires: datetime,
          expired_assignment_id: int | None) -> int:
    """Insert the assignment, or lease the user's expired one of the item again."""
    params = {"project": project_id, "item": item_id, "user": user_id,
              "order": _json_param(order), "reason": reason, "practice": is_practice,
              "now": _when(now), "expires": _when(expires)}
    if expired_assignment_id is not None:
        _count(RELEASE_EXPIRED, {**params, "assignment": expired_assignment_id})
        return expired_assignment_id
    return _one(INSERT_LEASE, params)[0]


# --- submit ---------------------------------------------------------------------------

@dataclass
class Held:
    id: int
    status: str
    display_order: list[int]
    is_practice: bool
    item_id: int
    project_id: int
    is_gold: bool
    gold_ranking: Any
    settings: dict
    guideline_version: int | None
    is_member: bool


HELD = f"""
SELECT a.id, a.status, a.display_order, a.is_practice, a.item_id, a.project_id,
       i.is_gold, i.gold_ranking, p.settings,
       (SELECT g.version FROM {T["guideline"]} g WHERE g.project_id = a.project_id
        ORDER BY g.version DESC LIMIT 1),
       CASE WHEN EXISTS (SELECT 1 FROM {T["membership"]} m
                         WHERE m.project_id = a.project_id AND m.user_id = %(user)s)
            THEN 1 ELSE 0 END
FROM {T["assignment"]} a
JOIN {T["item"]} i ON i.id = a.item_id
JOIN {T["project"]} p ON p.id = a.project_id
WHERE a.id = %(assignment)s AND a.annotator_id = %(user)s"""


def held(*, assignment_id: int, user_id: int) -> Held | None:
    """The user's own assignment, locked, with what a submit needs."""
    row = _one(HELD + _lock("a"), {"assignment": assignment_id, "user": user_id})
    if row is None:
        return None
    return Held(id=row[0], status=row[1], display_order=_json(row[2]), is_practice=bool(row[3]),
                item_id=row[4], project_id=row[5], is_gold=bool(row[6]),
                gold_ranking=_json(row[7]), settings=_json(row[8]) or {},
                guideline_version=row[9], is_member=bool(row[10]))


COUNT_LABEL = f"""
UPDATE {T["item"]} SET annotations_done = annotations_done + 1,
    leases_live = leases_live - 1, queue_state = {queue_state_sql(0)}
WHERE id = %(item)s"""
COUNT_LATE_LABEL = f"""
UPDATE {T["item"]} SET annotations_done = annotations_done + 1, queue_state = {queue_state_sql(1)}
WHERE id = %(item)s"""
COUNTED = f" RETURNING annotations_done, {OVERLAP}"


def count_label(*, item_id: int, lease_held: bool, bounded: bool) -> tuple[int, int] | None:
    """Count a label on the item. With ``lease_held`` it takes the place of its lease;
    otherwise (a late label) it needs a free slot when ``bounded``. The item's
    (annotations_done, overlap) after the update, in the same statement (so a submit
    learns that it completed the item for free); None: not counted."""
    sql = COUNT_LABEL if lease_held else COUNT_LATE_LABEL
    if not lease_held and bounded:
        sql += f" AND annotations_done + leases_live < {OVERLAP}"
    return _one(sql + COUNTED, {"item": item_id})


CLOSE = f"""
UPDATE {T["assignment"]} SET status = '{SUBMITTED}', finished_at = %(now)s
WHERE id = %(assignment)s"""
STORE = f"""
INSERT INTO {T["annotation"]} (project_id, item_id, assignment_id, annotator_id, source,
    ranking, strength, flags, response_flags, rationale, duration_ms, guideline_version,
    idempotency_key, created_at)
VALUES (%(project)s, %(item)s, %(assignment)s, %(user)s, '{Annotation.Source.HUMAN.value}',
    {_json_cast().format("ranking")}, %(strength)s, {_json_cast().format("flags")},
    {_json_cast().format("response_flags")}, %(rationale)s, %(duration)s, %(version)s, %(key)s, %(now)s)
RETURNING id"""


def store_annotation(*, held: Held, user_id: int, ranking: list[list[int]], strength: int | None,
                     flags: list[str], rationale: str, duration_ms: int | None,
                     idempotency_key: str | None, now: datetime,
                     response_flags: dict[str, list[str]] | None = None) -> int:
    """Close the assignment and store its annotation; returns the annotation's id."""
    _count(CLOSE, {"assignment": held.id, "now": _when(now)})
    return _one(STORE, {
        "project": held.project_id, "item": held.item_id, "assignment": held.id,
        "user": user_id, "ranking": _json_param(ranking), "strength": strength,
        "flags": _json_param(flags), "response_flags": _json_param(response_flags or {}),
        "rationale": rationale, "duration": duration_ms,
        "version": held.guideline_version, "key": idempotency_key, "now": _when(now),
    })[0]
