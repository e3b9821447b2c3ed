"""Writes of webhooks: adding and removing a project's hooks, a test ping, and
:func:`emit` (defined in :mod:`.events`), the one way an event is announced.

Each create and delete is in the project's audit log; the secret never is.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from rankwise.errors import ValidationFailed
from rankwise.text import text_problem

from ..models import Project
from ..services import audit
from . import transport
from .events import PING, emit, queue
from .models import EVENTS, Webhook

__all__ = ["EVENTS", "create_webhook", "delete_webhook", "emit", "send_test", "url_problem"]

SECRET_CHARS = (16, 256)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a destination under this server's settings; else None."""
    if problem := text_problem(url):
        return f"The URL {problem}"
    return transport.url_problem(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_HOSTS)


def _check(*, url: str, secret: str, events: list[str]) -> list[str]:
    problems: dict[str, str] = {}
    if problem := url_problem(url):
        problems["url"] = problem
    low, high = SECRET_CHARS
    if not low <= len(secret) <= high:
        problems["secret"] = f"The secret must be {low} to {high} characters; it has {len(secret)}."
    elif problem := text_problem(secret):
        problems["secret"] = f"The secret {problem}"
    unknown = [event for event in events if event not in EVENTS]
    if not events:
        problems["events"] = f"Name at least one event: {', '.join(EVENTS)}."
    elif unknown:
        problems["events"] = (f"Unknown event {unknown[0]!r}; the events are "
                              f"{', '.join(EVENTS)}.")
    if problems:
        raise ValidationFailed.of_fields(problems)
    return list(dict.fromkeys(events))


@transaction.atomic
def create_webhook(*, actor, project: Project, url: str, secret: str,
                   events: list[str]) -> Webhook:
    """A hook that receives ``events`` of the project at ``url``, signed with ``secret``."""
    events = _check(url=url, secret=secret, events=list(events))
    hook = Webhook.objects.create(project=project, url=url, secret=secret, events=events,
                                  created_by=actor if getattr(actor, "is_authenticated",
                                                              False) else None)
    audit(actor=actor, action="webhook.create", project=project, target=hook, url=url,
          events=events)
    return hook


@transaction.atomic
def delete_webhook(*, actor, webhook: Webhook) -> None:
    """Remove the hook and its delivery log; pending deliveries are never sent."""
    audit(actor=actor, action="webhook.delete", project=webhook.project, target=webhook,
          url=webhook.url, events=webhook.events)
    webhook.delete()


@transaction.atomic
def send_test(*, webhook: Webhook) -> int:
    """Queue a ``ping`` to this hook alone, whatever its events; the delivery's id."""
    (delivery_id,) = queue(hook_ids=[webhook.pk], event=PING, payload={
        "message": "A test delivery: this webhook is set up.", "events": webhook.events})
    return delivery_id
