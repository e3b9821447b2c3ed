"""Learning-rate schedules against values computed by hand."""

from __future__ import annotations

import math

import pytest

from training.lr_schedules import cosine_decay, warmup_linear


def test_cosine_decay_by_hand():
    # ½(1 + cos(π·s/T)) with T = 4: s = 0 → 1, s = 1 → ½(1 + √2/2) = 0.853553, s = 2 → ½
    assert cosine_decay(0, total=4) == 1.0
    assert cosine_decay(1, total=4) == pytest.approx(0.5 * (1 + math.sqrt(2) / 2))
    assert cosine_decay(2, total=4) == pytest.approx(0.5)
    assert cosine_decay(4, total=4) == pytest.approx(0.0)
    assert cosine_decay(9, total=4) == pytest.approx(0.0)  # stays at 0 past the end


def test_warmup_linear_by_hand():
    # warm-up 2 of 10 steps: min(1, (s + 1)/2) · max(0, (10 − s)/8)
    assert warmup_linear(0, warmup=2, total=10) == pytest.approx(0.5 * 10 / 8)
    assert warmup_linear(1, warmup=2, total=10) == pytest.approx(1.0 * 9 / 8)
    assert warmup_linear(2, warmup=2, total=10) == pytest.approx(1.0)
    assert warmup_linear(6, warmup=2, total=10) == pytest.approx(0.5)
    assert warmup_linear(10, warmup=2, total=10) == 0.0
    assert warmup_linear(12, warmup=2, total=10) == 0.0
    # everything is warm-up: the decay's denominator is floored at 1
    assert warmup_linear(0, warmup=1, total=1) == pytest.approx(1.0)


def test_schedules_drive_a_torch_optimizer():
    torch = pytest.importorskip("torch")
    from functools import partial

    weight = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([weight], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, partial(cosine_decay, total=4))
    seen = []
    for _ in range(4):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.1 * cosine_decay(s, total=4) for s in range(4)])
