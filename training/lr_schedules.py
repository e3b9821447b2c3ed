"""Learning-rate schedules: the factor a base learning rate is multiplied by at each step.

Plain functions of the step, handed to ``torch.optim.lr_scheduler.LambdaLR`` through
``functools.partial``, so that every schedule a trainer uses has a name and a test.
No torch or Django here.
"""

from __future__ import annotations

import math


def cosine_decay(step: int, *, total: int) -> float:
    """½·(1 + cos(π·min(step, total) / total)): 1 at step 0, 0 from ``total`` on."""
    return 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


def warmup_linear(step: int, *, warmup: int, total: int) -> float:
    """A linear warm-up, (step + 1) / warmup capped at 1, times a linear decay,
    (total − step) / (total − warmup) floored at 0: rises over the first ``warmup`` steps,
    then falls to 0 at ``total``."""
    return min(1.0, (step + 1) / warmup) * max(0.0, (total - step) / max(1, total - warmup))
