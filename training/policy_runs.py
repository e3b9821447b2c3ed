"""DPO policy runs: the ``policy`` kind of :mod:`training.runs`.

A run reads the same comparisons as a reward model (:func:`training.data.comparisons_for`:
which labels count, the project's consensus method, reviewers' decisions) and turns each
item's consensus ranking into preference pairs: every response of a better tier against
every response of a worse one, weighted by the item's agreement. Pairs are split by item
(``policy.eval_fraction``, ``policy.seed``), the trainer (:mod:`training.policy`) trains on
the rest, and the held-out pairs give the metrics under TRL's names. The reference and the
new policy then answer a few held-out prompts (:mod:`training.generation`), scored by the
active reward model when there is one.

The new version becomes active when nothing is active, when forced, or when its held-out
``rewards/accuracies`` is at least the active policy's on the same pairs (each with its own
reference) plus ``policy.min_improvement``; see :func:`training.registry.decide`. With
``policy.iterative`` a run starts from the active policy, whose weights become the new
reference (iterative DPO).

``algorithm`` ``rloo`` or ``ppo`` makes it an RL run instead: the same queue and run
machinery, trained and published by :mod:`training.rl_runs`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from annotation.models import Project
from annotation.project_settings import project_settings
from rankwise.errors import ValidationFailed

from . import data, generation, loader, registry, runs, selectors
from .models import ModelVersion, TrainingRun

KIND = ModelVersion.Kind.POLICY
METRIC = "rewards/accuracies"
ALGORITHMS = ("dpo", "rloo", "ppo")
RL_ALGORITHMS = ("rloo", "ppo")
# Parameters of a run that are not the trainer's.
RUN_PARAMETERS = ("algorithm", "force")
TRAIN_SHARE = 0.9  # of the progress bar; evaluation and the comparison take the rest


def train_config(*, project: Project, params: dict[str, Any]):
    """The trainer's config: the project's ``policy`` trainer settings overlaid with the
    run's parameters (a ValidationFailed naming the field that breaks it)."""
    from . import rl_runs

    settings = project_settings(project).policy
    given = {k: v for k, v in params.items() if k not in RUN_PARAMETERS}
    return rl_runs.checked(loader.policy().PolicyConfig, settings.trainer_params(), given)


def algorithm_of(params: dict[str, Any]) -> str:
    return str(params.get("algorithm") or "dpo")


def request_policy_training(*, project: Project, actor=None, params: dict[str, Any] | None = None,
                            triggered_by: str = TrainingRun.Trigger.API,
                            dispatch: bool = True) -> TrainingRun:
    """Queue a policy run (one at a time per project, beside any reward-model run). The
    parameters are checked now, so a bad one is a 400 and not a failed run."""
    from . import rl_runs

    params = dict(params or {})
    algorithm = params.get("algorithm", "dpo")
    if algorithm not in ALGORITHMS:
        raise ValidationFailed.of_fields({"algorithm": (
            f"{algorithm!r} is not available; use one of {', '.join(ALGORITHMS)}.")})
    if algorithm in RL_ALGORITHMS:
        rl_runs.check_request(project=project, params=params)
    else:
        train_config(project=project, params=params)
    return runs.request_run(project=project, kind=TrainingRun.Kind.POLICY, actor=actor,
                            params=params, triggered_by=triggered_by, dispatch=dispatch)


def preference_pairs(comparisons: list[data.ItemComparison]) -> list:
    """Each item's ranking as chosen/rejected pairs (better tier against worse tier)."""
    PreferencePair = loader.policy().PreferencePair
    pairs = []
    for c in comparisons:
        for better, tier in enumerate(c.ranking):
            for worse_tier in c.ranking[better + 1:]:
                for chosen in tier:
                    for rejected in worse_tier:
                        pairs.append(PreferencePair(
                            item_id=c.item_id, prompt=c.prompt, chosen=c.responses[chosen],
                            rejected=c.responses[rejected], weight=float(c.weight)))
    return pairs


def train_and_publish(*, run: TrainingRun, staging: Path, progress,
                      recorder: runs.ProgressRecorder) -> ModelVersion:
    if algorithm_of(run.params) in RL_ALGORITHMS:
        from . import rl_runs

        return rl_runs.train_and_publish(run=run, staging=staging, progress=progress,
                                         recorder=recorder)
    trainer = loader.policy()
    project = run.project
    options = project_settings(project).policy
    labelled = runs.labelled_data(run, needs="a policy")
    config = train_config(project=project, params=run.params)
    pairs = preference_pairs(labelled.comparisons)
    train_set, eval_set = trainer.split_by_item(pairs, eval_fraction=float(config.eval_fraction),
                                                seed=int(config.seed))
    active = selectors.active_version(project_id=project.pk, kind=KIND)
    # A fresh copy, not the process's shared loaded one: training changes it.
    init = (trainer.load(active.directory) if options.iterative and active is not None
            else None)
    result = trainer.train(train_set, config=config, init=init,
                           progress=lambda f, loss=None: progress(TRAIN_SHARE * f, loss))
    metrics = runs.finite(trainer.evaluate(result.policy, eval_set))
    rows = generation.held_out_generations(result.policy, [p.prompt for p in eval_set],
                                           limit=int(options.comparison_prompts))
    scored = generation.score_rows(project=project, rows=rows)
    metrics.update(
        algorithm="dpo", n_train=len(train_set), n_eval=len(eval_set),
        n_train_items=len({p.item_id for p in train_set}),
        n_eval_items=len({p.item_id for p in eval_set}),
        train_seconds=round(float(result.seconds), 2),
        n_parameters=int(result.policy.n_parameters),
        win_rate=scored["win_rate"], reward_model=scored["reward_model"],
        iterative_from=active.version if init is not None else None,
        train=runs.finite(result.train_metrics),
    )
    progress(0.97)
    trainer.save(result, staging)
    (staging / generation.COMPARISON_FILE).write_text(json.dumps(rows), encoding="utf-8")
    decision = registry.decide(
        kind=KIND, active=active, metrics=metrics, metric=METRIC,
        force=bool(run.params.get("force")), min_improvement=float(options.min_improvement),
        evaluate_active=lambda version: _judged(trainer, version, eval_set),
    )
    return registry.publish(
        kind=KIND, run=run, staging=staging, metrics=metrics, config=runs.finite(config.to_dict()),
        fingerprint=labelled.fingerprint,
        eval_split={"seed": int(config.seed), "fraction": float(config.eval_fraction),
                    "train_items": metrics["n_train_items"],
                    "eval_items": sorted({int(p.item_id) for p in eval_set})},
        activate=decision.activate, outcome=decision.outcome, curve=recorder.curve,
    )


def _judged(trainer, version: ModelVersion, pairs: list) -> dict[str, Any]:
    """The active policy's held-out metrics on the new run's pairs (no KL: sampling it
    would only cost time, and the decision does not read it)."""
    found = trainer.evaluate(generation.policy_for(version), pairs, kl_prompts=0)
    found.pop("kl", None)
    return runs.finite(found)
