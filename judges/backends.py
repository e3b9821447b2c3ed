"""A judge row → the engine backend that judges for it (Django's pluggable-backend idea:
one small interface, :class:`judges.engine.types.Backend`, many implementations).

API keys never touch the database: an ``openai`` judge reads its key from the environment,
``RANKWISE_JUDGE_<ID>_API_KEY`` for that judge alone, else ``RANKWISE_JUDGE_API_KEY``
(none: no ``Authorization`` header, as local servers expect).
"""

from __future__ import annotations

import importlib
import os

from .models import Judge

SHARED_KEY_VARIABLE = "RANKWISE_JUDGE_API_KEY"


class BackendUnavailable(Exception):
    """The judge's backend cannot be built here (a missing module, model or folder)."""


def key_variable(judge: Judge) -> str:
    """The environment variable that holds this judge's own API key."""
    return f"RANKWISE_JUDGE_{judge.pk}_API_KEY"


def api_key_for(judge: Judge) -> str | None:
    return os.environ.get(key_variable(judge)) or os.environ.get(SHARED_KEY_VARIABLE) or None


def backend_for(judge: Judge):
    """The engine backend configured by ``judge``; raises :class:`BackendUnavailable`."""
    if judge.backend == Judge.Backend.OPENAI:
        from .engine.http_backend import HttpBackend

        return HttpBackend(judge.base_url, judge.model, api_key=api_key_for(judge))
    if judge.backend == Judge.Backend.LOCAL_LM:
        if not os.path.isdir(judge.path):
            raise BackendUnavailable(f"the model folder {judge.path!r} does not exist here")
        from .engine.local_lm import LocalLMBackend

        return LocalLMBackend(judge.path)
    if judge.backend == Judge.Backend.REWARD_MODEL:
        # Imported when asked for: the reward-model backend loads torch and the registry.
        try:
            module = importlib.import_module("judges.engine.reward_backend")
        except ModuleNotFoundError as exc:
            raise BackendUnavailable(
                "the reward-model backend is not installed (judges.engine.reward_backend)"
            ) from exc
        backend_class = getattr(module, "RewardModelBackend", None)
        if backend_class is None:
            raise BackendUnavailable("judges.engine.reward_backend has no RewardModelBackend")
        from training.scoring import score_texts

        project = judge.project

        def score(prompt: str, responses: list[str]) -> list[float]:
            """Scores under the project's active reward model (the newest at each call)."""
            return score_texts(project=project, prompt=prompt,
                                       responses=list(responses))["scores"]

        return backend_class(score)
    raise BackendUnavailable(f"unknown backend {judge.backend!r}")


class CannotRevise(Exception):
    """The judge's backend scores pairs but cannot write text (``reward_model``)."""


def generator_for(judge: Judge):
    """``(complete(messages) -> str, close())`` for critique and revision: an ``openai``
    judge's endpoint (:meth:`HttpBackend.complete`), or a ``local_lm`` judge's model folder
    (:func:`judges.engine.critique.local_generator`, seeded by the judge, at most
    ``JUDGE_REVISION_MAX_NEW_TOKENS`` new tokens, 256 when unset). Raises
    :class:`CannotRevise` for a reward-model judge, :class:`BackendUnavailable` when the
    model cannot be reached here."""
    if judge.backend == Judge.Backend.OPENAI:
        from .engine.http_backend import HttpBackend

        http = HttpBackend(judge.base_url, judge.model, api_key=api_key_for(judge))
        return http.complete, http.close
    if judge.backend == Judge.Backend.LOCAL_LM:
        if not os.path.isdir(judge.path):
            raise BackendUnavailable(f"the model folder {judge.path!r} does not exist here")
        import torch
        from django.conf import settings
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from .engine.critique import local_generator

        model = AutoModelForCausalLM.from_pretrained(judge.path, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(judge.path)
        tokens = int(getattr(settings, "JUDGE_REVISION_MAX_NEW_TOKENS", 256))
        return local_generator(model, tokenizer, max_new_tokens=tokens,
                               seed=judge.seed), lambda: None
    raise CannotRevise(f"a {judge.backend} judge scores responses but cannot rewrite them")
