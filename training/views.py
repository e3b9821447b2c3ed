"""Web UI: a project's reward models (reviewers and managers), training by hand, every run
with its loss curves and held-out accuracy (with its confidence interval), rolling back to
any version (managers), and a box to score your own responses with the active model."""

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
from .significance import MIN_EVAL_PAIRS, wilson_interval

# The loss chart's box and its plot area inside it (room for the axes' ticks and labels).
CHART_WIDTH, CHART_HEIGHT = 600, 220
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 62, 578, 12, 176
RUNS_LISTED = 30


def project_for_page(request, pk, at_least: str) -> tuple[Project, str]:
    project = get_object_or_404(Project, pk=pk)
    role = role_in(user=request.user, project=project)
    if role is None or RANK[role] < RANK[at_least]:
        raise Http404("No such project.")
    return project, role


def loss_chart(curve: list, held_out: list | None = None) -> dict | None:
    """The training loss curve (and the held-out one, when the trainer measured it) as SVG
    polyline points in a CHART_WIDTH × CHART_HEIGHT box: x is training progress 0..1 (the
    share of training steps done), y the loss, highest at the top; with the axes' ticks."""
    points = [(float(p[0]), float(p[1])) for p in curve or []]
    if len(points) < 2:
        return None
    held = [(float(p[0]), float(p[1])) for p in held_out or []]
    values = [y for _, y in points + held]
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0

    def x_of(x: float) -> float:
        return PLOT_LEFT + x * (PLOT_RIGHT - PLOT_LEFT)

    def y_of(y: float) -> float:
        return PLOT_TOP + (hi - y) / span * (PLOT_BOTTOM - PLOT_TOP)

    def polyline(pts):
        return " ".join(f"{x_of(x):.1f},{y_of(y):.1f}" for x, y in pts)

    return {"points": polyline(points), "held_points": polyline(held) if len(held) >= 2 else "",
            "first": points[0][1], "last": points[-1][1], "low": lo, "high": hi,
            "held_last": held[-1][1] if held else None,
            "width": CHART_WIDTH, "height": CHART_HEIGHT,
            "left": PLOT_LEFT, "right": PLOT_RIGHT, "top": PLOT_TOP, "bottom": PLOT_BOTTOM,
            "x_label_x": (PLOT_LEFT + PLOT_RIGHT) // 2, "y_label_y": (PLOT_TOP + PLOT_BOTTOM) // 2,
            "x_ticks": [{"x": round(x_of(t), 1), "label": f"{round(t * 100)}%"}
                        for t in (0, 0.25, 0.5, 0.75, 1)],
            "y_ticks": [{"y": round(y_of(v), 1), "label": f"{v:.3f}"}
                        for v in (hi, (hi + lo) / 2, lo)] if hi > lo else
                       [{"y": round(y_of(hi), 1), "label": f"{hi:.3f}"}]}


def accuracy_note(metrics: dict | None) -> dict | None:
    """Held-out accuracy with its Wilson 95% interval over the pairs it was measured on,
    and whether that is too few pairs to compare models by."""
    metrics = metrics or {}
    accuracy, n = metrics.get("accuracy"), metrics.get("n_pairs")
    if accuracy is None or not n:
        return None
    low, high = wilson_interval(float(accuracy) * int(n), int(n))
    small = int(n) < MIN_EVAL_PAIRS
    text = (f"held-out accuracy {accuracy:.2f} on {n} pair{'s' if n != 1 else ''} "
            f"(95% CI {low:.2f}–{high:.2f})")
    if small:
        text += ": too few to compare reliably"
    return {"accuracy": accuracy, "n": n, "low": low, "high": high, "small": small,
            "text": text}


def chosen_run(request, project: Project) -> TrainingRun | None:
    """The run named by ``?run=`` (one of this project's reward-model runs), else the latest."""
    wanted = request.GET.get("run", "")
    if wanted.isdigit():
        run = selectors.training_runs_of(project=project).filter(pk=int(wanted)).first()
        if run is not None:
            return run
    return selectors.latest_run(project=project)


@login_required
def models_page(request, pk):
    project, role = project_for_page(request, pk, Role.REVIEWER)
    run = chosen_run(request, project)
    latest = selectors.latest_run(project=project)
    versions = list(selectors.versions_of(project=project, kind=ModelVersion.Kind.REWARD)
                    .order_by("-version"))
    active = next((v for v in versions if v.is_active), None)
    settings = project_settings(project).reward_model
    run_version = getattr(run, "model_version", None) if run is not None else None
    # The mode last asked for stays picked: the latest run's, else the project's setting.
    asked = (selectors.training_runs_of(project=project).filter(params__has_key="mode")
             .order_by("-id").first())
    last_mode = asked.params["mode"] if asked is not None else None
    return render(request, "training/models.html", {
        "project": project,
        "role": role,
        "is_manager": RANK[role] >= RANK[Role.MANAGER],
        "versions": versions,
        "active": active,
        "active_note": accuracy_note(active.metrics) if active else None,
        "run": run,
        "run_version": run_version,
        "run_note": accuracy_note(run.metrics) if run is not None else None,
        "decision": (run.metrics or {}).get("decision") if run is not None else None,
        "is_latest": run is not None and latest is not None and run.pk == latest.pk,
        "runs": list(selectors.training_runs_of(project=project)
                     .select_related("model_version").order_by("-id")[:RUNS_LISTED]),
        "run_live": run is not None and not run.is_finished,
        "busy": latest is not None and not latest.is_finished,
        "latest_status": latest.status if latest is not None else "",
        "min_pairs": MIN_EVAL_PAIRS,
        "chart": (loss_chart(run.loss_curve, (run.metrics or {}).get("held_out_loss_curve"))
                  if run is not None else None),
        "settings": settings,
        "modes": ["head", "finetune"],
        "mode": last_mode or settings.mode or "head",
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
