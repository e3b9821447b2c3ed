"""The loop closed: the active policy proposes responses for prompts waiting for them.

Prompts imported alone (import format ``prompts``, :mod:`annotation.prompts`) wait as
pending prompts. :func:`propose_for_project` has the project's active policy sample
``policy.candidates`` distinct responses (the project's K by default) for each and turns
it into an ordinary item whose responses name the model that wrote them
(``policy-v3``); annotators then rank them like any other item, and the next policy run
learns from those labels (iterative DPO with ``policy.iterative``).

It runs when a manager asks (:func:`request_candidates`, the "Generate candidates"
action), when a new policy becomes active, and every minute from beat for projects whose
``policy.propose`` setting is on; each call does at most ``BATCH`` prompts, so a large
import is worked through over several calls.
"""

from __future__ import annotations

from annotation.models import Project
from annotation.project_settings import project_settings
from annotation.prompts import selectors as prompt_selectors
from annotation.prompts import services as prompt_services
from annotation.services import audit
from rankwise.celery import enqueue_on_commit

from . import generation, selectors
from .models import ModelVersion
from .prompts import prompt_text

BATCH = 50
EXTRA_SAMPLES = 4  # further samples drawn when some of the first ones repeat each other


def pending_prompts(*, project: Project) -> int:
    """Prompts of the project still waiting for responses."""
    return prompt_selectors.open_prompts(project=project).count()


def request_candidates(*, project: Project, actor=None, limit: int | None = None) -> int:
    """Queue proposals for the project's waiting prompts; how many wait. Needs an active
    policy (:class:`training.generation.NoActivePolicy` otherwise)."""
    generation.version_of(project=project, version=None)
    waiting = pending_prompts(project=project)
    audit(actor=actor, action="policy.propose", project=project, target=project,
          waiting=waiting, limit=limit)
    if waiting:
        enqueue_on_commit("training.propose_candidates", project.pk, limit, True)
    return waiting


def propose_for_project(*, project_id: int, limit: int | None = None,
                        requested: bool = False) -> dict[str, int]:
    """Propose for up to ``limit`` (at most ``BATCH``) waiting prompts, when the project
    asks for proposals (``policy.propose``) or a manager ``requested`` them."""
    counts = {"proposed": 0, "failed": 0}
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return counts
    options = project_settings(project).policy
    version = selectors.active_version(project_id=project_id, kind=ModelVersion.Kind.POLICY)
    if version is None or not (requested or options.propose):
        return counts
    k = int(options.candidates or project.responses_per_item)
    batch = min(int(limit or BATCH), BATCH)
    for pending in prompt_selectors.open_prompts(project=project)[:batch]:
        texts = distinct_samples(version=version, prompt=prompt_text(
            prompt=pending.prompt, messages=pending.messages), k=k, seed=pending.pk * 1000
            + pending.attempts * 100, options=options)
        if len(texts) < k:
            prompt_services.fail(pending_id=pending.pk, reason=(
                f"{version.name} wrote {len(texts)} different responses in "
                f"{k + EXTRA_SAMPLES} samples; {k} are needed."))
            counts["failed"] += 1
            continue
        item = prompt_services.propose(pending_id=pending.pk, texts=texts,
                                       model=f"policy-{version.name}")
        counts["proposed" if item is not None else "failed"] += 1
    return counts


def distinct_samples(*, version: ModelVersion, prompt: str, k: int, seed: int,
                     options) -> list[str]:
    """Up to ``k`` different answers: ``k`` samples, and up to ``EXTRA_SAMPLES`` more
    when some of them repeat each other."""
    same = {"max_new_tokens": int(options.max_new_tokens),
            "temperature": float(options.temperature), "top_p": float(options.top_p)}
    distinct = list(dict.fromkeys(
        generation.propose(version=version, prompt=prompt, n=k, seed=seed, **same)))
    if len(distinct) < k:
        extra = generation.propose(version=version, prompt=prompt, n=EXTRA_SAMPLES,
                                   seed=seed + k, **same)
        distinct = list(dict.fromkeys(distinct + extra))
    return distinct[:k]


def propose_all() -> dict[str, int]:
    """Beat: propose for every project whose ``policy.propose`` is on."""
    total = {"proposed": 0, "failed": 0}
    for project in Project.objects.filter(settings__policy__propose=True):
        if not prompt_selectors.open_prompts(project=project).exists():
            continue
        for key, n in propose_for_project(project_id=project.pk).items():
            total[key] += n
    return total
