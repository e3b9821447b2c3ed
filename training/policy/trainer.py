"""``train``: supervised fine-tuning of the reference (tiny backbone), then DPO.

1. The models. Tiny backbone: a tokenizer is trained on the pairs' text, a small Llama is
   built and fine-tuned on prompt -> chosen (``supervised``); that is the reference. A
   Hugging Face backbone is the reference as loaded. ``init`` (iterative DPO): the given
   policy becomes the reference, its tokenizer is reused, nothing is fine-tuned.
2. The reference is frozen (eval mode, no gradients) and the log-probs of every training
   pair under it are computed once and cached; the policy starts as a copy of it (or as a
   LoRA adapter on a copy).
3. DPO (``optimize``): batches of B pairs in a seeded order, each prompt run once and the
   chosen and rejected responses in one forward pass on its cache (``pair_logps``), AdamW
   with a linear warm-up and decay (:func:`training.lr_schedules.warmup_linear`), gradient
   clipping, the weighted mean of the per-pair losses of :func:`.losses.dpo_loss`.

``progress(fraction, loss)`` is called after every step of both phases; an exception it
raises stops training and propagates. No Django here.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from torch import Tensor, nn

from training.lr_schedules import warmup_linear

from .backbone import (
    build_tiny,
    build_tokenizer,
    freeze,
    load_backbone,
    peft_available,
    trainable,
    with_lora,
)
from .config import PolicyConfig
from .data import PreferencePair
from .losses import dpo_loss, sequence_logps
from .policy import Policy
from .sequences import (
    PROMPT_SUFFIX,
    Encoder,
    collate,
    pair_batch,
    pair_logps,
    response_logits,
    response_text,
)

Progress = Callable[[float, float | None], None]
ARCHITECTURE = ("backbone", "vocab_size", "d_model", "n_layers", "n_heads", "d_ff")
METRICS = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "logps/chosen",
    "logps/rejected",
)


@dataclass
class PolicyResult:
    policy: Policy
    seconds: float
    history: dict = field(default_factory=dict)  # {"sft": [[step, loss]], "dpo": [[step, loss]]}
    train_metrics: dict = field(default_factory=dict)  # TRL names, means over the last epoch


@dataclass
class Encoded:
    prompts: list[list[int]]
    chosen: list[list[int]]
    rejected: list[list[int]]
    weights: Tensor  # [N]


class Steps:
    """Counts steps over both phases and reports them."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = max(1, total), 0, progress

    def __call__(self, loss: float) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(min(1.0, self.done / self.total), loss)


def resolve_device(device: str | None) -> str:
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def encode(pairs: Sequence[PreferencePair], encoder: Encoder) -> Encoded:
    prompts: dict[str, list[int]] = {}
    for p in pairs:
        if p.prompt not in prompts:
            prompts[p.prompt] = encoder.prompt(p.prompt)
    return Encoded(
        prompts=[prompts[p.prompt] for p in pairs],
        chosen=[encoder.response(p.chosen) for p in pairs],
        rejected=[encoder.response(p.rejected) for p in pairs],
        weights=torch.tensor([float(p.weight) for p in pairs]),
    )


def batches(n: int, size: int, generator: torch.Generator) -> list[list[int]]:
    order = torch.randperm(n, generator=generator).tolist()
    return [order[i : i + size] for i in range(0, n, size)]


def optimizer_for(model: nn.Module, lr: float, weight_decay: float, total: int, warmup: int):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    warmup = max(1, min(warmup, total))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, partial(warmup_linear, warmup=warmup, total=total)
    )
    return opt, schedule, params


