"""The optimisation phase both algorithms share: ``ppo_epochs`` passes over a rollout
batch in ``minibatches`` seeded minibatches, one AdamW step (gradient-norm clipped) each.
The algorithm supplies the loss of a minibatch and its statistics; their means over the
phase are its metrics. No Django here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ..sequences import Batch

LossFn = Callable[[Tensor], tuple[Tensor, dict[str, float]]]


def select(batch: Batch, rows: Tensor) -> Batch:
    return Batch(
        batch.input_ids[rows],
        batch.attention_mask[rows],
        batch.position_ids[rows],
        batch.response_mask[rows],
        batch.prompt_width,
    )


def minibatch_rows(n: int, minibatches: int, generator: torch.Generator) -> list[Tensor]:
    return list(torch.randperm(n, generator=generator).tensor_split(minibatches))


def optimise(
    loss_fn: LossFn,
    *,
    n: int,
    epochs: int,
    minibatches: int,
    optimizer: torch.optim.Optimizer,
    params: Sequence[nn.Parameter],
    grad_clip: float,
    generator: torch.Generator,
    device: str,
) -> dict[str, float]:
    sums: dict[str, float] = {}
    count = 0
    for _ in range(epochs):
        for rows in minibatch_rows(n, minibatches, generator):
            loss, stats = loss_fn(rows.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()
            for key, value in stats.items():
                sums[key] = sums.get(key, 0.0) + value
            count += 1
    return {key: value / count for key, value in sums.items()}
