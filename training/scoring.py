"""Using the active reward model: scores, "watch it learn" feedback, active learning.

Each process keeps the few most recently used reward models loaded (:func:`scorer_for`,
:mod:`training.loaded_models`), shared between threads one call at a time
(:func:`scorer_lock`). A scorer is loaded with one throwaway step already taken, and the
ranking page asks for it ahead (:func:`active_model`, :func:`warm_scorer`), so that the
first feedback after a submit finds it ready: once loaded, feedback on an item is a few
tens of milliseconds; loading it (torch, the encoder, the first pass) takes seconds.

What one call may cost is bounded: the API takes at most ``MAX_RESPONSES`` responses of
``MAX_TEXT_CHARS`` characters each and ``MAX_TOTAL_CHARS`` in all, and the encoder cuts
every text to what its token budget can use before tokenising it
(:meth:`training.reward.encoders.TextEncoder.clip`), so a long text costs no more than a
text of a few thousand characters, here and in feedback on stored items.
"""

from __future__ import annotations

import os
import threading
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

EXCERPT_CHARS = 40
# Torch's threads in a web process (0: torch's default, one per core). Measured on 2 shared
# cores under load: a feedback step took ~290 ms at 2 threads and ~40-55 ms at 1, since
# the threads of a step wait on each other while other processes hold the cores.
WEB_TORCH_THREADS = int(os.environ.get("RANKWISE_WEB_TORCH_THREADS", "1") or 0)
_web_threads_lock = threading.Lock()
_web_threads_set = False


def _load_scorer(version: ModelVersion):
    reward = loader.reward()
    scorer = reward.load(version.directory)
    # The first pass through a loaded model (torch's thread pool, autograd's first
    # backward) costs far more than the next: take it here, on texts of no one.
    reward.preview_step(scorer, "Warm-up prompt.", ["A first answer.", "A second answer."],
                        [[0], [1]])
    return scorer


_scorers = LoadedModels(_load_scorer, size=SCORER_CACHE_SIZE)


class NoActiveModel(Conflict):
    """Scoring needs an active reward model and the project has none."""


class CallEmbeddings:
    """The embeddings of one call's texts, for that call only (the scorer's ``cache`` while
    it runs). With a frozen encoder (mode "head") a feedback's score before, its learning
    step and its score after then share one encoder pass instead of three; nothing is kept
    once the call returns."""

    def __init__(self) -> None:
        self._rows: dict[str, Any] = {}

    def get_or_compute(self, encoder, texts, *, batch_size: int = 64):
        import torch  # loaded already: only a scorer calls this

        texts = list(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self._rows]
        if missing:
            for text, row in zip(missing, encoder.embed(missing, batch_size=batch_size),
                                 strict=True):
                self._rows[text] = row
        if not texts:
            return torch.zeros((0, encoder.dim), dtype=torch.float32)
        return torch.stack([self._rows[t] for t in texts])  # [N, D]


def scorer_for(version: ModelVersion):
    """The loaded model of a reward-model version, cached per process (the few most
    recent ones)."""
    return _scorers.get(version)


def scorer_lock(version: ModelVersion):
    """The lock to hold while calling the version's loaded model."""
    return _scorers.lock(version)


def clear_scorer_cache() -> None:
    _scorers.clear()


def scorer_loads() -> int:
    """How many reward models this process has loaded (cache hits not counted)."""
    return _scorers.loads


def limit_threads_for_web() -> None:
    """Give torch ``WEB_TORCH_THREADS`` threads in this process, once. Only the web's entry
    points call it (feedback, scoring, warming): workers that train keep every core."""
    global _web_threads_set
    if _web_threads_set or WEB_TORCH_THREADS <= 0:
        return
    with _web_threads_lock:
        if _web_threads_set:
            return
        loader.reward()  # imports torch under the loader's lock
        import torch

        torch.set_num_threads(WEB_TORCH_THREADS)
        _web_threads_set = True


def warm_scorer(version: ModelVersion):
    """Load the version's scorer in a background thread unless it is loaded already; the
    thread started, or None."""
    return _scorers.warm(version, prepare=limit_threads_for_web)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The first ``limit`` characters of a text on one line, with an ellipsis when cut."""
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip(" ,;:") + "…"


def version_summary(version: ModelVersion | None) -> dict[str, Any]:
    """What an annotator may know of the active reward model: its name, number, when it
    went live and how many labels it learned from (no metrics, config or data)."""
    if version is None:
        return {"model_version": None, "version": None, "activated_at": None,
                "trained_on": None}
    trained_on = (version.data_fingerprint or {}).get("n_annotations")
    return {"model_version": version.name, "version": version.version,
            "activated_at": version.activated_at,
            "trained_on": int(trained_on) if isinstance(trained_on, int | float) else None}


def active_model(*, project: Project) -> dict[str, Any]:
    """The project's active reward model for the ranking page (:func:`version_summary`).
    Its scorer starts loading in the background, so that the feedback on the page's first
    submit finds it ready."""
    version = selectors.active_version(project_id=project.pk, kind=KIND)
    if version is not None:
        warm_scorer(version)
    return version_summary(version)


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
    limit_threads_for_web()
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
    copy that is thrown away: nothing is published or saved. The answer names the active
    model (:func:`version_summary`), so the page can tell when a new one went live, and
    carries short excerpts of the prompt and of each response to label the chart with.
    Without an active model the answer is ``{"model_version": None, "responses": []}``."""
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
    answer = {**version_summary(version), "item": assignment.item_id,
              "prompt_excerpt": excerpt(prompt), "responses": []}
    position_of = {rid: pos for pos, rid in enumerate(ids)}
    ranking = [[position_of[int(rid)] for rid in tier if int(rid) in position_of]
               for tier in annotation.ranking]
    ranking = [tier for tier in ranking if tier]
    limit_threads_for_web()
    scorer = scorer_for(version)
    lr = project_settings(project).reward_model.feedback_lr
    kwargs = {"lr": float(lr)} if lr else {}
    with scorer_lock(version):
        kept = scorer.cache
        if scorer.config.mode == "head":  # fine-tuning changes the encoder: nothing to share
            scorer.cache = CallEmbeddings()
        try:
            before, after = loader.reward().preview_step(scorer, prompt, texts, ranking,
                                                         **kwargs)
        finally:
            scorer.cache = kept
    answer["responses"] = [
        {"id": rid, "excerpt": excerpt(text), "before": float(b), "after": float(a)}
        for rid, text, b, a in zip(ids, texts, before, after, strict=True)]
    return answer


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
