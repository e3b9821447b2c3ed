"""Reads: querysets for projects, members, guidelines and items."""

from __future__ import annotations

from django.db.models import Case, CharField, F, QuerySet, Value, When

from .models import Acknowledgement, Guideline, Item, Membership, Project


def projects_for(*, user) -> QuerySet[Project]:
    qs = Project.objects.all()
    if not user.is_staff:
        qs = qs.filter(memberships__user=user)
    return qs.order_by("id")


def project_by_reference(ref: str) -> Project:
    """The project with this id or, failing that, this exact name (for the command line).

    Raises LookupError with a message fit for the user when none or several match.
    """
    if ref.isdigit():
        found = Project.objects.filter(pk=int(ref)).first()
        if found:
            return found
    matches = list(Project.objects.filter(name=ref)[:2])
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise LookupError(f"Several projects are named {ref!r}; give the id.")
    raise LookupError(f"No project with id or name {ref!r}.")


def members_of(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("id")


def current_guideline(*, project: Project) -> Guideline | None:
    return project.guidelines.order_by("-version").first()


def has_acknowledged_current(*, project: Project, user) -> bool:
    """True when the project has no guideline or the user acknowledged its newest version."""
    guideline = current_guideline(project=project)
    if guideline is None:
        return True
    return Acknowledgement.objects.filter(guideline=guideline, user=user).exists()


def items_of(*, project: Project) -> QuerySet[Item]:
    """Items with their progress status: pending, in_progress or done."""
    return (
        project.items.all()
        .prefetch_related("responses")
        .annotate(
            status=Case(
                When(annotations_done__gte=project.overlap, then=Value("done")),
                When(annotations_done__gt=0, then=Value("in_progress")),
                When(leases_live__gt=0, then=Value("in_progress")),
                default=Value("pending"),
                output_field=CharField(),
            ),
            overlap=Value(project.overlap),
        )
        .order_by("id")
    )


def project_progress(*, project: Project) -> dict:
    from django.db.models import Count, Q, Sum

    agg = project.items.aggregate(
        n_items=Count("id"),
        n_done=Count("id", filter=Q(annotations_done__gte=project.overlap)),
        n_labels=Sum("annotations_done"),
        n_gold=Count("id", filter=Q(is_gold=True)),
    )
    return {key: value or 0 for key, value in agg.items()}


__all__ = [
    "projects_for",
    "project_by_reference",
    "members_of",
    "current_guideline",
    "has_acknowledged_current",
    "items_of",
    "project_progress",
    "F",
]
