"""Using policies: generating text, and the reference-versus-policy comparison.

Published policies stay loaded per process (:mod:`training.loaded_models`), one call at a
time each. What one request may cost is bounded: a prompt of at most ``MAX_PROMPT_CHARS``
characters (the policy keeps only its last ``max_prompt_tokens`` tokens anyway) and at most
``MAX_NEW_TOKENS`` new tokens.

After each run, :func:`held_out_generations` has the reference and the new policy answer
up to ``policy.comparison_prompts`` held-out prompts (seeded, so a rerun writes the same
texts); the rows are stored beside the artifacts in ``comparison.json``. The comparison
view (:func:`comparison`) scores both answers with the project's *current* active reward
model, so the win rate follows the best judge the project has.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from annotation.models import Project
from rankwise.errors import Conflict, NotFound
from rankwise.text import storable

from . import loader, scoring, selectors
from .loaded_models import LoadedModels
from .models import ModelVersion

log = logging.getLogger(__name__)

KIND = ModelVersion.Kind.POLICY
POLICY_CACHE_SIZE = 2
MAX_PROMPT_CHARS = 20_000
MAX_NEW_TOKENS = 512
COMPARISON_FILE = "comparison.json"
COMPARISON_TOKENS = 64
COMPARISON_SEED = 0

_policies = LoadedModels(lambda version: loader.policy().load(version.directory),
                         size=POLICY_CACHE_SIZE)


class NoActivePolicy(Conflict):
    """Generation needs an active policy and the project has none."""


class PolicyUnreadable(Conflict):
    """A policy version's files are missing or damaged (a restore without its artifacts)."""


def policy_for(version: ModelVersion):
    """The loaded policy of a version, cached per process."""
    try:
        return _policies.get(version)
    except (OSError, ValueError, KeyError) as exc:
        raise PolicyUnreadable(
            f"The files of policy {version.name} cannot be read ({type(exc).__name__}); "
            f"train a new policy or restore {version.directory}.") from exc


def clear_policy_cache() -> None:
    _policies.clear()


def version_of(*, project: Project, version: int | None) -> ModelVersion:
    """The project's active policy, or the numbered version asked for."""
    if version is None:
        found = selectors.active_version(project_id=project.pk, kind=KIND)
        if found is None:
            raise NoActivePolicy("This project has no active policy yet: train one first "
                                 f"(POST /api/v1/projects/{project.pk}/policies/train/).")
        return found
    found = selectors.versions_of(project=project, kind=KIND).filter(version=version).first()
    if found is None:
        raise NotFound(f"This project has no policy v{version}.")
    return found


def generate(*, project: Project, prompt: str, max_new_tokens: int = 64,
             temperature: float = 1.0, top_p: float = 1.0, seed: int | None = None,
             version: int | None = None) -> dict[str, Any]:
    """One sampled answer of a policy (the active one unless ``version`` names another)."""
    chosen = version_of(project=project, version=version)
    policy = policy_for(chosen)
    with _policies.lock(chosen):
        text = policy.generate(prompt, max_new_tokens=max_new_tokens, temperature=temperature,
                               top_p=top_p, seed=seed)
    return {"policy_version": chosen.name, "text": storable(text)}


def propose(*, version: ModelVersion, prompt: str, n: int, max_new_tokens: int,
            temperature: float, top_p: float, seed: int) -> list[str]:
    """``n`` sampled answers to one prompt (seeds ``seed``, ``seed + 1``, ...)."""
    policy = policy_for(version)
    with _policies.lock(version):
        texts = policy.generate_many(prompt, n, max_new_tokens=max_new_tokens,
                                     temperature=temperature, top_p=top_p, seed=seed)
    return [storable(text) for text in texts]


# --- reference versus policy --------------------------------------------------------------


def held_out_generations(policy, prompts: list[str], *, limit: int) -> list[dict[str, str]]:
    """The reference's and the policy's answers to the first ``limit`` distinct prompts."""
    rows, seen = [], set()
    for prompt in prompts:
        if len(rows) >= limit:
            break
        if prompt in seen:
            continue
        seen.add(prompt)
        same = {"max_new_tokens": COMPARISON_TOKENS, "temperature": 1.0, "top_p": 0.95,
                "seed": COMPARISON_SEED}
        rows.append({"prompt": prompt,
                     "reference": storable(policy.generate(prompt, reference=True, **same)),
                     "policy": storable(policy.generate(prompt, **same))})
    return rows


def score_rows(*, project: Project, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Score each row's two answers with the project's active reward model; the win rate
    of the policy (ties, identical answers among them, count half). Without an active reward model nothing is scored."""
    reward = selectors.active_version(project_id=project.pk, kind=ModelVersion.Kind.REWARD)
    scored = [dict(row, reference_score=None, policy_score=None, winner=None) for row in rows]
    if reward is None or not rows:
        return {"reward_model": None, "win_rate": None, "rows": scored}
    scorer = scoring.scorer_for(reward)
    wins = 0.0
    with scoring.scorer_lock(reward):
        for row in scored:
            reference, policy = (float(s) for s in
                                 scorer.score(row["prompt"], [row["reference"], row["policy"]]))
            # The same text is a tie, whatever the last digits of a batched forward say.
            tie = row["reference"] == row["policy"] or math.isclose(policy, reference,
                                                                     rel_tol=1e-6, abs_tol=1e-6)
            winner = "tie" if tie else "policy" if policy > reference else "reference"
            row.update(reference_score=reference, policy_score=policy, winner=winner)
            wins += {"policy": 1.0, "tie": 0.5, "reference": 0.0}[winner]
    return {"reward_model": reward.name, "win_rate": wins / len(scored), "rows": scored}


def stored_rows(version: ModelVersion) -> list[dict[str, str]]:
    path = version.directory / COMPARISON_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []


def comparison(*, version: ModelVersion) -> dict[str, Any]:
    """The version's held-out generations, scored now (see the module doc)."""
    scored = score_rows(project=version.project, rows=stored_rows(version))
    return {"version": version.name, "n": len(scored["rows"]), **scored}
