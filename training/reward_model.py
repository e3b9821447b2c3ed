"""Reward model: a scalar reward for a response given its prompt, trained from rankings.

Read top to bottom:

1. ``Comparison`` (one prompt, K >= 2 responses, a ranking in tiers) and ``TrainConfig``.
2. Features. A response is represented by the mean-pooled hidden states of several
   encoder layers side by side (``TrainConfig.layers``; the middle layers of MiniLM rank
   harmlessness much better than its final sentence embedding), plus a few cheap length
   features, plus (optionally) prompt–response interaction features: per-layer cosine
   between prompt-tail and response pools, and their element-wise product.
3. ``RewardHead``: standardisation (train-set mean/std as buffers) -> linear (+ optional
   small MLP), an ensemble of such heads is averaged.
4. ``RewardScorer``: encoder + head; ``.score(prompt, responses) -> list[float]``.
5. Training. mode="head": the encoder is frozen, features come from the EmbeddingCache and
   the head trains in seconds. mode="finetune": the head is fitted first on frozen features
   (linear probing), then the encoder and head are trained together (LP-FT, Kumar et al.
   2022), which keeps the good head while the encoder adapts.
6. ``evaluate`` (pairwise accuracy, mean margin, ECE, human ceiling), ``split_by_item``,
   ``cross_validate``, ``save`` / ``load``, ``preview_step``.

Stable API (used by the Django side, e.g. ``manage.py train_reward_model --cv 5``)::

    train(comparisons, *, config=TrainConfig(), cache=None, progress=None, encoder=None) -> TrainResult
    evaluate(model, comparisons, *, agreement=None, cache=None) -> dict
    split_by_item(comparisons, eval_fraction=0.1, seed=0) -> (train, eval)
    cross_validate(comparisons, *, config=TrainConfig(), folds=5, seed=0, cache=None,
                   progress=None, encoder=None) -> dict
        {"folds": [{"fold", "accuracy", "mean_margin", "ece", "n_train", "n_eval",
                    "seconds"}, ...], "mean_accuracy", "std_accuracy", "seconds", "config"}
    save(result, directory) -> Path;  load(directory, *, device=None) -> RewardScorer
    preview_step(scorer, prompt, responses, ranking, *, lr=1e-3) -> (before, after)

``progress(fraction, loss)`` is called during training with fraction in [0, 1].
No Django import anywhere in this file.

Measured on hh-rlhf harmless-base test (2,312 pairs), 5-fold CV by item, mean accuracy
(fold seeds 0-4 unless noted); 2 shared CPU cores unless noted:
  shorter response wins                                    0.554
  frozen MiniLM sentence embedding (last layer) + linear   0.614
  + middle layers 1-5 pooled, l2=250                       0.646
  + l2=1500 (DEFAULT, mode="head")                         0.655  (0.646-0.660; ~35 s
                                                                   for the whole CV, embedding
                                                                   included; ~4 s when cached)
  + MLP branch (hidden=64) / prompt features / 5 bagged heads   no gain (0.637-0.646, 2 seeds)
  mode="finetune" (LP-FT), H200, fold seeds 0 / 1:
     1 epoch lr 2e-5: 0.654 / -       2 epochs lr 5e-5: 0.666 / 0.648
     2 epochs lr 1e-4: 0.660 / -      3 epochs lr 3e-5: 0.655 / -
     1 epoch lr 1e-4:  - / 0.648      2 epochs + prompt features: 0.654 / -
  mode="finetune" with its defaults (2 epochs, lr 5e-5) on 2 CPU cores, fold seed 0:
     0.660 in 1,639 s for the 5-fold CV (~5.5 min per fold of 1,850 pairs; ~12.7 pairs/s)
     vs. 0.654 for the default head on the same folds in 35 s.
  i.e. fine-tuning gains ~0.006 over the head on paired folds (+0.005, +0.011, +0.001),
  inside the fold-to-fold noise, at ~50x the cost, and 5,000 comparisons would already
  take ~15 min on an idle 2-core box. So the default is mode="head"; mode="finetune"
  (defaults = its best measured setting) is the bigger option.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .encoders import EmbeddingCache, TextEncoder
from .losses import all_pairs_loss, centering_loss, plackett_luce_loss, tiers_from_ranking

Progress = Callable[[float, float], None]

# ---------------------------------------------------------------------------------------
# 1. Data and configuration
# ---------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """One prompt with K >= 2 responses ranked in tiers (best first, ties inside a tier)."""

    item_id: Hashable  # what splits are made by: one item never straddles train/eval
    prompt: str
    responses: list[str]
    ranking: list[list[int]]  # e.g. [[1], [0, 2]]: response 1 best, 0 and 2 tied below
    weight: float = 1.0
    strength: int | None = None  # 1..3 (slight..strong) for K = 2; used for margins

    def tiers(self) -> list[int]:
        """Tier per response position (-1 = not ranked)."""
        return tiers_from_ranking(self.ranking, len(self.responses))


@dataclass
class TrainConfig:
    """Everything that defines a training run. Defaults: the best setting measured on
    hh-rlhf harmless (see the module docstring): frozen MiniLM, pooled layers 1-5, a
    strongly regularised linear head. A few thousand comparisons train in well under a
    minute on 2 CPU cores (mostly embedding; seconds once cached)."""

    mode: str = "head"  # "head" (frozen encoder, cached features) | "finetune" (LP-FT)
    encoder_path: str | None = None  # local HF encoder folder; None = bundled all-MiniLM-L6-v2
    max_length: int = 256  # tokens per text for embedding
    layers: tuple[int, ...] | None = (1, 2, 3, 4, 5)  # hidden states pooled; None = last only
    length_features: bool = True
    prompt_features: bool = False  # prompt–response interactions (cos per layer, product)
    prompt_chars: int = 600  # prompt tail (characters) used for prompt features
    loss: str = "all_pairs"  # "all_pairs" | "plackett_luce" (both equal BT at K = 2)
    tie_weight: float = 0.0  # > 0: tied pairs pull rewards together (all_pairs only)
    margin_scale: float = 0.0  # margin = margin_scale * (strength - 1) / 2 for K = 2
    centering: float = 0.0  # λ of the reward-centering term (Eisenstein et al. 2023)
    # head
    hidden: int = 0  # 0 = linear head; > 0 adds an MLP branch of this width
    dropout: float = 0.0
    l2: float = 1500.0  # penalty (l2 / n_train) * ||W||² (≈ sklearn C = 1 / (4 l2) per pair)
    lr: float = 3e-3
    epochs: int = 60
    max_steps: int = 2000  # caps epochs on big data: 100k pairs need ~10 epochs, not 60
    batch_size: int = 512
    ensemble: int = 1  # heads trained on bootstrap resamples and averaged (1 = no bagging)
    # fine-tuning (mode="finetune")
    ft_epochs: int = 2
    ft_lr: float = 5e-5
    ft_head_lr: float = 1e-4
    ft_batch_size: int = 16  # comparisons per step
    ft_max_length: int = 128
    ft_weight_decay: float = 0.01
    ft_warmup: float = 0.1  # fraction of steps with linear warm-up
    # run
    eval_fraction: float = 0.1  # held out by item inside train(); 0 = train on everything
    seed: int = 0
    embed_batch_size: int = 64
    device: str | None = None  # None = cuda if available else cpu

    def __post_init__(self) -> None:
        if self.mode not in ("head", "finetune"):
            raise ValueError("mode must be 'head' or 'finetune'")
        if self.loss not in ("all_pairs", "plackett_luce"):
            raise ValueError("loss must be 'all_pairs' or 'plackett_luce'")
        if self.loss == "plackett_luce" and self.margin_scale:
            raise ValueError("margins are only defined for the all_pairs loss")
        if self.layers is not None:
            self.layers = tuple(int(i) for i in self.layers)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# ---------------------------------------------------------------------------------------
# 2. Features
# ---------------------------------------------------------------------------------------

N_LENGTH_FEATURES = 4


def response_text(response: str) -> str:
    return response.strip()


def prompt_tail(prompt: str, max_chars: int) -> str:
    """Last ``max_chars`` characters of the prompt, starting at a word boundary."""
    prompt = prompt.strip()
    if len(prompt) <= max_chars:
        return prompt
    tail = prompt[-max_chars:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < 40 else tail


def length_features(texts: Sequence[str]) -> Tensor:
    """[N, 4]: log1p(chars), log1p(words), has a question mark, log1p(lines - 1)."""
    rows = [
        [
            math.log1p(len(t)),
            math.log1p(len(t.split())),
            float("?" in t),
            math.log1p(t.count("\n")),
        ]
        for t in texts
    ]
    return torch.tensor(rows, dtype=torch.float32).view(len(texts), N_LENGTH_FEATURES)


def feature_dim(config: TrainConfig, encoder_dim: int, n_layers: int) -> int:
    dim = encoder_dim
    if config.length_features:
        dim += N_LENGTH_FEATURES
    if config.prompt_features:
        dim += n_layers + encoder_dim
    return dim


def combine_features(
    *,
    config: TrainConfig,
    response_emb: Tensor,
    texts: Sequence[str],
    prompt_emb: Tensor | None,
    n_layers: int,
) -> Tensor:
    """Feature rows [N, F] from response pools [N, D] (D = n_layers * H) and prompt pools [N, D]."""
    parts = [response_emb]
    if config.length_features:
        parts.append(length_features(texts).to(response_emb))
    if config.prompt_features:
        assert prompt_emb is not None
        n = response_emb.shape[0]
        r = response_emb.view(n, n_layers, -1)  # [N, L, H]
        p = prompt_emb.view(n, n_layers, -1)  # [N, L, H]
        parts.append(nn.functional.cosine_similarity(r, p, dim=-1))  # [N, L]
        parts.append(response_emb * prompt_emb)  # [N, D]
    return torch.cat(parts, dim=-1)


# ---------------------------------------------------------------------------------------
# 3. Head
# ---------------------------------------------------------------------------------------


class RewardHead(nn.Module):
    """features [..., F] -> reward [...]: standardise, linear, plus an optional MLP branch."""

    def __init__(self, *, in_dim: int, hidden: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_dim, 1, bias=False)  # a bias cancels in every pairwise loss
        nn.init.zeros_(self.linear.weight)
        self.mlp: nn.Module | None = None
        if hidden > 0:
            self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def fit_standardizer(self, x: Tensor, *, max_rows: int = 20_000) -> None:
        """x: [N, F] training rows (an evenly spaced subset of at most max_rows is enough)."""
        if x.shape[0] > max_rows:
            x = x[torch.linspace(0, x.shape[0] - 1, max_rows).long()]
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp(min=1e-6))

    def forward(self, x: Tensor) -> Tensor:
        z = self.dropout((x - self.mean) / self.std)  # [..., F]
        r = self.linear(z).squeeze(-1)  # [...]
        if self.mlp is not None:
            r = r + self.mlp(z).squeeze(-1)
        return r

    def penalty(self) -> Tensor:
        """Σ W² over all weight matrices (not biases)."""
        total = self.linear.weight.pow(2).sum()
        if self.mlp is not None:
            total = total + sum(m.weight.pow(2).sum() for m in self.mlp if isinstance(m, nn.Linear))
        return total


class HeadEnsemble(nn.Module):
    """Mean reward of several heads: features [..., F] -> [...]."""

    def __init__(
        self, *, in_dim: int, members: int = 1, hidden: int = 0, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.heads = nn.ModuleList(
            RewardHead(in_dim=in_dim, hidden=hidden, dropout=dropout) for _ in range(members)
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([h(x) for h in self.heads]).mean(0)


# ---------------------------------------------------------------------------------------
# 4. Scorer
# ---------------------------------------------------------------------------------------


class RewardScorer(nn.Module):
    """A trained reward model: ``score(prompt, responses) -> list[float]``."""

    def __init__(self, *, encoder: TextEncoder, head: HeadEnsemble, config: TrainConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.config = config
        self.cache: EmbeddingCache | None = None  # used for frozen-encoder features when set

    @property
    def n_layers(self) -> int:
        return len(self.encoder.layers) if self.encoder.layers else 1

    # features ---------------------------------------------------------------------------

    def _embed(self, texts: list[str], *, grad: bool) -> Tensor:
        if grad:
            return self.encoder(texts)  # [N, D], keeps the graph
        if self.cache is not None:  # frozen weights only: fine-tuning drops the cache
            return self.cache.get_or_compute(
                self.encoder, texts, batch_size=self.config.embed_batch_size
            )
        return self.encoder.embed(texts, batch_size=self.config.embed_batch_size)

    def features(
        self, prompts: Sequence[str], responses: Sequence[str], *, grad: bool = False
    ) -> Tensor:
        """One feature row per (prompt, response): [N, F] (on the encoder's device when grad)."""
        texts = [response_text(r) for r in responses]
        emb = self._embed(texts, grad=grad)  # [N, D]
        p_emb = None
        if self.config.prompt_features:
            tails = [prompt_tail(p, self.config.prompt_chars) for p in prompts]
            p_emb = self._embed(tails, grad=grad)  # [N, D]
        dev = emb.device
        return combine_features(
            config=self.config,
            response_emb=emb,
            texts=texts,
            prompt_emb=p_emb,
            n_layers=self.n_layers,
        ).to(dev)

    def rewards(self, prompts: Sequence[str], responses: Sequence[str]) -> Tensor:
        """Rewards [N] (CPU, no grad) for parallel lists of prompts and responses."""
        was = self.training
        self.eval()
        with torch.no_grad():
            feats = self.features(prompts, responses)
            out = self.head(feats.to(self.head_device)).float().cpu()
        self.train(was)
        return out

    @property
    def head_device(self) -> torch.device:
        return next(self.head.buffers()).device

    def score(self, prompt: str, responses: Sequence[str]) -> list[float]:
        """Rewards of each response to one prompt (higher = better)."""
        return self.rewards([prompt] * len(responses), list(responses)).tolist()


# ---------------------------------------------------------------------------------------
# 5. Training
# ---------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    scorer: RewardScorer
    config: TrainConfig
    metrics: dict[str, Any]
    loss_curve: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def state_dict(self) -> dict[str, Tensor]:
        return self.scorer.state_dict()


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


def build_encoder(config: TrainConfig) -> TextEncoder:
    return TextEncoder(
        config.encoder_path,
        max_length=config.max_length,
        normalize=False,  # the head standardises each feature itself
        layers=config.layers,
        device=config.device,
    )


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


def _fit_head(
    head: RewardHead,
    *,
    feats: Tensor,
    tiers: Tensor,
    weight: Tensor,
    margin: Tensor,
    config: TrainConfig,
    generator: torch.Generator,
    report: Callable[[float, float], None],
) -> None:
    """Adam on the ranking loss + (l2 / n) * ||W||²; feats [B, K, F] already on head's device."""
    n = feats.shape[0]
    if bool((tiers >= 0).all()):  # no padding: every row is a real response
        head.fit_standardizer(feats.view(-1, feats.shape[-1]))
    else:
        head.fit_standardizer(feats[tiers >= 0])
    opt = torch.optim.Adam(head.parameters(), lr=config.lr)
    steps_per_epoch = max(1, math.ceil(n / config.batch_size))
    epochs = max(1, min(config.epochs, math.ceil(config.max_steps / steps_per_epoch)))
    total = steps_per_epoch * epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
    )
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
        report((epoch + 1) / epochs, epoch_loss / n)
    head.eval()


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
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm))
    )
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


