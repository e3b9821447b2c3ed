"""Web UI: a project's reward models (reviewers and managers), training by hand, and a box
to score your own responses with the active model."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.models import Project
from annotation.permissions import RANK, Role, role_in
from annotation.project_settings import project_settings
from rankwise.errors import ApplicationError

from . import runs, selectors
from .models import ModelVersion, TrainingRun

CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 600, 160, 6


def project_for_page(request, pk, at_least: str) -> tuple[Project, str]:
    project = get_object_or_404(Project, pk=pk)
    role = role_in(user=request.user, project=project)
    if role is None or RANK[role] < RANK[at_least]:
        raise Http404("No such project.")
    return project, role


def loss_chart(curve: list) -> dict | None:
    """The loss curve as SVG polyline points in a CHART_WIDTH × CHART_HEIGHT box (x:
    training progress 0..1, y: loss, top = highest), with the range for the labels."""
    points = [(float(x), float(y)) for x, y in curve or []]
    if len(points) < 2:
        return None
    lo, hi = min(y for _, y in points), max(y for _, y in points)
    span = hi - lo or 1.0
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD
    svg = " ".join(
        f"{CHART_PAD + x * inner_w:.1f},{CHART_PAD + (hi - y) / span * inner_h:.1f}"
        for x, y in points
    )
    return {"points": svg, "first": points[0][1], "last": points[-1][1], "low": lo, "high": hi,
            "width": CHART_WIDTH, "height": CHART_HEIGHT}


@login_required
def models_page(request, pk):
    project, role = project_for_page(request, pk, Role.REVIEWER)
    run = selectors.latest_run(project=project)
    versions = list(selectors.versions_of(project=project, kind=ModelVersion.Kind.REWARD)
                    .order_by("-version"))
    return render(request, "training/models.html", {
        "project": project,
        "role": role,
        "is_manager": RANK[role] >= RANK[Role.MANAGER],
        "versions": versions,
        "active": next((v for v in versions if v.is_active), None),
        "run": run,
        "run_live": run is not None and not run.is_finished,
        "chart": loss_chart(run.loss_curve) if run is not None else None,
        "settings": project_settings(project).reward_model,
        "modes": ["head", "finetune"],
    })


@login_required
@require_POST
def train_now(request, pk):
    project, _ = project_for_page(request, pk, Role.MANAGER)
    params: dict = {}
    if request.POST.get("mode") in ("head", "finetune"):
        params["mode"] = request.POST["mode"]
    if request.POST.get("force") == "on":
        params["force"] = True
    try:
        run = runs.request_training(project=project, actor=request.user, params=params,
                                    triggered_by=TrainingRun.Trigger.API)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Training run {run.pk} queued.")
    return redirect("reward-models", pk=project.pk)
