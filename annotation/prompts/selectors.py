"""Reads of pending prompts: what a policy should propose responses for next."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from ..models import Project
from .models import PendingPrompt

MAX_ATTEMPTS = 3


def open_prompts(*, project: Project | int) -> QuerySet[PendingPrompt]:
    """Prompts still waiting for responses, oldest first: pending, and failed ones that
    have attempts left."""
    project_id = getattr(project, "pk", project)
    return (PendingPrompt.objects.filter(project_id=project_id, status=PendingPrompt.Status.PENDING)
            | PendingPrompt.objects.filter(project_id=project_id,
                                           status=PendingPrompt.Status.FAILED,
                                           attempts__lt=MAX_ATTEMPTS)).order_by("id")


def counts(*, project: Project | int) -> dict[str, int]:
    """How many prompts of the project are pending, proposed and failed."""
    project_id = getattr(project, "pk", project)
    found = dict.fromkeys(PendingPrompt.Status.values, 0)
    rows = (PendingPrompt.objects.filter(project_id=project_id).order_by().values("status")
            .annotate(n=Count("id")))
    found.update({row["status"]: row["n"] for row in rows})
    return found
