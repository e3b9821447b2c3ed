"""Reads of the item list: each item's status, the counts per status, filters, search and
pages. A fixed number of queries per page, whatever the page size or the project's size.

An item has one status: ``gold``; otherwise ``complete`` once it has ``overlap`` labels;
otherwise ``in_progress`` while someone holds a live lease on it; otherwise ``open``.
Two filters cut across them: ``needs_review`` (the review queue of
:func:`annotation.quality.review_queue.review_queue`) and ``skipped`` (someone skipped it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.db.models.functions import Substr
from django.utils import timezone

from ..models import Annotation, Assignment, Item, Project
from ..quality.review_queue import review_queue

STATUSES = ("open", "in_progress", "complete", "gold")
FILTERS = (*STATUSES, "needs_review", "skipped")
LABELS = {"open": "Open", "in_progress": "In progress", "complete": "Complete", "gold": "Gold",
          "needs_review": "Needs review", "skipped": "Skipped"}
HELP = {"open": "Needs more labels and nobody is working on it",
        "in_progress": "Someone holds a live lease on it",
        "complete": "Has as many labels as the project's overlap",
        "gold": "Has a known answer, served to check annotators",
        "needs_review": "In the review queue: low agreement, a flag or a missed gold answer",
        "skipped": "Someone skipped it; their reasons are shown"}
PAGE_SIZE = 50
# A search is a plain ILIKE over prompts; its count stops here so that a common word in a
# project of 100,000 items costs no more than a page.
SEARCH_COUNT_LIMIT = 1000
EXCERPT_CHARS = 160
SKIP_REASONS_SHOWN = 3
REVIEW_CACHE_SECONDS = 3600


@dataclass(frozen=True)
class Filters:
    status: str = ""  # one of FILTERS, or "" for every item
    search: str = ""
    id_from: int | None = None
    id_to: int | None = None


@dataclass
class Row:
    id: int
    excerpt: str
    status: str
    labels: int
    created_at: datetime
    review_reasons: list[str] = field(default_factory=list)
    skips: list[dict] = field(default_factory=list)  # newest first: username, reason, at
    n_skips: int = 0

    @property
    def status_label(self) -> str:
        return LABELS[self.status]


@dataclass
class Page:
    rows: list[Row]
    number: int
    has_next: bool
    total: int | None  # None: a search, counted up to SEARCH_COUNT_LIMIT in ``matches``
    matches: int | None = None

    @property
    def n_pages(self) -> int | None:
        if self.total is None:
            return None
        return max(1, -(-self.total // PAGE_SIZE))


def _live_lease(now: datetime) -> Exists:
    return Exists(Assignment.objects.filter(item=OuterRef("pk"), status=Assignment.Status.LEASED,
                                            lease_expires_at__gt=now))


def _skipped() -> Exists:
    return Exists(Assignment.objects.filter(item=OuterRef("pk"),
                                            status=Assignment.Status.SKIPPED))


def _status_q(status: str, overlap: int, now: datetime) -> Q:
    needs_labels = Q(is_gold=False, annotations_done__lt=overlap)
    return {
        "gold": Q(is_gold=True),
        "complete": Q(is_gold=False, annotations_done__gte=overlap),
        "in_progress": needs_labels & Q(_live_lease(now)),
        "open": needs_labels & ~Q(_live_lease(now)),
    }[status]


def review_reasons(*, project: Project) -> dict[int, list[str]]:
    """item id → why it is in the review queue (the review page's own queue).

    The queue fits every labelled item's consensus (seconds at 100,000 labels), so it is
    kept in the cache under a fingerprint of everything it reads: a new label, revision,
    review or exclusion, a new gold item or other settings make a new key."""
    key = f"browse:review-queue:{project.pk}:{_queue_fingerprint(project)}"
    found = cache.get(key)
    if found is None:
        found = {row["item"]: row["reasons"] for row in review_queue(project=project)}
        cache.set(key, found, timeout=REVIEW_CACHE_SECONDS)
    return found


def _queue_fingerprint(project: Project) -> str:
    labels = Annotation.objects.filter(project=project).aggregate(
        n=Count("pk"), last=Max("pk"), excluded=Count("pk", filter=Q(excluded=True)),
        superseded=Count("pk", filter=Q(superseded=True)))
    others = Item.objects.filter(project=project).aggregate(
        gold=Count("pk", filter=Q(is_gold=True)),
        review=Max("reviews__pk"))
    # created_at tells apart projects of the same id in different databases sharing a cache.
    parts = (project.created_at.isoformat(), project.settings, sorted(labels.items()),
             sorted(others.items()))
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def status_counts(*, project: Project, in_review: int, now: datetime | None = None) -> dict:
    """Items of the project per status and filter, in one query (plus the review queue the
    caller already has)."""
    now = now or timezone.now()
    overlap = project.overlap
    counts = Item.objects.filter(project=project).aggregate(
        all=Count("pk"),
        skipped=Count("pk", filter=Q(_skipped())),
        **{status: Count("pk", filter=_status_q(status, overlap, now)) for status in STATUSES},
    )
    counts["needs_review"] = in_review
    return counts


def browse_items(*, project: Project, filters: Filters, page: int = 1,
                 reasons: dict[int, list[str]], counts: dict,
                 now: datetime | None = None) -> Page:
    """One page of the project's items matching ``filters``, in id order. ``reasons`` is
    :func:`review_reasons`; ``counts`` is :func:`status_counts` (totals without a search)."""
    now = now or timezone.now()
    items = Item.objects.filter(project=project)
    if filters.status in STATUSES:
        items = items.filter(_status_q(filters.status, project.overlap, now))
    elif filters.status == "skipped":
        items = items.filter(_skipped())
    elif filters.status == "needs_review":
        items = items.filter(pk__in=list(reasons))
    if filters.id_from is not None:
        items = items.filter(pk__gte=filters.id_from)
    if filters.id_to is not None:
        items = items.filter(pk__lte=filters.id_to)
    if filters.search:
        items = items.filter(prompt__icontains=filters.search)
    items = items.order_by("pk")
    start = (page - 1) * PAGE_SIZE
    found = list(items.annotate(live=_live_lease(now))
                 .values("pk", "is_gold", "annotations_done", "created_at", "live")
                 .annotate(head=Substr("prompt", 1, EXCERPT_CHARS + 1))
                 [start:start + PAGE_SIZE + 1])
    has_next = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    rows = [Row(id=r["pk"], excerpt=_excerpt(r["head"]), labels=r["annotations_done"],
                status=_status_of(r, project.overlap), created_at=r["created_at"],
                review_reasons=reasons.get(r["pk"], [])) for r in found]
    _add_conversation_excerpts([row for row in rows if not row.excerpt])
    _add_skips(rows)
    total = matches = None
    if filters.search:
        matches = items[:SEARCH_COUNT_LIMIT].count()
    elif filters.id_from is None and filters.id_to is None:
        total = counts[filters.status or "all"]
    else:
        total = items.count()
    return Page(rows=rows, number=page, has_next=has_next, total=total, matches=matches)


def _status_of(row: dict, overlap: int) -> str:
    if row["is_gold"]:
        return "gold"
    if row["annotations_done"] >= overlap:
        return "complete"
    return "in_progress" if row["live"] else "open"


def _excerpt(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1] + "…"


def _add_conversation_excerpts(rows: list[Row]) -> None:
    """A conversation item has no plain prompt: show its first user turn instead."""
    if not rows:
        return
    by_id = {row.id: row for row in rows}
    for pk, messages in Item.objects.filter(pk__in=list(by_id)).values_list("pk", "messages"):
        turns = [m for m in messages or [] if isinstance(m, dict)]
        first = next((m for m in turns if m.get("role") == "user"), turns[0] if turns else {})
        by_id[pk].excerpt = _excerpt(str(first.get("content", "")))


def _add_skips(rows: list[Row]) -> None:
    """Each row's skips, newest first, from one query over the page's items."""
    by_id = {row.id: row for row in rows}
    if not by_id:
        return
    skips = (Assignment.objects.filter(item_id__in=list(by_id), status=Assignment.Status.SKIPPED)
             .order_by("-finished_at", "-pk")
             .values_list("item_id", "annotator__username", "skip_reason", "finished_at"))
    for item_id, username, reason, at in skips:
        row = by_id[item_id]
        row.n_skips += 1
        if len(row.skips) < SKIP_REASONS_SHOWN:
            row.skips.append({"username": username, "reason": reason, "at": at})
