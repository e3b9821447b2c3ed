"""Web UI pages shared by every role: home (my projects), a project page, guidelines."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from . import selectors, services
from .models import Project
from .permissions import RANK, Role, role_in
from .rendering import markdown_to_html


def _project_for_page(request, pk, at_least=Role.ANNOTATOR) -> tuple[Project, str]:
    project = get_object_or_404(Project, pk=pk)
    role = role_in(user=request.user, project=project)
    if role is None or RANK[role] < RANK[at_least]:
        raise Http404("No such project.")
    return project, role


@login_required
def home(request):
    rows = []
    for project in selectors.projects_for(user=request.user):
        role = role_in(user=request.user, project=project)
        progress = selectors.project_progress(project=project)
        wanted = progress["n_items"] * project.overlap
        progress["percent"] = round(100 * progress["n_labels"] / wanted) if wanted else 0
        rows.append({"project": project, "role": role, "progress": progress})
    return render(request, "annotation/home.html", {"rows": rows})


@login_required
def project_detail(request, pk):
    project, role = _project_for_page(request, pk)
    context = {
        "project": project,
        "role": role,
        "is_manager": RANK[role] >= RANK[Role.MANAGER],
        "progress": selectors.project_progress(project=project),
        "guideline": selectors.current_guideline(project=project),
        "acknowledged": selectors.has_acknowledged_current(project=project, user=request.user),
    }
    if context["is_manager"]:
        context["members"] = selectors.members_of(project=project)
    return render(request, "annotation/project.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def guidelines(request, pk):
    project, role = _project_for_page(request, pk)
    guideline = selectors.current_guideline(project=project)
    if request.method == "POST" and guideline is not None:
        services.acknowledge_guideline(user=request.user, guideline=guideline)
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(target)
        return redirect("project", pk=project.pk)
    return render(request, "annotation/guidelines.html", {
        "project": project,
        "guideline": guideline,
        "html": markdown_to_html(guideline.text) if guideline else "",
        "acknowledged": selectors.has_acknowledged_current(project=project, user=request.user),
        "next": request.GET.get("next", ""),
    })
