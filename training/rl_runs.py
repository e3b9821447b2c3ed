"""RL policy runs (RLOO, PPO): the RL counterpart of :mod:`training.policy_runs`.

A run is a ``policy`` run whose ``params["algorithm"]`` is ``rloo`` or ``ppo``; it goes
through the same queue, claim, progress, cancellation and failure rules as every run
(:mod:`training.runs`). What it does:

1. **Prompts.** Every non-gold item's prompt, split by item into training and held-out
   prompts (``policy.eval_fraction``, ``policy.seed``).
2. **The start.** With ``policy.rl.reuse_reference`` and an active policy (DPO or RL), the
   run starts from that policy's reference: it stays the frozen reference and a copy of it
   is trained. Otherwise the reference is fine-tuned here exactly as a DPO run builds its
   own (:func:`training.policy.train` with no DPO epochs, on the preference pairs of the
   training items).
3. **Two reward models.** The *proxy* the policy is trained against is the project's
   active reward model (a run needs one). The *held-out* reward model is trained during the
   run, with the project's reward-model settings, on one half of the labelled items (a
   seeded split); its accuracy on the other half is recorded. It is never registered and
   never optimised against: it measures whether what the policy learned is what annotators
   prefer or what the proxy rewards by mistake (:mod:`training.overoptimisation`).
4. **RL** (:func:`training.policy.rl.train_rl`) with ``policy.rl`` settings overlaid with
   the run's parameters; checkpoints every ``eval_every`` steps record KL, proxy and
   held-out scores on the held-out prompts; the best checkpoint's weights are kept.
5. **Publish** as a ``policy`` version with ``metrics.algorithm``, ``kl``, the trainer's
   metrics under TRL's names, ``overoptimisation`` and the curves, atomically
   (:func:`training.registry.publish`); the held-out generations beside the reference's
   feed the comparison page as for DPO.

Activation: the new version becomes active when nothing is active, when forced, or when
its mean held-out-reward-model score over the held-out prompts (one seeded answer each)
is higher than the active policy's on the same prompts under the same held-out model.
Whatever fails before the publish commits leaves the active policy as it was.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections import namedtuple
from pathlib import Path
from typing import Any

from annotation.models import Item, Project
from annotation.project_settings import RL_TRAINER_PARAMETERS, project_settings
from rankwise.errors import Conflict, ValidationFailed

from . import data, generation, loader, overoptimisation, registry, runs, scoring, selectors
from .models import ModelVersion, TrainingRun
from .prompts import prompt_text

KIND = ModelVersion.Kind.POLICY
ALGORITHMS = ("rloo", "ppo")
METRIC = "heldout_reward"
# Shares of the progress bar: the reference's fine-tuning, the held-out reward model, RL;
# the evaluation and the comparison take the rest.
SFT_SHARE, HELDOUT_RM_SHARE, RL_SHARE = 0.15, 0.1, 0.65
MAX_EVAL_PROMPTS = 64  # held-out prompts the activation rule scores
MAX_CURVE_POINTS = 200  # training steps kept in the stored curve

Prompt = namedtuple("Prompt", "item_id prompt")


class NoRewardModel(Conflict):
    """An RL run needs an active reward model to optimise."""


def engine():
    """:mod:`training.policy.rl` (torch), imported on first use."""
    loader.policy()  # torch and transformers, under the loader's lock
    from training.policy import rl

    return rl


def rl_config(*, project: Project, params: dict[str, Any]):
    """The RL trainer's config: ``policy.rl`` settings (with ``policy.seed`` and the
    algorithm) overlaid with the run's parameters. Raises ValidationFailed naming the
    first bad field."""
    settings = project_settings(project).policy
    base = {**settings.rl.given_values(RL_TRAINER_PARAMETERS), "seed": settings.seed,
            "algorithm": settings.rl.algorithm}
    given = {k: v for k, v in params.items() if k != "force"}
    return checked(engine().RLConfig, base, given)


def checked(config_class, base: dict[str, Any], given: dict[str, Any]):
    """``config_class.from_dict({**base, **given})``, or a ValidationFailed naming the
    given field that breaks it (each one is tried alone to find it)."""
    try:
        return config_class.from_dict({**base, **given})
    except (TypeError, ValueError) as exc:
        message = str(exc)
        for name, value in given.items():
            try:
                config_class.from_dict({**base, name: value})
            except (TypeError, ValueError) as alone:
                raise ValidationFailed.of_fields({name: str(alone)}) from exc
        mentioned = [name for name in given if name in message]
        named = min(mentioned, key=message.index) if mentioned else "params"
        raise ValidationFailed.of_fields({named: message}) from exc


def check_request(*, project: Project, params: dict[str, Any]) -> None:
    """What :func:`training.policy_runs.request_policy_training` checks before queueing an
    RL run: its parameters, and that there is a reward model to optimise."""
    rl_config(project=project, params=params)
    if selectors.active_version(project_id=project.pk, kind=ModelVersion.Kind.REWARD) is None:
        raise NoRewardModel("An RL run optimises the active reward model and this project has "
                            "none: train one first (POST /api/v1/projects/"
                            f"{project.pk}/reward-models/train/).")


# --- the parts of a run ----------------------------------------------------------------------


def project_prompts(project: Project) -> list[Prompt]:
    rows = (Item.objects.filter(project=project, is_gold=False).order_by("pk")
            .values_list("pk", "prompt", "messages"))
    prompts = [Prompt(pk, prompt_text(prompt=p, messages=m)) for pk, p, m in rows]
    return [p for p in prompts if p.prompt.strip()]


def scorer_reward_fn(scorer, lock=None):
    """``reward_fn(prompts, completions) -> [float]`` of a reward model, one batched call."""
    def reward_fn(prompts: list[str], completions: list[str]) -> list[float]:
        if not completions:
            return []
        if lock is None:
            return scorer.rewards(list(prompts), list(completions)).tolist()
        with lock:
            return scorer.rewards(list(prompts), list(completions)).tolist()

    return reward_fn


def heldout_reward_model(labelled: data.TrainingData, *, project: Project, seed: int, progress):
    """A reward model of its own, trained on half of the labelled items; (its scorer, what
    it learned from and its accuracy on the other half)."""
    reward = loader.reward()
    comparisons = [c.to_trainer() for c in labelled.comparisons]
    kept, other = reward.split_by_item(comparisons, eval_fraction=0.5, seed=seed + 1)
    config = dataclasses.replace(runs.train_config(project=project, params={}),
                                 eval_fraction=0.0)
    cache = runs.embedding_cache()
    result = reward.train(kept, config=config, cache=cache, progress=progress,
                          train_metrics=False)
    found = runs.finite(reward.evaluate(result, other, cache=cache))
    result.scorer.cache = None  # the policy's completions are not worth keeping on disk
    return result.scorer, {"n_train": len(kept), "n_eval": len(other),
                           "accuracy": found.get("accuracy"),
                           "eval_items": sorted(int(c.item_id) for c in other)}


def starting_policy(*, project: Project, options, labelled: data.TrainingData, held_items: set,
                    params, progress):
    """(init policy, the active version whose reference it reuses, or None)."""
    trainer = loader.policy()
    active = selectors.active_version(project_id=project.pk, kind=KIND)
    if options.rl.reuse_reference and active is not None:
        loaded = trainer.load(active.directory)  # a fresh copy: training changes it
        return trainer.Policy(model=copy.deepcopy(loaded.reference), reference=loaded.reference,
                              tokenizer=loaded.tokenizer, config=loaded.config,
                              device=loaded.device, reference_path=loaded.reference_path), active
    from . import policy_runs

    pairs = policy_runs.preference_pairs(labelled.comparisons)
    pairs = [p for p in pairs if p.item_id not in held_items] or pairs
    config = dataclasses.replace(params, dpo_epochs=0, max_steps=None)
    return trainer.train(pairs, config=config, progress=progress).policy, None


def sampling(config) -> dict[str, Any]:
    """How the activation rule samples answers: as the run sampled, with a fixed seed."""
    return {"max_new_tokens": int(config.max_new_tokens), "temperature": config.temperature,
            "top_p": config.top_p, "seed": generation.COMPARISON_SEED}


def mean_score(policy, prompts: list[str], reward_fn, options: dict[str, Any]) -> float | None:
    """The mean score of one seeded answer per prompt."""
    if not prompts:
        return None
    answers = [policy.generate(p, **options) for p in prompts]
    scores = reward_fn(prompts, answers)
    return float(sum(scores) / len(scores))


def thinned(rows: list[dict], limit: int = MAX_CURVE_POINTS) -> list[dict]:
    """At most ``limit`` rows, evenly spaced, the last one always kept."""
    if len(rows) <= limit:
        return list(rows)
    stride = len(rows) / limit
    picked = [rows[int(i * stride)] for i in range(limit - 1)]
    return picked + [rows[-1]]


def kl_of(result) -> float | None:
    """The KL to the reference of the weights kept: the best checkpoint's."""
    for point in result.history.get("checkpoints", []):
        if point.get("step") == result.best_step and point.get("kl") is not None:
            return float(point["kl"])
    metrics = result.train_metrics
    value = metrics.get("kl", metrics.get("objective/kl"))
    return None if value is None else float(value)


