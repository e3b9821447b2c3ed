"""The torch side of training, imported once per process, on first use.

The web process serves pages and most of the API without torch; the reward model (torch,
transformers) loads when a model is first trained, scored or previewed. Django-side modules
reach them only through :func:`reward` and :func:`policy`, the one place that imports it, under a lock:
two threads importing torch and transformers at the same moment can see a module that is
only half initialised.
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType

_lock = threading.Lock()
_loaded: dict[str, ModuleType] = {}


def reward() -> ModuleType:
    """:mod:`training.reward`: ``train``, ``evaluate``, ``load``, ``TrainConfig``, ..."""
    return _load("training.reward")


def policy() -> ModuleType:
    """:mod:`training.policy`: ``train``, ``evaluate``, ``load``, ``PolicyConfig``, ..."""
    return _load("training.policy")


def _load(name: str) -> ModuleType:
    module = _loaded.get(name)
    if module is None:
        with _lock:
            module = _loaded.get(name)
            if module is None:
                module = _loaded[name] = importlib.import_module(name)
    return module
