"""The judges console: a project's constitution editor, its AI judges with their agreement
with people, runs started after their estimate was seen, and each run's progress.

Thin like the manager's console of :mod:`annotation.console.views`: a form parses the
input, one service of :mod:`judges.services` (which audit-logs) does the work, and a
service's error is shown next to the field it names with what was typed kept. A failed
POST answers the page again with the error's status (400, or 409 for a conflict); a
successful one redirects (303). These pages answer 404 to anyone but the project's
managers, as the console's do. A run is started in two steps: the first post answers the
estimate the run would be created with (``request_run(dry_run=True)``), the second queues
it.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from annotation.models import Project
from annotation.permissions import RANK, Role, role_in
from rankwise.errors import ApplicationError

from . import forms, revisions, selectors, services
from .models import Judge, JudgeRun

RUNS_LISTED = 5  # per judge on the judges page


def manager_project(request, pk) -> Project:
    """The project, for its managers (and staff); 404 for anyone else."""
    project = get_object_or_404(Project, pk=pk)
    role = role_in(user=request.user, project=project)
    if role is None or RANK[role] < RANK[Role.MANAGER]:
        raise Http404("No such project.")
    return project


def see_other(name: str, *args) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse(name, args=args), status=303)


# --- the constitution -----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def constitution_editor(request, pk):
    """The current principles as editable rows, published as a new version; every earlier
    version listed and readable (``?version=N``)."""
    project = manager_project(request, pk)
    current = selectors.current_constitution(project=project)
    viewing, problems, status = None, [], 200
    if request.method == "POST":
        rows = forms.principle_rows(request.POST)
        if request.POST.get("action") == "add":
            rows.append(forms.blank_row())
        else:
            principles, sent = forms.to_publish(rows)
            try:
                constitution = services.publish_constitution(
                    actor=request.user, project=project, principles=principles)
            except ApplicationError as exc:
                problems = forms.place_principle_errors(rows, sent, exc)
                status = exc.status
            else:
                messages.success(request, f"Version {constitution.version} published with "
                                 f"{len(constitution.principles)} principle"
                                 f"{'s' if len(constitution.principles) != 1 else ''}.")
                return see_other("judges-constitution", project.pk)
    else:
        viewing = _version_asked(request, project)
        rows = forms.rows_of(current.principles if current else [],
                             blanks=1 if current else 2)
    return render(request, "judges/constitution.html", {
        "project": project, "current": current, "viewing": viewing, "rows": rows,
        "problems": problems, "versions": project.constitutions.select_related("created_by")
        .order_by("-version"),
    }, status=status)


def _version_asked(request, project: Project):
    asked = request.GET.get("version")
    if asked is None:
        return None
    if not asked.isdigit():
        raise Http404("No such version.")
    return get_object_or_404(project.constitutions, version=int(asked))


# --- judges and runs ------------------------------------------------------------------------


# What each estimate figure is called on the page, by kind of run.
ESTIMATE_LABELS = {
    "judge": [("items", "Items"), ("comparisons", "Calls to the model"),
              ("prompt_chars", "Prompt characters"), ("already_judged", "Already judged, skipped")],
    "revise": [("items", "Items"), ("responses", "Responses to rewrite"),
               ("calls", "Calls to the model"), ("prompt_chars", "Prompt characters (at least)"),
               ("already_revised", "Already rewritten, skipped")],
}


def estimate_rows(kind: str, estimate: dict) -> list[tuple[str, str, object]]:
    """(key, label, value) of each figure of an estimate, in the page's order."""
    return [(key, label, estimate.get(key)) for key, label in ESTIMATE_LABELS[kind]]


