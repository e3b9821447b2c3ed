"""``PolicyConfig``: everything that defines a DPO run, with strict keys.

Defaults are the best setting measured on hh-rlhf harmless-base (see the package
docstring); ``PARAMETERS`` lists the field names, which the Django project settings
declare too. No torch or Django here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust")


@dataclass
class PolicyConfig:
    backbone: str = "tiny"  # "tiny" (built here) or a local folder holding a HF causal LM
    lora: bool = False  # HF backbone only: train a LoRA adapter (needs peft)
    lora_r: int = 16
    lora_alpha: int = 32
    loss_type: str = "sigmoid"
    beta: float = 0.1
    label_smoothing: float = 0.0  # sigmoid (cDPO) and robust
    seed: int = 0
    device: str | None = None  # None: "cuda" when available, else "cpu"
    eval_fraction: float = 0.1  # read by the caller that splits; train() holds nothing out
    # The tiny backbone: a byte-level BPE tokenizer trained on the pairs, a small Llama.
    vocab_size: int = 4096
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 384
    # Sequences: the prompt keeps its last tokens, the response its first ones (+ the end token).
    max_prompt_tokens: int = 128
    max_response_tokens: int = 64
    # Supervised fine-tuning of the tiny backbone on prompt -> chosen (the reference).
    sft_epochs: int = 2
    sft_lr: float = 2e-3
    sft_on_prompt: bool = False  # also learn to predict the prompt's own tokens
    sft_on_rejected: bool = True  # also learn prompt -> rejected (a reference fit to both)
    # DPO.
    dpo_epochs: int = 1
    dpo_lr: float = 5e-4
    batch_size: int = 16
    max_steps: int | None = None  # caps the DPO steps (None: dpo_epochs full passes)
    warmup_steps: int = 10
    weight_decay: float = 0.0
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {LOSS_TYPES}, not {self.loss_type!r}")
        if self.beta <= 0:
            raise ValueError(f"beta must be > 0, not {self.beta}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), not {self.label_smoothing}")
        if self.loss_type == "robust" and self.label_smoothing >= 0.5:
            raise ValueError("label_smoothing must be < 0.5 for the robust loss")
        if self.lora and self.backbone == "tiny":
            raise ValueError("lora needs a Hugging Face backbone, not the tiny one")
        for name in ("max_prompt_tokens", "max_response_tokens", "batch_size", "d_model"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyConfig:
        """Unknown keys are refused by name (a typo must not silently train the default)."""
        unknown = sorted(set(data) - set(PARAMETERS))
        if unknown:
            raise ValueError(f"unknown PolicyConfig keys: {', '.join(unknown)}")
        return cls(**data)


PARAMETERS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(PolicyConfig))
