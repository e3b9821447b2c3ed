"""K-fold cross-validation of a training config, with folds by item.

Every comparison of one item lands in the same fold; each fold trains on the others and is
scored on its own, and frozen features are embedded once and shared between folds through
an on-disk cache. No Django here.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import torch

from .embedding_cache import EmbeddingCache
from .encoders import TextEncoder
from .evaluation import evaluate, shuffled_items
from .model import Comparison, TrainConfig, build_encoder
from .trainer import Progress, train


def cross_validate(
    comparisons: Sequence[Comparison],
    *,
    config: TrainConfig | None = None,
    folds: int = 5,
    seed: int = 0,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    encoder: TextEncoder | None = None,
) -> dict[str, Any]:
    """K-fold cross-validation with folds by item_id. Each fold trains on the other folds
    (``eval_fraction`` forced to 0) and is scored on its own. Without ``cache`` a temporary
    on-disk cache shares frozen features between folds. Returns
    {"folds": [...], "mean_accuracy", "std_accuracy", "seconds", "config"}."""

    config = config or TrainConfig()
    started = time.perf_counter()
    items = shuffled_items(comparisons, seed)
    if len(items) < folds:
        raise ValueError(f"{len(items)} items cannot make {folds} folds")
    fold_of = {item: i % folds for i, item in enumerate(items)}
    encoder = encoder if encoder is not None else build_encoder(config)
    fold_config = dataclasses.replace(config, eval_fraction=0.0)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="rankwise-cv-") as tmp:
        use_cache = cache if cache is not None else EmbeddingCache(tmp)
        for f in range(folds):
            t0 = time.perf_counter()
            train_part = [c for c in comparisons if fold_of[c.item_id] != f]
            test_part = [c for c in comparisons if fold_of[c.item_id] == f]

            def fold_progress(frac: float, loss: float, f: int = f) -> None:
                if progress is not None:
                    progress((f + frac) / folds, loss)

            result = train(
                train_part,
                config=fold_config,
                cache=use_cache,
                progress=fold_progress,
                encoder=encoder,
                train_metrics=False,
            )
            m = evaluate(result.scorer, test_part)
            results.append(
                {
                    "fold": f,
                    "accuracy": m["accuracy"],
                    "mean_margin": m["mean_margin"],
                    "ece": m["ece"],
                    "n_train": len(train_part),
                    "n_eval": len(test_part),
                    "seconds": time.perf_counter() - t0,
                }
            )
    accs = torch.tensor([r["accuracy"] for r in results], dtype=torch.float64)
    return {
        "folds": results,
        "mean_accuracy": float(accs.mean()),
        "std_accuracy": float(accs.std()) if folds > 1 else 0.0,
        "seconds": time.perf_counter() - started,
        "config": config.to_dict(),
    }
