"""Over-optimisation of an RL policy, read from its checkpoints. No Django here.

An RL policy climbs the score of the reward model it is trained against (the *proxy*: the
project's active reward model). Past some distance from its reference it learns what that
one model rewards by mistake rather than what annotators prefer: the proxy score keeps
rising while a second reward model, trained on another part of the labels and never
optimised against (the *held-out* model), stops rising and falls (Gao, Schulman and Hilton
2022, "Scaling Laws for Reward Model Overoptimization", plot both against the KL to the
reference). Each checkpoint of a run records ``{"step", "kl", "proxy", "heldout"}``.

:func:`gaming_step` finds the first checkpoint after which the proxy rose and the held-out
score fell; :func:`chart` lays the checkpoints out as SVG coordinates (x: KL, y: score).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

WIDTH, HEIGHT = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 540, 16, 212


def usable(checkpoints: Sequence[dict[str, Any]] | None) -> list[dict[str, float]]:
    """Checkpoints with a finite step, KL, proxy and held-out score, in step order."""
    rows = []
    for point in checkpoints or []:
        try:
            row = {name: float(point[name]) for name in ("step", "kl", "proxy", "heldout")}
        except (KeyError, TypeError, ValueError):
            continue
        if all(math.isfinite(v) for v in row.values()):
            rows.append(row)
    return sorted(rows, key=lambda row: row["step"])


def gaming_step(checkpoints: Sequence[dict[str, Any]] | None) -> int | None:
    """The step of the last checkpoint before the first one where the proxy score rose
    while the held-out score fell (None when that never happened)."""
    rows = usable(checkpoints)
    for before, after in zip(rows, rows[1:], strict=False):
        if after["proxy"] > before["proxy"] and after["heldout"] < before["heldout"]:
            return int(before["step"])
    return None


def _ticks(lo: float, hi: float, n: int = 3) -> list[float]:
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)] if hi > lo else [lo]


def chart(checkpoints: Sequence[dict[str, Any]] | None,
          best_step: int | None = None) -> dict[str, Any] | None:
    """Both scores against KL as SVG polyline points in a WIDTH × HEIGHT box, with ticks and
    the best checkpoint's two points (None with fewer than two usable checkpoints)."""
    rows = usable(checkpoints)
    if len(rows) < 2:
        return None
    kls = [r["kl"] for r in rows]
    scores = [r[name] for r in rows for name in ("proxy", "heldout")]
    x_lo, x_hi = min(kls), max(kls)
    y_lo, y_hi = min(scores), max(scores)
    x_span, y_span = (x_hi - x_lo) or 1.0, (y_hi - y_lo) or 1.0

    def x_of(kl: float) -> float:
        return round(LEFT + (kl - x_lo) / x_span * (RIGHT - LEFT), 1)

    def y_of(score: float) -> float:
        return round(TOP + (y_hi - score) / y_span * (BOTTOM - TOP), 1)

    def series(name: str) -> dict[str, Any]:
        dots = [{"x": x_of(r["kl"]), "y": y_of(r[name]), "step": int(r["step"]),
                 "kl": r["kl"], "score": r[name]} for r in rows]
        return {"points": " ".join(f"{d['x']},{d['y']}" for d in dots), "dots": dots}

    best = next((r for r in rows if best_step is not None and int(r["step"]) == best_step),
                None)
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": RIGHT, "top": TOP,
        "bottom": BOTTOM, "x_label_x": (LEFT + RIGHT) // 2, "y_label_y": (TOP + BOTTOM) // 2,
        "proxy": series("proxy"), "heldout": series("heldout"),
        "best": None if best is None else {
            "step": int(best["step"]), "x": x_of(best["kl"]), "proxy_y": y_of(best["proxy"]),
            "heldout_y": y_of(best["heldout"]), "kl": best["kl"], "heldout": best["heldout"]},
        "x_ticks": [{"x": x_of(v), "label": f"{v:.3g}"} for v in _ticks(x_lo, x_hi)],
        "y_ticks": [{"y": y_of(v), "label": f"{v:.3g}"} for v in _ticks(y_lo, y_hi)],
        "gaming_step": gaming_step(rows),
        "n": len(rows),
    }