def train(
    comparisons: Sequence[Comparison],
    *,
    config: TrainConfig | None = None,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    encoder: TextEncoder | None = None,
    train_metrics: bool = True,
) -> TrainResult:
    """Train a reward model. ``encoder`` lets callers reuse a loaded encoder (it is copied,
    never modified, in finetune mode). Held-out metrics use ``config.eval_fraction``;
    ``train_metrics=False`` skips scoring the training set (saves a pass in finetune mode)."""
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
    for m, member in enumerate(head.heads):
        if config.ensemble > 1:  # bagging: a bootstrap resample per member
            idx = torch.randint(0, len(train_set), (len(train_set),), generator=generator).to(
                device
            )
            data = (feats[idx], tiers[idx], weight[idx], margin[idx])
        else:
            data = (feats, tiers, weight, margin)

        def report(frac: float, loss: float, m: int = m) -> None:
            loss_curve.append(loss)
            if progress is not None:
                progress(head_share * (m + frac) / config.ensemble, loss)

        _fit_head(
            member,
            feats=data[0],
            tiers=data[1],
            weight=data[2],
            margin=data[3],
            config=config,
            generator=generator,
            report=report,
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


# ---------------------------------------------------------------------------------------
# 6. Evaluation, splits, cross-validation, persistence, preview
# ---------------------------------------------------------------------------------------


def pair_metrics(
    rewards: Sequence[Sequence[float]], comparisons: Sequence[Comparison], *, bins: int = 10
) -> dict[str, float]:
    """Pairwise metrics over every ordered pair (different tiers) of every comparison.

    accuracy: share of pairs with r_w > r_l (an exact tie of rewards counts ½).
    mean_margin: mean of r_w − r_l.
    ece: expected calibration error of p = σ(r_w − r_l); each pair enters in both orders,
    (p, outcome 1) and (1 − p, outcome 0), over ``bins`` equal-width bins of p.
    """
    diffs: list[float] = []
    for rs, c in zip(rewards, comparisons, strict=True):
        t = c.tiers()
        for i in range(len(rs)):
            for j in range(len(rs)):
                if t[i] >= 0 and t[j] >= 0 and t[i] < t[j]:
                    diffs.append(float(rs[i]) - float(rs[j]))
    if not diffs:
        return {
            "accuracy": float("nan"),
            "mean_margin": float("nan"),
            "ece": float("nan"),
            "n_pairs": 0,
        }
    d = torch.tensor(diffs, dtype=torch.float64)
    acc = ((d > 0).double() + 0.5 * (d == 0).double()).mean()
    p = torch.sigmoid(d)
    probs = torch.cat([p, 1 - p])
    outcome = torch.cat([torch.ones_like(p), torch.zeros_like(p)])
    which = torch.clamp((probs * bins).long(), max=bins - 1)
    ece = torch.zeros((), dtype=torch.float64)
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.double().mean() * (outcome[sel].mean() - probs[sel].mean()).abs()
    return {
        "accuracy": float(acc),
        "mean_margin": float(d.mean()),
        "ece": float(ece),
        "n_pairs": len(diffs),
    }


def score_comparisons(scorer: RewardScorer, comparisons: Sequence[Comparison]) -> list[list[float]]:
    prompts = [c.prompt for c in comparisons for _ in c.responses]
    responses = [r for c in comparisons for r in c.responses]
    flat = scorer.rewards(prompts, responses).tolist()
    out, row = [], 0
    for c in comparisons:
        out.append(flat[row : row + len(c.responses)])
        row += len(c.responses)
    return out


def evaluate(
    model: RewardScorer | TrainResult,
    comparisons: Sequence[Comparison],
    *,
    agreement: Mapping[Hashable, float] | None = None,
    cache: EmbeddingCache | None = None,
) -> dict[str, float]:
    """accuracy / mean_margin / ece / n_pairs (see ``pair_metrics``); with ``agreement``
    (item_id -> share of annotators agreeing with the label) also ``human_ceiling``, the
    mean agreement over the evaluated items: the accuracy an annotator reaches against
    the labels, which no model should be expected to beat by much."""
    scorer = model.scorer if isinstance(model, TrainResult) else model
    if cache is not None:
        scorer.cache = cache
    if not comparisons:
        return {
            "accuracy": float("nan"),
            "mean_margin": float("nan"),
            "ece": float("nan"),
            "n_pairs": 0,
        }
    metrics: dict[str, float] = pair_metrics(score_comparisons(scorer, comparisons), comparisons)
    if agreement is not None:
        rates = [float(agreement[c.item_id]) for c in comparisons if c.item_id in agreement]
        metrics["human_ceiling"] = sum(rates) / len(rates) if rates else float("nan")
    return metrics


def _shuffled_items(comparisons: Sequence[Comparison], seed: int) -> list[Hashable]:
    items = list(dict.fromkeys(c.item_id for c in comparisons))  # first-seen order, unique
    random.Random(seed).shuffle(items)
    return items


def split_by_item(
    comparisons: Sequence[Comparison], eval_fraction: float = 0.1, seed: int = 0
) -> tuple[list[Comparison], list[Comparison]]:
    """(train, eval): every comparison of one item_id lands on the same side."""
    if eval_fraction <= 0:
        return list(comparisons), []
    items = _shuffled_items(comparisons, seed)
    n_eval = max(1, round(len(items) * eval_fraction)) if len(items) > 1 else 0
    held = set(items[:n_eval])
    return [c for c in comparisons if c.item_id not in held], [
        c for c in comparisons if c.item_id in held
    ]


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
    import tempfile

    config = config or TrainConfig()
    started = time.perf_counter()
    items = _shuffled_items(comparisons, seed)
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


def save(result: TrainResult | RewardScorer, directory: str | Path) -> Path:
    """Write model.safetensors (head, plus encoder weights when fine-tuned), config.json
    and metrics.json into ``directory``."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    scorer = result.scorer if isinstance(result, TrainResult) else result
    metrics = result.metrics if isinstance(result, TrainResult) else {}
    state = {f"head.{k}": v for k, v in scorer.head.state_dict().items()}
    if scorer.config.mode == "finetune":
        state.update({f"encoder.{k}": v for k, v in scorer.encoder.model.state_dict().items()})
    save_file(
        {k: v.detach().contiguous().cpu() for k, v in state.items()},
        str(directory / "model.safetensors"),
    )
    meta = {
        "config": scorer.config.to_dict(),
        "encoder_identifier": scorer.encoder.identifier,
        "in_dim": scorer.head.heads[0].mean.numel(),
        "format": 1,
    }
    (directory / "config.json").write_text(json.dumps(meta, indent=2, default=str))
    (directory / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    return directory


def load(directory: str | Path, *, device: str | None = None) -> RewardScorer:
    """Rebuild a ``RewardScorer`` written by ``save`` (the base encoder must be available)."""
    from safetensors.torch import load_file

    directory = Path(directory)
    meta = json.loads((directory / "config.json").read_text())
    config = TrainConfig.from_dict(meta["config"])
    config.device = device  # None: cuda if available here, whatever trained the model
    encoder = build_encoder(config)
    state = load_file(str(directory / "model.safetensors"))
    head = HeadEnsemble(
        in_dim=meta["in_dim"], members=config.ensemble, hidden=config.hidden, dropout=config.dropout
    )
    head.load_state_dict({k[len("head.") :]: v for k, v in state.items() if k.startswith("head.")})
    enc_state = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
    if enc_state:
        encoder.model.load_state_dict(enc_state)
        encoder.max_length = config.ft_max_length
        encoder.mark_modified()
    elif encoder.identifier != meta["encoder_identifier"]:
        raise ValueError(
            f"encoder changed since training: {encoder.identifier} != {meta['encoder_identifier']}"
        )
    scorer = RewardScorer(encoder=encoder, head=head.to(encoder.device), config=config)
    scorer.eval()
    return scorer


def preview_step(
    scorer: RewardScorer,
    prompt: str,
    responses: Sequence[str],
    ranking: list[list[int]],
    *,
    lr: float = 1e-3,
) -> tuple[list[float], list[float]]:
    """Scores before and after ONE SGD step on this single ranking, applied to a deep
    copy (the given scorer is never modified). Head mode trains the head only; finetune
    mode the head and the encoder (at ``lr * ft_lr / ft_head_lr``)."""
    before = scorer.score(prompt, responses)
    finetune = scorer.config.mode == "finetune"
    # share (do not copy) the cache, and in head mode the frozen encoder: neither changes
    memo: dict[int, Any] = {}
    if scorer.cache is not None:
        memo[id(scorer.cache)] = scorer.cache
    if not finetune:
        memo[id(scorer.encoder)] = scorer.encoder
    clone = copy.deepcopy(scorer, memo)
    comparison = Comparison(
        item_id="preview", prompt=prompt, responses=list(responses), ranking=ranking
    )
    tiers, weight, margin = pack([comparison], config=clone.config)
    params = [{"params": list(clone.head.parameters()), "lr": lr}]
    if finetune:
        params.append(
            {
                "params": list(clone.encoder.parameters()),
                "lr": lr * clone.config.ft_lr / clone.config.ft_head_lr,
            }
        )
    opt = torch.optim.SGD(params, lr=lr)
    clone.eval()  # no dropout: the step should be deterministic
    feats = clone.features([prompt] * len(responses), list(responses), grad=finetune)  # [K, F]
    device = clone.head_device
    rewards = clone.head(feats.to(device)).unsqueeze(0)  # [1, K]
    loss = ranking_loss(
        rewards=rewards,
        tiers=tiers.to(device),
        weight=weight.to(device),
        margin=margin.to(device),
        config=clone.config,
    )
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    after = clone.score(prompt, responses)
    return before, after
