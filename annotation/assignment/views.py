"""The annotator's ranking page. It is a shell: the task itself is fetched, ranked and
submitted by annotate.js through the REST API, so that the next task loads without a reload
and the page and the API can never disagree about what a valid ranking is."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from annotation import selectors
from annotation.models import Project
from annotation.permissions import Role, has_role

from ..project_settings import project_settings


def _member_project(request, pk) -> Project:
    project = get_object_or_404(Project, pk=pk)
    if not has_role(user=request.user, project=project, at_least=Role.ANNOTATOR):
        raise Http404("No such project.")
    return project


@login_required
@ensure_csrf_cookie
def annotate(request, pk):
    project = _member_project(request, pk)
    guidelines_url = reverse("guidelines", args=[project.pk])
    back_here = f"{guidelines_url}?{urlencode({'next': request.path})}"
    # Checked here too (the API answers 403 as well) so that nobody sees a task flash by
    # before being sent to read the guidelines.
    if not selectors.has_acknowledged_current(project=project, user=request.user):
        return redirect(back_here)
    flags = project_settings(project).flags
    config = {
        "projectId": project.pk,
        "k": project.responses_per_item,
        "flags": list(flags),
        "csrfCookie": settings.CSRF_COOKIE_NAME,
        "urls": {
            "next": f"/api/v1/projects/{project.pk}/next/",
            "guidelinesApi": f"/api/v1/projects/{project.pk}/guidelines/",
            "assignment": "/api/v1/assignments/{id}/",
            "guidelines": back_here,
            "project": reverse("project", args=[project.pk]),
            "progress": f"/api/v1/projects/{project.pk}/my-progress/",
            "label": "/api/v1/annotations/{id}/",
            "myLabels": reverse("my-labels", args=[project.pk]),
        },
    }
    return render(request, "annotation/annotate/rank.html", {
        "project": project,
        "guideline": selectors.current_guideline(project=project),
        "config": config,
        "flag_choices": [
            {"value": flag, "label": flag.replace("_", " ").capitalize()}
            for flag in config["flags"]
        ],
    })


@login_required
@ensure_csrf_cookie
def my_labels(request, pk):
    """The annotator's own labels, newest first, each with a link to revise it; the list
    is read from the API by my_labels.js."""
    project = _member_project(request, pk)
    config = {
        "projectId": project.pk,
        "urls": {
            "list": f"/api/v1/projects/{project.pk}/my-labels/",
            "annotate": reverse("annotate", args=[project.pk]),
        },
    }
    return render(request, "annotation/annotate/my_labels.html",
                  {"project": project, "config": config})
