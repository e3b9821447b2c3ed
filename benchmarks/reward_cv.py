"""5-fold cross-validated pairwise accuracy of the reward model on hh-rlhf (harmless).

    python benchmarks/reward_cv.py [--data PATH] [--folds 5] [--cache DIR] [--set key=value ...]

Prints ONE JSON line: {"mean_accuracy", "std_accuracy", "folds": [...], "seconds", ...}.
Folds are by item (one hh-rlhf line = one item; lines are read through the import parser,
see ``reward_data.py``). ``--set`` overrides TrainConfig fields, e.g. ``--set
mode=finetune --set ft_epochs=2``. Library use:

    from training.reward import cross_validate, TrainConfig
    cross_validate(comparisons, config=TrainConfig(), folds=5) -> dict

Measured on 2 CPU cores (see training/reward/__init__.py for every variant tried):
default (head) 0.654 in ~35 s with a cold cache; ``--set mode=finetune`` 0.660 in ~27 min.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.reward_data import DEFAULT_DATA, hh_comparisons  # noqa: E402
from training.reward import EmbeddingCache, TrainConfig, cross_validate  # noqa: E402


def parse_overrides(pairs: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        try:
            out[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key] = raw
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N lines")
    ap.add_argument(
        "--cache", default=None, help="embedding cache folder (default: a temporary one)"
    )
    ap.add_argument(
        "--set", dest="overrides", action="append", default=[], help="TrainConfig field=value"
    )
    args = ap.parse_args(argv)

    started = time.perf_counter()
    comparisons = hh_comparisons(args.data, limit=args.limit)
    config = TrainConfig(**parse_overrides(args.overrides))
    cache = EmbeddingCache(args.cache) if args.cache else None
    cv = cross_validate(comparisons, config=config, folds=args.folds, seed=args.seed, cache=cache)
    out = {
        "benchmark": "reward_cv",
        "data": Path(args.data).name,
        "n_comparisons": len(comparisons),
        "folds": args.folds,
        "mean_accuracy": round(cv["mean_accuracy"], 4),
        "std_accuracy": round(cv["std_accuracy"], 4),
        "per_fold": [round(f["accuracy"], 4) for f in cv["folds"]],
        "seconds": round(time.perf_counter() - started, 1),
        "overrides": parse_overrides(args.overrides),
    }
    print(json.dumps(out), flush=True)
    return out


if __name__ == "__main__":
    main()
