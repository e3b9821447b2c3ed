"""Published models kept loaded in a process: the few most recently used of each kind.

A published version's files never change, so a model loaded once serves every later call.
Each model is loaded once even when several threads ask for it at the same moment (the
others of the first burst wait for its model, not a copy each). A loaded model is shared
between threads one call at a time (:meth:`LoadedModels.lock`): Hugging Face fast
tokenizers are not safe to share mid-call, and generation seeds a shared generator.

Loading is the slow part of a first call (torch, the encoder's weights, the first pass of
a model), so a page that will need a model soon can have it loaded ahead, in a background
thread (:meth:`LoadedModels.warm`): a call that comes while it loads waits for that load
instead of starting its own.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .models import ModelVersion

log = logging.getLogger(__name__)


def key_of(version: ModelVersion) -> tuple[int, str, str]:
    # The folder and creation time also tell apart rows that reuse an id (a database
    # restored or recreated beside old artifacts).
    return (version.pk, str(version.directory), version.created_at.isoformat())


class LoadedModels:
    """An LRU of loaded models, keyed by version, with one call lock per model.

    ``loads`` counts the models this process actually loaded (not the cache hits)."""

    def __init__(self, load: Callable[[ModelVersion], Any], *, size: int):
        self._load, self.size = load, size
        self._models: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._call_locks: dict[tuple, threading.Lock] = {}
        self._load_locks: dict[tuple, threading.Lock] = {}
        self._warming: dict[tuple, threading.Thread] = {}
        self.loads = 0

    def get(self, version: ModelVersion) -> Any:
        key = key_of(version)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            loading = self._load_locks.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                if key in self._models:
                    return self._models[key]
            model = self._load(version)
            with self._lock:
                self.loads += 1
                self._models[key] = model
                self._call_locks.setdefault(key, threading.Lock())
                self._load_locks.pop(key, None)
                while len(self._models) > self.size:
                    old, _ = self._models.popitem(last=False)
                    self._call_locks.pop(old, None)
        return model

    def is_loaded(self, version: ModelVersion) -> bool:
        with self._lock:
            return key_of(version) in self._models

    def warm(self, version: ModelVersion, *,
             prepare: Callable[[], None] | None = None) -> threading.Thread | None:
        """Load the version's model in a background thread unless it is loaded or loading
        already, calling ``prepare()`` there first. Returns the thread started (None when
        there was nothing to do). A failed load is logged: the next call that needs the
        model tries again and says why."""
        key = key_of(version)
        with self._lock:
            if key in self._models or key in self._warming:
                return None
            thread = threading.Thread(target=self._warm, args=(version, key, prepare),
                                      name=f"warm-model-{version.pk}", daemon=True)
            self._warming[key] = thread
        thread.start()
        return thread

    def _warm(self, version: ModelVersion, key: tuple, prepare) -> None:
        try:
            if prepare is not None:
                prepare()
            self.get(version)
        except Exception:  # a background thread has nobody to raise to
            log.exception("Loading model version %s ahead of use failed", version.pk)
        finally:
            with self._lock:
                self._warming.pop(key, None)

    def lock(self, version: ModelVersion) -> threading.Lock:
        """The lock to hold while calling the version's loaded model."""
        with self._lock:
            return self._call_locks.setdefault(key_of(version), threading.Lock())

    def clear(self) -> None:
        with self._lock:
            self._models.clear()
            self._call_locks.clear()
            self._load_locks.clear()
            self.loads = 0
