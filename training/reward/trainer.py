"""Training a reward model from comparisons.

Read top to bottom:

1. ``pack`` (tiers, weights and margins as tensors) and ``ranking_loss`` (the configured
   listwise loss from :mod:`.losses`, plus the optional centering term).
2. ``_fit_head``: Adam on frozen features with a cosine learning-rate decay and an L2
   penalty; mode="head" is only this, on features from the EmbeddingCache (seconds).
3. ``_finetune``: mode="finetune" fits the head first on frozen features (linear probing),
   then trains the encoder and head together (LP-FT, Kumar et al. 2022), which keeps the
   good head while the encoder adapts; AdamW, warm-up then linear decay, grad clip 1.
4. ``train``: the whole run, with held-out metrics by item.

``progress(fraction, loss)`` is called during training with fraction in [0, 1].
No Django here.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from torch import Tensor

from ..lr_schedules import cosine_decay, warmup_linear
from .embedding_cache import EmbeddingCache
from .encoders import TextEncoder
from .evaluation import evaluate, split_by_item
from .losses import all_pairs_loss, centering_loss, plackett_luce_loss
from .model import (
    Comparison,
    HeadEnsemble,
    RewardHead,
    RewardScorer,
    TrainConfig,
    TrainResult,
    build_encoder,
    feature_dim,
)

Progress = Callable[[float, float], None]

# ---------------------------------------------------------------------------------------
# 1. Tensors and the loss
# ---------------------------------------------------------------------------------------


def set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def validate(comparisons: Sequence[Comparison]) -> None:
    for c in comparisons:
        if len(c.responses) < 2:
            raise ValueError(f"item {c.item_id!r}: needs at least 2 responses")
        c.tiers()  # raises on bad positions


def pack(
    comparisons: Sequence[Comparison], *, config: TrainConfig
) -> tuple[Tensor, Tensor, Tensor]:
    """-> tiers [B, K] (-1 padding), weight [B], margin [B] for K = max responses."""
    k = max(len(c.responses) for c in comparisons)
    tiers = torch.full((len(comparisons), k), -1, dtype=torch.long)
    for i, c in enumerate(comparisons):
        tiers[i, : len(c.responses)] = torch.tensor(c.tiers())
    weight = torch.tensor([float(c.weight) for c in comparisons])
    margin = torch.tensor(
        [
            config.margin_scale * (c.strength - 1) / 2
            if (c.strength is not None and len(c.responses) == 2)
            else 0.0
            for c in comparisons
        ]
    )
    return tiers, weight, margin


def ranking_loss(
    *, rewards: Tensor, tiers: Tensor, weight: Tensor, margin: Tensor, config: TrainConfig
) -> Tensor:
    """rewards [B, K] -> scalar: the configured ranking loss + optional centering term."""
    if config.loss == "plackett_luce":
        loss = plackett_luce_loss(rewards=rewards, tiers=tiers, weight=weight)
    else:
        loss = all_pairs_loss(
            rewards=rewards,
            tiers=tiers,
            weight=weight,
            margin=margin if config.margin_scale else None,
            tie_weight=config.tie_weight,
        )
    if config.centering:
        loss = loss + centering_loss(rewards=rewards, tiers=tiers, coef=config.centering)
    return loss


def comparison_features(
    scorer: RewardScorer, comparisons: Sequence[Comparison], *, k: int | None = None
) -> Tensor:
    """Frozen features of every response, padded: [B, K, F] (zeros where no response)."""
    k = k or max(len(c.responses) for c in comparisons)
    prompts = [c.prompt for c in comparisons for _ in c.responses]
    responses = [r for c in comparisons for r in c.responses]
    with torch.no_grad():
        flat = scorer.features(prompts, responses).float().cpu()  # [sum K_i, F]
    out = torch.zeros((len(comparisons), k, flat.shape[1]))
    rows, cols = _padded_positions(comparisons)  # [sum K_i] each
    out[rows, cols] = flat
    return out


def _padded_positions(comparisons: Sequence[Comparison]) -> tuple[Tensor, Tensor]:
    """(comparison index, response position) of every response, flattened in order."""
    sizes = torch.tensor([len(c.responses) for c in comparisons])  # [B]
    rows = torch.repeat_interleave(torch.arange(len(comparisons)), sizes)  # [sum K_i]
    starts = torch.cumsum(sizes, 0) - sizes  # [B]
    cols = torch.arange(int(sizes.sum())) - torch.repeat_interleave(starts, sizes)  # [sum K_i]
    return rows, cols


# ---------------------------------------------------------------------------------------
# 2.-3. Fitting the head, fine-tuning the encoder
# ---------------------------------------------------------------------------------------


def _fit_head(
    head: RewardHead,
    *,
    feats: Tensor,
    tiers: Tensor,
    weight: Tensor,
    margin: Tensor,
    config: TrainConfig,
    generator: torch.Generator,
    report: Callable[[float, float, float | None], None],
    held_out: tuple[Tensor, Tensor, Tensor, Tensor] | None = None,
) -> None:
    """Adam on the ranking loss + (l2 / n) * ||W||²; feats [B, K, F] already on head's device.
    With ``held_out`` (feats, tiers, weight, margin of comparisons it does not learn from)
    each epoch also reports the loss there, so that over-fitting shows on the curve."""
    n = feats.shape[0]
    if bool((tiers >= 0).all()):  # no padding: every row is a real response
        head.fit_standardizer(feats.view(-1, feats.shape[-1]))
    else:
        head.fit_standardizer(feats[tiers >= 0])
    opt = torch.optim.Adam(head.parameters(), lr=config.lr)
    steps_per_epoch = max(1, math.ceil(n / config.batch_size))
    epochs = max(1, min(config.epochs, math.ceil(config.max_steps / steps_per_epoch)))
    total = steps_per_epoch * epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, partial(cosine_decay, total=total))
    step = 0
    head.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator)
        epoch_loss = 0.0
        for start in range(0, n, config.batch_size):
            idx = order[start : start + config.batch_size]
            rewards = head(feats[idx])  # [b, K]
            loss = ranking_loss(
                rewards=rewards,
                tiers=tiers[idx],
                weight=weight[idx],
                margin=margin[idx],
                config=config,
            )
            total_loss = loss + (config.l2 / n) * head.penalty()
            opt.zero_grad(set_to_none=True)
            total_loss.backward()
            opt.step()
            sched.step()
            step += 1
            epoch_loss += loss.item() * len(idx)
        report((epoch + 1) / epochs, epoch_loss / n, _held_out_loss(head, held_out, config))
    head.eval()


def _held_out_loss(
    head: RewardHead, held_out: tuple[Tensor, Tensor, Tensor, Tensor] | None, config: TrainConfig
) -> float | None:
    """The ranking loss (no penalty) on comparisons the head does not learn from."""
    if held_out is None:
        return None
    feats, tiers, weight, margin = held_out
    head.eval()
    with torch.no_grad():
        loss = ranking_loss(
            rewards=head(feats), tiers=tiers, weight=weight, margin=margin, config=config
        )
    head.train()
    return float(loss.item())


def _finetune(
    scorer: RewardScorer,
    comparisons: Sequence[Comparison],
    *,
    config: TrainConfig,
    generator: torch.Generator,
    report: Callable[[float, float], None],
) -> None:
    """Train encoder + head together (AdamW, warm-up then linear decay, grad clip 1)."""
    enc = scorer.encoder
    enc.max_length = config.ft_max_length
    tiers, weight, margin = pack(comparisons, config=config)
    device = enc.device
    scorer.head.to(device)
    opt = torch.optim.AdamW(
        [
            {"params": list(enc.parameters()), "lr": config.ft_lr},
            {"params": list(scorer.head.parameters()), "lr": config.ft_head_lr},
        ],
        weight_decay=config.ft_weight_decay,
    )
    n = len(comparisons)
    steps_per_epoch = math.ceil(n / config.ft_batch_size)
    total = max(1, steps_per_epoch * config.ft_epochs)
    warm = max(1, int(total * config.ft_warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, partial(warmup_linear, warmup=warm, total=total))
    step = 0
    scorer.train()
    for _ in range(config.ft_epochs):
        # length bucketing for training: sort chunks of 32 batches by length, shuffle batches
        order = torch.randperm(n, generator=generator).tolist()
        chunk = config.ft_batch_size * 32
        batches: list[list[int]] = []
        for s in range(0, n, chunk):
            part = sorted(
                order[s : s + chunk], key=lambda i: sum(len(r) for r in comparisons[i].responses)
            )
            batches += [
                part[j : j + config.ft_batch_size]
                for j in range(0, len(part), config.ft_batch_size)
            ]
        perm = torch.randperm(len(batches), generator=generator).tolist()
        for b in perm:
            idx = batches[b]
            sub = [comparisons[i] for i in idx]
            k = max(len(c.responses) for c in sub)
            prompts = [c.prompt for c in sub for _ in c.responses]
            responses = [r for c in sub for r in c.responses]
            flat = scorer.head(scorer.features(prompts, responses, grad=True))  # [sum K_i]
            rewards = torch.zeros((len(sub), k), device=device, dtype=flat.dtype)  # [b, K]
            row = 0
            for i, c in enumerate(sub):
                rewards[i, : len(c.responses)] = flat[row : row + len(c.responses)]
                row += len(c.responses)
            t = tiers[idx, :k].to(device)
            loss = ranking_loss(
                rewards=rewards,
                tiers=t,
                weight=weight[idx].to(device),
                margin=margin[idx].to(device),
                config=config,
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(scorer.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            report(step / total, loss.item())
    scorer.eval()
    enc.mark_modified()  # fine-tuned pools must never be confused with the frozen ones


# ---------------------------------------------------------------------------------------
# 4. A training run
# ---------------------------------------------------------------------------------------


def train(
    comparisons: Sequence[Comparison],
    *,
    config: TrainConfig | None = None,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    encoder: TextEncoder | None = None,
    train_metrics: bool = True,
    held_out: Sequence[Comparison] | None = None,
    held_out_progress: Progress | None = None,
) -> TrainResult:
    """Train a reward model. ``encoder`` lets callers reuse a loaded encoder (it is copied,
    never modified, in finetune mode). Held-out metrics use ``config.eval_fraction``;
    ``train_metrics=False`` skips scoring the training set (saves a pass in finetune mode).
    ``held_out``: comparisons split off by the caller; the head phase then reports its
    loss there each epoch as ``held_out_progress(fraction, held_out_loss)``."""
    config = config or TrainConfig()
    validate(comparisons)
    started = time.perf_counter()
    set_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)

    train_set, eval_set = split_by_item(comparisons, config.eval_fraction, config.seed)
    if not train_set:
        raise ValueError("no training comparisons left after the eval split")

    base = encoder if encoder is not None else build_encoder(config)
    enc = copy.deepcopy(base) if config.mode == "finetune" else base
    n_layers = len(enc.layers) if enc.layers else 1
    in_dim = feature_dim(config, enc.dim, n_layers)
    head = HeadEnsemble(
        in_dim=in_dim, members=config.ensemble, hidden=config.hidden, dropout=config.dropout
    )
    scorer = RewardScorer(encoder=enc, head=head, config=config)
    scorer.cache = cache

    loss_curve: list[float] = []
    head_share = 0.1 if config.mode == "finetune" else 1.0  # share of progress for the head phase

    # phase 1: head(s) on frozen features
    feats = comparison_features(scorer, train_set)  # [B, K, F]
    tiers, weight, margin = pack(train_set, config=config)
    device = enc.device if config.mode == "finetune" else torch.device("cpu")
    feats, tiers, weight, margin = (
        feats.to(device),
        tiers.to(device),
        weight.to(device),
        margin.to(device),
    )
    head.to(device)
    held = None
    if held_out and held_out_progress is not None:
        ho_tiers, ho_weight, ho_margin = pack(held_out, config=config)
        held = tuple(
            t.to(device)
            for t in (comparison_features(scorer, held_out), ho_tiers, ho_weight, ho_margin)
        )
    for m, member in enumerate(head.heads):
        if config.ensemble > 1:  # bagging: a bootstrap resample per member
            idx = torch.randint(0, len(train_set), (len(train_set),), generator=generator).to(
                device
            )
            data = (feats[idx], tiers[idx], weight[idx], margin[idx])
        else:
            data = (feats, tiers, weight, margin)

        def report(frac: float, loss: float, held_loss: float | None = None, m: int = m) -> None:
            loss_curve.append(loss)
            at = head_share * (m + frac) / config.ensemble
            if progress is not None:
                progress(at, loss)
            if held_out_progress is not None and held_loss is not None:
                held_out_progress(at, held_loss)

        _fit_head(
            member,
            feats=data[0],
            tiers=data[1],
            weight=data[2],
            margin=data[3],
            config=config,
            generator=generator,
            report=report,
            held_out=held,  # type: ignore[arg-type]
        )

    # phase 2: fine-tune encoder + head together
    if config.mode == "finetune":

        def report_ft(frac: float, loss: float) -> None:
            loss_curve.append(loss)
            if progress is not None:
                progress(head_share + (1 - head_share) * frac, loss)

        _finetune(scorer, train_set, config=config, generator=generator, report=report_ft)
        scorer.cache = None
    head.to(enc.device)
    scorer.eval()

    metrics: dict[str, Any] = {"n_train": len(train_set), "n_eval": len(eval_set)}
    if train_metrics:
        metrics["train"] = evaluate(scorer, train_set)
    if eval_set:
        metrics["eval"] = evaluate(scorer, eval_set)
    metrics["seconds"] = time.perf_counter() - started
    if progress is not None:
        progress(1.0, loss_curve[-1] if loss_curve else float("nan"))
    return TrainResult(
        scorer=scorer,
        config=config,
        metrics=metrics,
        loss_curve=loss_curve,
        seconds=metrics["seconds"],
    )
