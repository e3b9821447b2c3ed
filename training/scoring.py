"""Using the active reward model: scores, "watch it learn" feedback, active learning.

Each process keeps the few most recently used reward models loaded (:func:`scorer_for`,
:mod:`training.loaded_models`), shared between threads one call at a time
(:func:`scorer_lock`).

What one call may cost is bounded: the API takes at most ``MAX_RESPONSES`` responses of
``MAX_TEXT_CHARS`` characters each and ``MAX_TOTAL_CHARS`` in all, and the encoder cuts
every text to what its token budget can use before tokenising it
(:meth:`training.reward.encoders.TextEncoder.clip`), so a long text costs no more than a
text of a few thousand characters, here and in feedback on stored items.
"""

from __future__ import annotations

from typing import Any

from annotation.models import Annotation, Assignment, Item, Project, Response
from annotation.permissions import Role, project_for
from annotation.project_settings import project_settings
from annotation.services import record_uncertainty
from rankwise.errors import Conflict, NotFound

from . import loader, selectors
from .loaded_models import LoadedModels
from .models import ModelVersion
from .prompts import prompt_text

KIND = ModelVersion.Kind.REWARD
SCORER_CACHE_SIZE = 4
MAX_RESPONSES = 16
MAX_TEXT_CHARS = 20_000  # the prompt, each message and each response
MAX_TOTAL_CHARS = 100_000  # the prompt (or messages) and the responses together
MAX_MESSAGES = 50

_scorers = LoadedModels(lambda version: loader.reward().load(version.directory),
                        size=SCORER_CACHE_SIZE)


class NoActiveModel(Conflict):
    """Scoring needs an active reward model and the project has none."""


def scorer_for(version: ModelVersion):
    """The loaded model of a reward-model version, cached per process (the few most
    recent ones)."""
    return _scorers.get(version)


def scorer_lock(version: ModelVersion):
    """The lock to hold while calling the version's loaded model."""
    return _scorers.lock(version)


def clear_scorer_cache() -> None:
    _scorers.clear()


def evaluate_version(version: ModelVersion, comparisons, *, cache=None) -> dict[str, Any]:
    """A published model's metrics on some comparisons. The process's shared scorer
    borrows the embedding cache only for this call (it never keeps texts sent to the API)."""
    scorer = scorer_for(version)
    with scorer_lock(version):
        kept = scorer.cache
        try:
            return dict(loader.reward().evaluate(scorer, comparisons, cache=cache))
        finally:
            scorer.cache = kept


# --- scores and feedback --------------------------------------------------------------------


def _require_active(project: Project) -> ModelVersion:
    version = selectors.active_version(project_id=project.pk, kind=KIND)
    if version is None:
        raise NoActiveModel("This project has no active reward model yet: train one first "
                            f"(POST /api/v1/projects/{project.pk}/reward-models/train/).")
    return version


def score_texts(*, project: Project, prompt: str, responses: list[str]) -> dict[str, Any]:
    """Scores of responses to a prompt under the project's active model."""
    version = _require_active(project)
    scorer = scorer_for(version)
    with scorer_lock(version):
        scores = scorer.score(prompt, list(responses))
    return {"model_version": version.name, "scores": [float(s) for s in scores]}


def _item_texts(item_id: int) -> tuple[str, list[int], list[str]]:
    item = Item.objects.only("prompt", "messages").get(pk=item_id)
    rows = list(Response.objects.filter(item_id=item_id).order_by("position")
                .values_list("pk", "text"))
    return (prompt_text(prompt=item.prompt, messages=item.messages),
            [pk for pk, _ in rows], [text for _, text in rows])


def feedback_for(*, assignment_id: int, user) -> dict[str, Any]:
    """"Watch it learn": scores of the item's responses under the active model before and
    after one gradient step on this annotator's submitted ranking. The step is taken on a
    copy that is thrown away: nothing is published or saved."""
    assignment = (Assignment.objects.filter(pk=assignment_id, annotator_id=user.pk)
                  .only("pk", "project_id", "item_id", "status").first())
    if assignment is None:
        raise NotFound("No such assignment.")
    project = project_for(user=user, project_id=assignment.project_id, at_least=Role.ANNOTATOR)
    annotation = (Annotation.objects.filter(assignment_id=assignment.pk)
                  .only("ranking").first())
    if assignment.status != Assignment.Status.SUBMITTED or annotation is None:
        raise Conflict("Submit this assignment first: feedback shows what your label teaches "
                       "the model.")
    version = selectors.active_version(project_id=project.pk, kind=KIND)
    if version is None:
        return {"model_version": None, "responses": []}
    prompt, ids, texts = _item_texts(assignment.item_id)
    position_of = {rid: pos for pos, rid in enumerate(ids)}
    ranking = [[position_of[int(rid)] for rid in tier if int(rid) in position_of]
               for tier in annotation.ranking]
    ranking = [tier for tier in ranking if tier]
    scorer = scorer_for(version)
    lr = project_settings(project).reward_model.feedback_lr
    kwargs = {"lr": float(lr)} if lr else {}
    with scorer_lock(version):
        before, after = loader.reward().preview_step(scorer, prompt, texts, ranking, **kwargs)
    return {
        "model_version": version.name,
        "responses": [{"id": rid, "before": float(b), "after": float(a)}
                      for rid, b, a in zip(ids, before, after, strict=True)],
    }


# --- active learning ------------------------------------------------------------------------


def score_open_items(*, project_id: int, batch_size: int = 200) -> int:
    """Active learning: write ``Item.uncertainty`` (the smallest score gap between two of
    the item's responses under the active model) for the project's open items, those with
    ``annotations_done < overlap``. Returns how many items were scored (0 for a project
    that is gone or has no active model)."""
    project = Project.objects.filter(pk=project_id).first()
    version = selectors.active_version(project_id=project_id, kind=KIND) if project else None
    if version is None:
        return 0
    scorer = scorer_for(version)
    open_items = Item.objects.filter(project=project, is_gold=False,
                                     annotations_done__lt=project.overlap).order_by("pk")
    done, after = 0, 0
    while True:
        rows = list(open_items.filter(pk__gt=after).values_list("pk", "prompt", "messages")
                    [:batch_size])
        if not rows:
            return done
        after = rows[-1][0]
        texts: dict[int, list[str]] = {}
        for item_id, text in (Response.objects.filter(item_id__in=[r[0] for r in rows])
                              .order_by("item_id", "position").values_list("item_id", "text")):
            texts.setdefault(item_id, []).append(text)
        prompts, responses, owners = [], [], []
        for item_id, prompt, messages in rows:
            item_texts = texts.get(item_id, [])
            if len(item_texts) < 2:
                continue
            text = prompt_text(prompt=prompt, messages=messages)
            prompts.extend([text] * len(item_texts))
            responses.extend(item_texts)
            owners.extend([item_id] * len(item_texts))
        with scorer_lock(version):
            rewards = scorer.rewards(prompts, responses).tolist() if responses else []
        by_item: dict[int, list[float]] = {}
        for item_id, reward in zip(owners, rewards, strict=True):
            by_item.setdefault(item_id, []).append(float(reward))
        gaps: dict[int, float | None] = {}
        for item_id, scores in by_item.items():
            scores.sort()
            gaps[item_id] = min(b - a for a, b in zip(scores, scores[1:], strict=False))
        done += record_uncertainty(project=project, uncertainty=gaps)
