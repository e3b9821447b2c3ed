"""``RLConfig``: everything that defines an RL run on a policy, with strict keys.

Defaults are sized for the tiny backbone on a 2-core CPU box (a step is G = 4 samples of
each of 4 prompts, 32 new tokens at most); for a Hugging Face backbone lower ``lr``
(1e-5 to 1e-6) and raise ``prompts_per_step``. ``RL_PARAMETERS`` lists the field names, as
``PARAMETERS`` does for DPO. No torch or Django here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ALGORITHMS = ("rloo", "ppo")
KL_ESTIMATORS = ("k1", "k3")


@dataclass
class RLConfig:
    algorithm: str = "rloo"  # "rloo" (leave-one-out baseline) or "ppo" (value head + GAE)
    steps: int = 50  # rollout batches (one optimisation phase each)
    prompts_per_step: int = 4
    group_size: int = 4  # G completions sampled per prompt (RLOO needs G >= 2)
    max_new_tokens: int = 32
    temperature: float = 1.0  # sampling and the log-probs of the loss, as TRL does
    top_p: float = 1.0
    lr: float = 3e-4  # AdamW, constant
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    # The KL leash: reward = score − β·KL(π ‖ π_ref). kl_target set: β adapts (Ziegler et
    # al. 2019), β ← β·(1 + clip(KL / target − 1, ±0.2)·n / kl_horizon), n = samples per
    # step, KL the mean summed KL of a completion (nats). The horizon counts samples:
    # Ziegler et al. use 10,000 over far longer runs; 50 lets β move up to 6.4 % per step
    # of 16 samples, so it can triple within 20 of the default 50 steps.
    beta: float = 0.05
    # The default leash: β starts at 0.05 and adapts toward 6 nats per completion (the
    # target of Ziegler et al. and TRL's adaptive controller); kl_target None: β is fixed.
    kl_target: float | None = 6.0
    kl_horizon: int = 50
    # k1 = log π − log π_ref (TRL's choice for a reward penalty: its score-function
    # gradient is the gradient of KL); k3 = (r − 1) − log r, r = π_ref / π (Schulman 2020:
    # never negative, lower variance, but as a reward its gradient is biased).
    kl_estimator: str = "k1"
    # Subtracted from the score of a completion that did not end within max_new_tokens.
    missing_eos_penalty: float | None = None
    clip_eps: float = 0.2  # ratio clip of both losses
    ppo_epochs: int = 1  # passes over each rollout batch (TRL: RLOO 1, PPO 4)
    minibatches: int = 1  # minibatches per pass
    normalize_advantages: bool = False  # RLOO only; PPO always whitens its advantages
    # PPO.
    gamma: float = 1.0
    lam: float = 0.95
    vf_coef: float = 0.1
    cliprange_value: float = 0.2
    # Checkpoint evaluation every eval_every steps (and at step 0 and the end); stop early
    # when the held-out score fell for `patience` evaluations in a row while the proxy rose.
    eval_every: int = 10
    patience: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, not {self.algorithm!r}")
        if self.kl_estimator not in KL_ESTIMATORS:
            raise ValueError(
                f"kl_estimator must be one of {KL_ESTIMATORS}, not {self.kl_estimator!r}"
            )
        if self.algorithm == "rloo" and self.group_size < 2:
            raise ValueError("group_size must be >= 2 for rloo (a leave-one-out baseline)")
        for name in (
            "steps",
            "prompts_per_step",
            "group_size",
            "max_new_tokens",
            "ppo_epochs",
            "minibatches",
            "eval_every",
            "kl_horizon",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.minibatches > self.prompts_per_step * self.group_size:
            raise ValueError("minibatches must be <= prompts_per_step * group_size")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, not {self.beta}")
        if self.kl_target is not None and (self.kl_target <= 0 or self.beta == 0):
            raise ValueError("kl_target must be > 0 and needs beta > 0 to adapt (beta 0 turns "
                             "the KL penalty off: set kl_target to null as well)")
        if self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be > 0 and top_p in (0, 1]")
        if self.lr <= 0 or self.clip_eps <= 0 or self.cliprange_value <= 0:
            raise ValueError("lr, clip_eps and cliprange_value must be > 0")
        if not (0 <= self.gamma <= 1 and 0 <= self.lam <= 1):
            raise ValueError("gamma and lam must be in [0, 1]")
        if self.patience is not None and self.patience < 1:
            raise ValueError("patience must be >= 1 (or None: never stop early)")

    @property
    def batch_size(self) -> int:
        """Completions per step."""
        return self.prompts_per_step * self.group_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RLConfig:
        """Unknown keys are refused by name (a typo must not silently train the default)."""
        unknown = sorted(set(data) - set(RL_PARAMETERS))
        if unknown:
            raise ValueError(f"unknown RLConfig keys: {', '.join(unknown)}")
        return cls(**data)


RL_PARAMETERS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RLConfig))