def _judges_page(request, project: Project, *, judge_form=None, asked=None,
                 status: int = 200):
    """The page; ``asked``: the run being asked for, ``{"judge", "kind", "form",
    "estimate"}`` (its bound form, and the estimate once there is one), shown in that
    judge's card."""
    cards = []
    for judge in selectors.judges_of(project=project):
        mine = asked if asked is not None and asked["judge"].pk == judge.pk else {}
        runs = list(selectors.runs_of(judge=judge)[:RUNS_LISTED])
        can_revise = judge.backend != Judge.Backend.REWARD_MODEL
        cards.append({
            "judge": judge, "runs": runs, "latest": runs[0] if runs else None,
            "agreement": selectors.agreement(judge=judge),
            "run_form": mine["form"] if mine.get("kind") == "judge"
            else forms.RunForm(judge=judge),
            "revise_form": (mine["form"] if mine.get("kind") == "revise"
                            else forms.ReviseForm(judge=judge)) if can_revise else None,
            "asked": mine.get("kind"),
            "estimate": mine.get("estimate"),
            "figures": estimate_rows(mine["kind"], mine["estimate"]["estimate"])
            if mine.get("estimate") else [],
        })
    return render(request, "judges/judges.html", {
        "project": project, "cards": cards,
        "constitution": selectors.current_constitution(project=project),
        "judge_form": judge_form or forms.JudgeForm(),
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def judges_page(request, pk):
    """The project's judges; a POST adds one."""
    project = manager_project(request, pk)
    if request.method == "GET":
        return _judges_page(request, project)
    form = forms.JudgeForm(request.POST)
    if not form.is_valid():
        return _judges_page(request, project, judge_form=form, status=400)
    try:
        judge = services.create_judge(actor=request.user, project=project, **form.cleaned_data)
    except ApplicationError as exc:
        form.show(exc)
        return _judges_page(request, project, judge_form=form, status=exc.status)
    messages.success(request, f"Judge “{judge.name}” added.")
    return see_other("judges-page", project.pk)


@login_required
@require_POST
def run_request(request, pk, judge_id):
    """``action=estimate``: what the run would cost, nothing stored; ``action=start``:
    queue it and go to its page."""
    return _ask_for_run(request, pk, judge_id, kind="judge")


@login_required
@require_POST
def revise_request(request, pk, judge_id):
    """The same two steps for a critique-and-revise run."""
    return _ask_for_run(request, pk, judge_id, kind="revise")


def _ask_for_run(request, pk, judge_id, *, kind: str):
    project = manager_project(request, pk)
    judge = get_object_or_404(Judge, pk=judge_id, project=project)
    form = (forms.RunForm if kind == "judge" else forms.ReviseForm)(request.POST, judge=judge)
    asked = {"judge": judge, "kind": kind, "form": form}
    if not form.is_valid():
        return _judges_page(request, project, asked=asked, status=400)
    start = request.POST.get("action") == "start"
    data = form.cleaned_data
    try:
        if kind == "judge":
            run = services.request_run(actor=request.user, judge=judge, items=data["items"],
                                       limit=data["limit"], dry_run=not start)
        else:
            run = revisions.request_revision_run(
                actor=request.user, judge=judge, items=data["items"], limit=data["limit"],
                rounds=data["rounds"], dry_run=not start)
    except ApplicationError as exc:
        form.show(exc)
        return _judges_page(request, project, asked=asked, status=exc.status)
    if not start:
        asked["estimate"] = ({"estimate": run.estimate, "n_items": run.n_items,
                              "constitution_version": run.constitution_version}
                             if isinstance(run, JudgeRun) else run)
        return _judges_page(request, project, asked=asked)
    what = "Run" if kind == "judge" else "Critique-and-revise run"
    messages.success(request, f"{what} {run.pk} of {judge.name} queued: {run.n_items} item"
                     f"{'s' if run.n_items != 1 else ''}.")
    return see_other("judges-run", project.pk, run.pk)


def _run_of(project: Project, run_id) -> JudgeRun:
    return get_object_or_404(JudgeRun.objects.select_related("judge", "created_by"),
                             pk=run_id, judge__project=project)


def _run_page(request, project: Project, run: JudgeRun, *, problem: str = "",
              status: int = 200):
    return render(request, "judges/run.html", {
        "project": project, "run": run, "problem": problem, "title": f"Run {run.pk}",
        "selection": (f"{len(run.selection)} chosen items" if isinstance(run.selection, list)
                      else dict(forms.SELECTION_CHOICES).get(run.selection, run.selection)),
        "live": run.status not in JudgeRun.FINISHED,
        "figures": estimate_rows(run.kind if run.kind in ESTIMATE_LABELS else "judge",
                                 run.estimate or {}),
        "percent": round(run.progress * 100),
    }, status=status)


@login_required
def run_page(request, pk, run_id):
    project = manager_project(request, pk)
    return _run_page(request, project, _run_of(project, run_id))


@login_required
@require_POST
def run_cancel(request, pk, run_id):
    project = manager_project(request, pk)
    run = _run_of(project, run_id)
    try:
        services.cancel_run(actor=request.user, run=run)
    except ApplicationError as exc:
        run.refresh_from_db()
        return _run_page(request, project, run, problem=f"Nothing to cancel: {exc.detail}",
                         status=exc.status)
    messages.success(request, f"Run {run.pk} cancelled; labels already written stay.")
    return see_other("judges-run", project.pk, run.pk)
