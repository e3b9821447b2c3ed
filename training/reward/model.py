"""The reward model itself: what it learns from, how it is configured, what it computes.

Read top to bottom:

1. ``Comparison`` (one prompt, K >= 2 responses, a ranking in tiers) and ``TrainConfig``.
2. Features. A response is represented by the mean-pooled hidden states of several
   encoder layers side by side (``TrainConfig.layers``; the middle layers of MiniLM rank
   harmlessness much better than its final sentence embedding), plus a few cheap length
   features, plus (optionally) prompt–response interaction features: per-layer cosine
   between prompt-tail and response pools, and their element-wise product.
3. ``RewardHead``: standardisation (train-set mean/std as buffers) -> linear (+ optional
   small MLP); an ensemble of such heads is averaged.
4. ``RewardScorer``: encoder + head; ``.score(prompt, responses) -> list[float]``.
5. ``TrainResult``: what training returns (the scorer, its config, metrics, loss curve).

Training is :mod:`.trainer`, metrics and splits :mod:`.evaluation`, files :mod:`.checkpoint`.
No Django here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from .embedding_cache import EmbeddingCache
from .encoders import TextEncoder
from .losses import tiers_from_ranking

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
    hh-rlhf harmless (see the package docstring): frozen MiniLM, pooled layers 1-5, a
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


def build_encoder(config: TrainConfig) -> TextEncoder:
    return TextEncoder(
        config.encoder_path,
        max_length=config.max_length,
        normalize=False,  # the head standardises each feature itself
        layers=config.layers,
        device=config.device,
    )


# ---------------------------------------------------------------------------------------
# 5. Result of training
# ---------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """A trained scorer with the config that made it, its metrics and its loss curve."""

    scorer: RewardScorer
    config: TrainConfig
    metrics: dict[str, Any]
    loss_curve: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def state_dict(self) -> dict[str, Tensor]:
        return self.scorer.state_dict()
