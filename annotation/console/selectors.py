"""Reads of the manager's console: members with the guideline version each acknowledged,
and the project's guideline versions with how many members read each.

Only current members are listed: who else once acknowledged a version (a staff user, a
member since removed) is not the manager's business."""

from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet

from ..models import Guideline, Membership, Project


def member_rows(*, project: Project) -> QuerySet[Membership]:
    """The project's members, each with ``acknowledged_version`` (the newest version of
    this project's guideline they acknowledged, or None) and ``acknowledged_at``."""
    of_project = Q(user__acknowledgements__guideline__project=project)
    return (
        project.memberships.select_related("user", "paused_by")
        .annotate(
            acknowledged_version=Max("user__acknowledgements__guideline__version",
                                     filter=of_project),
            acknowledged_at=Max("user__acknowledgements__created_at", filter=of_project),
        )
        .order_by("id")
    )


def guideline_versions(*, project: Project) -> QuerySet[Guideline]:
    """Every version, newest first, with ``n_acknowledged``: how many current members
    acknowledged it."""
    members = project.memberships.values("user_id")
    return (
        project.guidelines.select_related("created_by")
        .annotate(n_acknowledged=Count("acknowledgements",
                                       filter=Q(acknowledgements__user_id__in=members)))
        .order_by("-version")
    )
