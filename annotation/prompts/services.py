"""Writes of pending prompts: stored by an import, turned into items by a policy's proposals.

Proposing is idempotent and safe under concurrency: the pending row is locked and
re-read, so two workers proposing for the same prompt create one item; the loser gets None.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from ..imports.formats import ItemRecord, content_hash
from ..models import Item, Project, Response
from .models import PendingPrompt

OPEN = (PendingPrompt.Status.PENDING, PendingPrompt.Status.FAILED)
BATCH = 1000


def store_prompts(*, project: Project, records: Iterable[tuple[str, ItemRecord]]) -> int:
    """Store checked ``prompts`` records (already de-duplicated against the project) in the
    caller's transaction; how many."""
    rows = [PendingPrompt(project=project, prompt=record.prompt or "", messages=record.messages,
                          meta=record.meta, content_hash=digest)
            for digest, record in records]
    PendingPrompt.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)


def propose(*, pending_id: int, texts: list[str], model: str) -> Item | None:
    """Make the pending prompt an ordinary item with these responses, each recorded as
    written by ``model``. None when the prompt was proposed for meanwhile (or is gone).
    Responses that repeat one another, or an item the project already has, fail the prompt
    with the reason instead."""
    with transaction.atomic():
        pending = (PendingPrompt.objects.select_for_update()
                   .filter(pk=pending_id, status__in=OPEN).first())
        if pending is None:
            return None
        if len(set(texts)) != len(texts):
            _fail(pending, f"{model} wrote the same response twice in {len(texts)} samples.")
            return None
        digest = content_hash(prompt=pending.prompt or None, messages=pending.messages,
                              responses=texts)
        twin = Item.objects.filter(project_id=pending.project_id, content_hash=digest).first()
        if twin is not None:
            _fail(pending, f"Item {twin.pk} already holds this prompt with these responses.")
            return None
        item = Item.objects.create(
            project_id=pending.project_id, prompt=pending.prompt, messages=pending.messages,
            content_hash=digest, meta={**pending.meta, "proposed_by": model})
        Response.objects.bulk_create([
            Response(item=item, position=position, text=text, model=model)
            for position, text in enumerate(texts)])
        pending.status = PendingPrompt.Status.PROPOSED
        pending.item = item
        pending.error = ""
        pending.attempts += 1
        pending.proposed_at = timezone.now()
        pending.save(update_fields=["status", "item", "error", "attempts", "proposed_at"])
    return item


def fail(*, pending_id: int, reason: str) -> None:
    """Record why proposing for a still-open prompt failed."""
    with transaction.atomic():
        pending = (PendingPrompt.objects.select_for_update()
                   .filter(pk=pending_id, status__in=OPEN).first())
        if pending is not None:
            _fail(pending, reason)


def _fail(pending: PendingPrompt, reason: str) -> None:
    pending.status = PendingPrompt.Status.FAILED
    pending.error = reason[:500]
    pending.attempts += 1
    pending.save(update_fields=["status", "error", "attempts"])
