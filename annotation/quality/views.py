"""The dashboard and review pages. Shells, like the ranking page: the figures, the queue and
the decisions come from the REST API in the browser (dashboard.js, review.js), so the page
and the API cannot disagree. Reviewers and managers; an annotator member gets 403, anyone
else 404."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from ..models import Project
from ..permissions import RANK, Role, role_in
from ..project_settings import CONSENSUS_METHODS, project_settings
from . import panels

API = "/api/v1"
METHOD_NAMES = {
    "majority": "Majority",
    "bradley_terry": "Bradley–Terry",
    "dawid_skene": "Dawid–Skene",
}


def _project_for_page(request, pk) -> tuple[Project, str]:
    project = get_object_or_404(Project, pk=pk)
    role = role_in(user=request.user, project=project)
    if role is None:
        raise Http404("No such project.")
    if RANK[role] < RANK[Role.REVIEWER]:
        raise PermissionDenied("This page is for the project's reviewers and managers.")
    return project, role


def _config(request, project: Project, role: str) -> dict:
    base = f"{API}/projects/{project.pk}"
    return {
        "projectId": project.pk,
        "k": project.responses_per_item,
        "userId": request.user.pk,
        "isManager": RANK[role] >= RANK[Role.MANAGER],
        "consensus": project_settings(project).quality.consensus,
        "csrfCookie": settings.CSRF_COOKIE_NAME,
        "urls": {
            "agreement": f"{base}/agreement/",
            "annotators": f"{base}/annotators/",
            "progress": f"{base}/progress/",
            "reviewQueue": f"{base}/review-queue/",
            "member": f"{base}/members/{{id}}/",
            "item": f"{API}/items/{{id}}/",
            "review": f"{API}/items/{{id}}/review/",
            "project": reverse("project", args=[project.pk]),
            "dashboard": reverse("quality-dashboard", args=[project.pk]),
            "reviewPage": reverse("quality-review", args=[project.pk]),
        },
    }


@login_required
@ensure_csrf_cookie
def dashboard(request, pk):
    project, role = _project_for_page(request, pk)
    return render(
        request,
        "annotation/quality/dashboard.html",
        {
            "project": project,
            "role": role,
            "config": _config(request, project, role),
            "panels": panels.rendered(request, project),
        },
    )


@login_required
@ensure_csrf_cookie
def review(request, pk):
    project, role = _project_for_page(request, pk)
    return render(
        request,
        "annotation/quality/review.html",
        {
            "project": project,
            "role": role,
            "config": _config(request, project, role),
            "methods": [(m, METHOD_NAMES.get(m, m)) for m in CONSENSUS_METHODS],
        },
    )
