"""When consensus and trust are recomputed: by beat, for the projects whose labels or
reviews changed since their last recompute, at most once per ``quality.debounce_seconds``.

Nothing is sent from the request that changed a label (the submit path stays as lean as it
was), and nothing waits on the broker with a countdown: a sweep every 30 s looks at each
project's newest label (one probe of the (project, created_at) index) and newest review,
and recomputes the projects that are behind. On demand: ``POST
/api/v1/projects/{id}/consensus/``.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Max
from django.utils import timezone

from ..models import Annotation, Project, Review
from ..project_settings import project_settings

RECOMPUTE_TASK = "annotation.recompute_quality"


def changed_at(project: Project):
    """The newest label or review of the project (None: neither)."""
    label = (Annotation.objects.filter(project=project, superseded=False).order_by("-created_at")
             .values_list("created_at", flat=True).first())
    review = Review.objects.filter(item__project=project).aggregate(at=Max("created_at"))["at"]
    return max((t for t in (label, review) if t is not None), default=None)


def due_projects(*, now=None) -> list[Project]:
    """Projects whose labels or reviews are newer than their last recompute, and whose last
    recompute is at least ``quality.debounce_seconds`` old."""
    now = now or timezone.now()
    due = []
    for project in Project.objects.order_by("id"):
        changed = changed_at(project)
        last = project.quality_computed_at
        if changed is None or (last is not None and changed <= last):
            continue
        wait = timedelta(seconds=project_settings(project).quality.debounce_seconds)
        if last is None or now - last >= wait:
            due.append(project)
    return due