def supervised(
    model: nn.Module,
    data: Encoded,
    config: PolicyConfig,
    device: str,
    generator: torch.Generator,
    steps: Steps,
    history: list,
) -> None:
    """Next-token cross-entropy on prompt -> chosen (and prompt -> rejected when
    ``config.sft_on_rejected``), averaged over the response tokens (and over the prompt's
    own tokens too when ``config.sft_on_prompt``)."""
    prompts, responses = list(data.prompts), list(data.chosen)
    if config.sft_on_rejected:
        prompts, responses = prompts * 2, responses + list(data.rejected)
    total = config.sft_epochs * math.ceil(len(prompts) / config.batch_size)
    opt, schedule, params = optimizer_for(
        model, config.sft_lr, config.weight_decay, total, config.warmup_steps
    )
    model.train()
    for _ in range(config.sft_epochs):
        for idx in batches(len(prompts), config.batch_size, generator):
            batch = collate(
                [prompts[i] for i in idx], [responses[i] for i in idx], int(model.config.pad_token_id)
            ).to(device)
            if config.sft_on_prompt:
                logits = model(
                    input_ids=batch.input_ids,
                    attention_mask=batch.attention_mask,
                    position_ids=batch.position_ids,
                    use_cache=False,
                ).logits[:, :-1]
                labels = batch.input_ids[:, 1:]
                mask = batch.attention_mask[:, 1:] * batch.attention_mask[:, :-1]
            else:
                logits, labels = response_logits(model, batch), batch.labels
                mask = batch.response_mask
            loss = -sequence_logps(logits, labels, mask).sum() / mask.sum().clamp(min=1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            opt.step()
            schedule.step()
            history.append([steps.done, float(loss.detach())])
            steps(float(loss.detach()))


@torch.no_grad()
def reference_logps(policy: Policy, data: Encoded) -> tuple[Tensor, Tensor]:
    """([N], [N]) chosen and rejected log-probs under the frozen reference, computed once."""
    return policy.pair_logps_ids(data.prompts, data.chosen, data.rejected, reference=True)


def optimize(
    policy: Policy,
    data: Encoded,
    config: PolicyConfig,
    generator: torch.Generator,
    steps: Steps,
    history: list,
    total: int,
) -> dict:
    """DPO on the policy; returns the TRL metrics averaged over the last epoch."""
    ref_chosen, ref_rejected = (t.to(policy.device) for t in reference_logps(policy, data))
    weights = data.weights.to(policy.device)
    model = trainable(policy.model)
    opt, schedule, params = optimizer_for(
        model, config.dpo_lr, config.weight_decay, total, config.warmup_steps
    )
    pad = int(policy.tokenizer.pad_token_id)
    done, epoch_sums = 0, {}
    while done < total:
        epoch_sums = {name: 0.0 for name in METRICS} | {"pairs": 0}
        for idx in batches(len(data.prompts), config.batch_size, generator):
            if done >= total:
                break
            batch = pair_batch(
                [data.prompts[i] for i in idx],
                [data.chosen[i] for i in idx],
                [data.rejected[i] for i in idx],
                pad,
            ).to(policy.device)
            chosen_logps, rejected_logps = pair_logps(model, batch).chunk(2)
            chosen_lengths, rejected_lengths = batch.lengths.chunk(2)
            rows = torch.tensor(idx, device=policy.device)
            losses, chosen_rewards, rejected_rewards = dpo_loss(
                chosen_logps,
                rejected_logps,
                ref_chosen[rows],
                ref_rejected[rows],
                beta=config.beta,
                loss_type=config.loss_type,
                label_smoothing=config.label_smoothing,
                chosen_lengths=chosen_lengths,
                rejected_lengths=rejected_lengths,
            )
            w = weights[rows]
            loss = (losses * w).sum() / w.sum().clamp(min=1e-12)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            opt.step()
            schedule.step()
            done += 1
            add_metrics(
                epoch_sums, chosen_rewards, rejected_rewards, chosen_logps, rejected_logps
            )
            history.append([steps.done, float(loss.detach())])
            steps(float(loss.detach()))
    freeze(model)
    n = max(1, epoch_sums.get("pairs", 0))
    return {name: epoch_sums[name] / n for name in METRICS} if epoch_sums else {}


def add_metrics(sums: dict, chosen_rewards, rejected_rewards, chosen_logps, rejected_logps):
    sums["rewards/chosen"] += float(chosen_rewards.sum())
    sums["rewards/rejected"] += float(rejected_rewards.sum())
    sums["rewards/accuracies"] += float((chosen_rewards > rejected_rewards).float().sum())
    sums["rewards/margins"] += float((chosen_rewards - rejected_rewards).sum())
    sums["logps/chosen"] += float(chosen_logps.detach().sum())
    sums["logps/rejected"] += float(rejected_logps.detach().sum())
    sums["pairs"] += len(chosen_rewards)


def merged(model: nn.Module) -> nn.Module:
    """A plain model with a LoRA adapter folded in (a copy; the model itself is untouched)."""
    model = copy.deepcopy(model)
    return model.merge_and_unload() if hasattr(model, "peft_config") else model


def train(
    pairs: Sequence[PreferencePair],
    *,
    config: PolicyConfig = PolicyConfig(),  # noqa: B008  (never mutated)
    progress: Progress | None = None,
    init: Policy | None = None,
) -> PolicyResult:
    if not pairs:
        raise ValueError("no preference pairs to train on")
    if config.lora and not peft_available():
        raise ValueError("lora=True needs the peft package, which is not installed")
    started = time.perf_counter()
    device = resolve_device(config.device)
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    reference_path = None
    if init is not None:
        config = dataclasses.replace(config, **{k: getattr(init.config, k) for k in ARCHITECTURE})
        tokenizer, reference = init.tokenizer, merged(init.model)
    elif config.backbone == "tiny":
        texts = [p.prompt + PROMPT_SUFFIX + response_text(r) for p in pairs for r in (p.chosen, p.rejected)]
        tokenizer = build_tokenizer(texts, config.vocab_size)
        reference = build_tiny(config, tokenizer)
    else:
        reference, tokenizer = load_backbone(config.backbone)
        reference_path = str(Path(config.backbone).resolve())
    reference.to(device)
    encoder = Encoder(
        tokenizer=tokenizer,
        end_id=int(tokenizer.eos_token_id),
        max_prompt_tokens=config.max_prompt_tokens,
        max_response_tokens=config.max_response_tokens,
    )
    data = encode(pairs, encoder)
    per_epoch = math.ceil(len(pairs) / config.batch_size)
    sft_rows = len(pairs) * (2 if config.sft_on_rejected else 1)
    sft_total = (
        config.sft_epochs * math.ceil(sft_rows / config.batch_size)
        if init is None and config.backbone == "tiny"
        else 0
    )
    dpo_total = config.dpo_epochs * per_epoch
    if config.max_steps is not None:
        dpo_total = min(dpo_total, config.max_steps)
    steps = Steps(sft_total + dpo_total, progress)
    history: dict[str, list] = {"sft": [], "dpo": []}
    if sft_total:
        supervised(reference, data, config, device, generator, steps, history["sft"])
    freeze(reference)
    model = with_lora(reference, config) if config.lora else copy.deepcopy(reference)
    policy = Policy(
        model=model,
        reference=reference,
        tokenizer=tokenizer,
        config=config,
        device=device,
        reference_path=reference_path,
    )
    metrics = (
        optimize(policy, data, config, generator, steps, history["dpo"], dpo_total)
        if dpo_total
        else {}
    )
    return PolicyResult(
        policy=policy,
        seconds=time.perf_counter() - started,
        history=history,
        train_metrics=metrics,
    )