# --- the run ---------------------------------------------------------------------------------


def train_and_publish(*, run: TrainingRun, staging: Path, progress,
                      recorder: runs.ProgressRecorder) -> ModelVersion:
    project = run.project
    options = project_settings(project).policy
    labelled = runs.labelled_data(run, needs="an RL run")
    proxy = selectors.active_version(project_id=project.pk, kind=ModelVersion.Kind.REWARD)
    if proxy is None:
        raise NoRewardModel("No active reward model to optimise: train one first.")
    config = rl_config(project=project, params=run.params)
    seed, fraction = int(options.seed), float(options.eval_fraction)
    train_prompts, eval_prompts = loader.policy().split_by_item(
        project_prompts(project), eval_fraction=fraction, seed=seed)
    held_items = {p.item_id for p in eval_prompts}

    from . import policy_runs

    init, reused = starting_policy(
        project=project, options=options, labelled=labelled, held_items=held_items,
        params=policy_runs.train_config(project=project, params={}),
        progress=lambda f, loss=None: progress(SFT_SHARE * f, loss))
    heldout_scorer, heldout_rm = heldout_reward_model(
        labelled, project=project, seed=seed,
        progress=lambda f, loss=None: progress(SFT_SHARE + HELDOUT_RM_SHARE * f))
    proxy_fn = scorer_reward_fn(scoring.scorer_for(proxy), scoring.scorer_lock(proxy))
    heldout_fn = scorer_reward_fn(heldout_scorer)
    start = SFT_SHARE + HELDOUT_RM_SHARE

    def rl_progress(fraction: float, metrics: dict) -> None:
        loss = metrics.get("loss", metrics.get("loss/policy_avg"))
        progress(start + RL_SHARE * float(fraction), loss)

    result = engine().train_rl(
        [p.prompt for p in train_prompts] or [p.prompt for p in eval_prompts], proxy_fn,
        config=config, init=init, heldout_reward_fn=heldout_fn,
        eval_prompts=[p.prompt for p in eval_prompts], progress=rl_progress)
    policy = result.policy
    judged = list(dict.fromkeys(p.prompt for p in eval_prompts))[:MAX_EVAL_PROMPTS]
    metrics = summary(result, config=config, heldout_rm=heldout_rm, proxy=proxy)
    metrics.update(
        heldout_reward=mean_score(policy, judged, heldout_fn, sampling(config)),
        proxy_reward=mean_score(policy, judged, proxy_fn, sampling(config)),
        n_train=len(train_prompts), n_eval=len(eval_prompts),
        n_train_items=len({p.item_id for p in train_prompts}), n_eval_items=len(held_items),
        n_parameters=int(policy.n_parameters),
        reference=f"{reused.name}'s reference" if reused is not None else "fine-tuned",
        iterative_from=reused.version if reused is not None else None)
    progress(0.93)
    rows = generation.held_out_generations(policy, [p.prompt for p in eval_prompts],
                                           limit=int(options.comparison_prompts))
    scored = generation.score_rows(project=project, rows=rows)
    metrics.update(win_rate=scored["win_rate"], reward_model=scored["reward_model"])
    metrics = runs.finite(metrics)
    progress(0.97)
    loader.policy().save(policy, staging)
    (staging / generation.COMPARISON_FILE).write_text(json.dumps(rows), encoding="utf-8")
    decision = decide(run=run, active=selectors.active_version(project_id=project.pk, kind=KIND),
                      metrics=metrics, judged=judged,
                      score=lambda p: mean_score(p, judged, heldout_fn, sampling(config)))
    return registry.publish(
        kind=KIND, run=run, staging=staging, metrics=metrics,
        config=runs.finite({**config.to_dict(), "policy": policy.config.to_dict()}),
        fingerprint=labelled.fingerprint,
        eval_split={"seed": seed, "fraction": fraction, "train_items": metrics["n_train_items"],
                    "eval_items": sorted(int(i) for i in held_items),
                    "heldout_rm_eval_items": heldout_rm["eval_items"]},
        activate=decision.activate, outcome=decision.outcome, curve=recorder.curve)


