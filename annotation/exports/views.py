"""The export page: a manager picks the filters, watches the first rows and the row count
change, downloads the stream, and builds snapshots. A shell like the dashboard: rows,
counts and snapshots come from the REST API in the browser (export.js), so the page and
the API cannot disagree. Managers only; a reviewer or annotator member gets 403, anyone
else 404."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from ..models import Membership, Project
from ..permissions import RANK, Role, role_in
from ..project_settings import CONSENSUS_METHODS, project_settings

API = "/api/v1"
FORMATS = (
    ("trl", "trl", "prompt, chosen, rejected: one row per preferred pair, the layout of TRL's "
     "DPO and reward trainers (conversational for items with messages)."),
    ("hh-rlhf", "hh-rlhf", "chosen and rejected transcripts, as Anthropic's HH-RLHF files "
     "write them; our hh-rlhf import reads them back."),
    ("consensus", "consensus", "one row per item: its responses and consensus ranking."),
    ("annotations", "annotations", "one row per counted label, annotators pseudonymous."),
)
METHOD_NAMES = {
    "majority": "Majority",
    "bradley_terry": "Bradley–Terry",
    "dawid_skene": "Dawid–Skene",
}
SOURCES = (
    ("", "Human and imported labels"),
    ("human", "Human labels only"),
    ("import", "Imported labels only"),
    ("ai", "AI judges' labels only"),
)


def _project_for_page(request, pk) -> Project:
    project = get_object_or_404(Project, pk=pk)
    role = role_in(user=request.user, project=project)
    if role is None:
        raise Http404("No such project.")
    if RANK[role] < RANK[Role.MANAGER]:
        raise PermissionDenied("This page is for the project's managers.")
    return project


def _config(project: Project) -> dict:
    base = f"{API}/projects/{project.pk}"
    return {
        "projectId": project.pk,
        "csrfCookie": settings.CSRF_COOKIE_NAME,
        "previewRows": 10,
        "urls": {
            "export": f"{base}/export/",
            "count": f"{base}/export/count/",
            "snapshots": f"{base}/snapshots/",
            "project": reverse("project", args=[project.pk]),
        },
    }


@login_required
@ensure_csrf_cookie
def export(request, pk):
    project = _project_for_page(request, pk)
    consensus = project_settings(project).quality.consensus
    annotators = (
        Membership.objects.filter(project=project, role=Role.ANNOTATOR)
        .select_related("user").order_by("user__username")
    )
    return render(request, "annotation/exports/export.html", {
        "project": project,
        "config": _config(project),
        "formats": FORMATS,
        "methods": [(m, METHOD_NAMES.get(m, m)) for m in CONSENSUS_METHODS],
        "default_method": METHOD_NAMES.get(consensus, consensus),
        "sources": SOURCES,
        "annotators": [m.user for m in annotators],
        "guideline_versions": list(
            project.guidelines.order_by("-version").values_list("version", flat=True)),
    })
