"""Web UI: a project's policies, DPO and RL (reviewers and managers).

The policies page shows the active policy and its held-out metrics, the latest policy run
(followed live by ``policies.js`` while it runs), every version, and a box that samples the
active policy through the REST API. Managers also get two forms: train a policy now, and
generate candidate responses for the prompt-only items. The compare page puts the
reference's and a version's generations for the held-out prompts side by side, scored by
the active reward model. An RL policy (RLOO, PPO) also shows its over-optimisation chart: the
proxy and held-out reward-model scores of its checkpoints against their KL
(:mod:`training.overoptimisation`).

Each view parses, checks the role, calls one service or a few selectors and renders; the
rules live in :mod:`training.policy_runs`, :mod:`training.generation` and
:mod:`training.candidates`. When the train or candidates service refuses (a
:class:`~rankwise.errors.ApplicationError`), its detail becomes a message on the page the
manager comes back to.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.permissions import RANK, Role
from annotation.project_settings import project_settings
from rankwise.errors import ApplicationError

from . import candidates, generation, overoptimisation, policy_runs, selectors
from .models import ModelVersion, TrainingRun
from .views import loss_chart, project_for_page

# The "Try the policy" box's starting values: the service's defaults, a fixed seed so that
# pressing the button twice shows that sampling is reproducible.
TRY_DEFAULTS = {"max_new_tokens": 64, "temperature": 1.0, "top_p": 1.0, "seed": 0}

# A version's metrics under names a template can read (TRL's names hold a "/").
SHOWN_METRICS = {
    "accuracy": "rewards/accuracies", "margin": "rewards/margins",
    "chosen": "rewards/chosen", "rejected": "rewards/rejected",
    "kl": "kl", "win_rate": "win_rate", "reward_model": "reward_model",
    "n_train": "n_train", "n_eval": "n_eval",
    "heldout_reward": "heldout_reward", "proxy_reward": "proxy_reward",
    "proxy_model": "proxy_model",
}
ALGORITHM_NAMES = {"dpo": "DPO", "rloo": "RLOO", "ppo": "PPO"}


def shown(version: ModelVersion) -> dict:
    """The version and its held-out metrics, as the policies page lists them; an RL
    version also its over-optimisation chart."""
    metrics = version.metrics or {}
    algorithm = metrics.get("algorithm") or "dpo"
    row = {"version": version, "algorithm": algorithm, "is_rl": algorithm != "dpo",
           "algorithm_name": ALGORITHM_NAMES.get(algorithm, algorithm),
           **{name: metrics.get(key) for name, key in SHOWN_METRICS.items()}}
    if row["is_rl"]:
        over = metrics.get("overoptimisation") or {}
        row.update(chart=overoptimisation.chart(over.get("checkpoints"), over.get("best_step")),
                   heldout_rm_accuracy=over.get("heldout_rm_accuracy"),
                   stopped_early=bool(over.get("stopped_early")))
    return row


@login_required
def policies_page(request, pk):
    project, role = project_for_page(request, pk, Role.REVIEWER)
    is_manager = RANK[role] >= RANK[Role.MANAGER]
    run = selectors.latest_run(project=project, kind=TrainingRun.Kind.POLICY)
    versions = [shown(v) for v in selectors.versions_of(project=project,
                                                         kind=ModelVersion.Kind.POLICY)
                .order_by("-version")]
    active = next((v for v in versions if v["version"].is_active), None)
    return render(request, "training/policies.html", {
        "project": project,
        "role": role,
        "is_manager": is_manager,
        "versions": versions,
        "active": active,
        # The active policy's chart when it is an RL one, else the newest RL version's.
        "rl": active if active and active["is_rl"] else next(
            (v for v in versions if v["is_rl"]), None),
        "algorithms": [(a, ALGORITHM_NAMES[a]) for a in policy_runs.ALGORITHMS],
        "run": run,
        "run_live": run is not None and not run.is_finished,
        "chart": loss_chart(run.loss_curve) if run is not None else None,
        "settings": project_settings(project).policy,
        "pending_prompts": candidates.pending_prompts(project=project) if is_manager else None,
        "try": TRY_DEFAULTS,
        "try_limits": {"max_new_tokens": generation.MAX_NEW_TOKENS},
    })


@login_required
@require_POST
def train_policy(request, pk):
    project, _ = project_for_page(request, pk, Role.MANAGER)
    params = {"force": True} if request.POST.get("force") == "on" else {}
    if request.POST.get("algorithm") in policy_runs.ALGORITHMS[1:]:
        params["algorithm"] = request.POST["algorithm"]
    try:
        run = policy_runs.request_policy_training(project=project, actor=request.user,
                                                  params=params,
                                                  triggered_by=TrainingRun.Trigger.API)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        algorithm = policy_runs.algorithm_of(run.params)
        kind = f" ({ALGORITHM_NAMES[algorithm]})" if algorithm != "dpo" else ""
        messages.success(request, f"Policy run {run.pk}{kind} queued.")
    return redirect("policies", pk=project.pk)


@login_required
@require_POST
def generate_candidates(request, pk):
    project, _ = project_for_page(request, pk, Role.MANAGER)
    try:
        queued = candidates.request_candidates(project=project, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        noun = "prompt" if queued == 1 else "prompts"
        messages.success(request, f"{queued} {noun} queued for candidate generation.")
    return redirect("policies", pk=project.pk)


@login_required
def policy_compare(request, pk, version):
    project, _ = project_for_page(request, pk, Role.REVIEWER)
    policy = (selectors.versions_of(project=project, kind=ModelVersion.Kind.POLICY)
              .filter(version=version).first())
    if policy is None:
        raise Http404("No such policy version.")
    result = generation.comparison(version=policy)
    return render(request, "training/policy_compare.html", {
        "project": project,
        "policy": policy,
        "rl": shown(policy),
        "comparison": result,
        "wins": sum(row["winner"] == "policy" for row in result["rows"]),
    })