def summary(result, *, config, heldout_rm: dict, proxy: ModelVersion) -> dict[str, Any]:
    """What a version records of its RL run (besides the held-out evaluation)."""
    checkpoints = [dict(point) for point in result.history.get("checkpoints", [])]
    return {
        "algorithm": config.algorithm,
        **result.train_metrics,
        "kl": kl_of(result),
        "train": dict(result.train_metrics),
        "train_seconds": round(float(result.seconds), 2),
        "steps": len(result.history.get("train", [])),
        "proxy_model": proxy.name,
        "heldout_rm": {k: v for k, v in heldout_rm.items() if k != "eval_items"},
        "overoptimisation": {
            "checkpoints": checkpoints, "best_step": int(result.best_step),
            "stopped_early": bool(result.stopped_early),
            "heldout_rm_accuracy": heldout_rm["accuracy"],
            "gaming_step": overoptimisation.gaming_step(checkpoints)},
        "curves": {"train": thinned(result.history.get("train", [])),
                   "checkpoints": checkpoints},
    }


def decide(*, run: TrainingRun, active: ModelVersion | None, metrics: dict[str, Any],
           judged: list[str], score) -> registry.Decision:
    """The activation rule of the module docstring."""
    seen: dict[str, Any] = {}

    def evaluate_active(version: ModelVersion) -> dict[str, Any]:
        seen[METRIC] = score(generation.policy_for(version))
        return runs.finite({METRIC: seen[METRIC],
                            "algorithm": (version.metrics or {}).get("algorithm", "dpo")})

    def judge(version: ModelVersion):
        new, old = metrics.get(METRIC), seen.get(METRIC)
        details = {"rule": "held-out reward", METRIC: new, f"active_{METRIC}": old,
                   "n_prompts": len(judged)}
        if new is None or old is None:
            return (old is None and new is not None,
                    f"{'activated' if old is None else 'kept ' + version.name}: no held-out "
                    "reward to compare", details)
        words = f"held-out reward {new:.3f} vs {old:.3f} of {version.name} on the same prompts"
        return (new > old, f"activated: {words}" if new > old else f"kept {version.name}: "
                f"{words}", details)

    return registry.decide(kind=KIND, active=active, metrics=metrics, metric=METRIC,
                           force=bool(run.params.get("force")), min_improvement=0.0,
                           evaluate_active=evaluate_active, judge=judge)
