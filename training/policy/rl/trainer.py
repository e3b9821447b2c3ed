"""``train_rl``: RLOO or PPO on a policy against a reward function, leashed to its reference.

Every step: ``prompts_per_step`` prompts (a seeded shuffle, cycled) are sampled
``group_size`` times each from the policy (:mod:`.rollout`); the reward function scores
the completions (a completion that never ended loses ``missing_eos_penalty``); the
policy's and the frozen reference's per-token log-probs give the KL of every token; the
algorithm (:mod:`.rloo` or :mod:`.ppo`) turns scores and KL into advantages and takes
``ppo_epochs`` × ``minibatches`` AdamW steps; β then adapts when ``kl_target`` is set.

At step 0, every ``eval_every`` steps and at the end, a checkpoint evaluation: one seeded
completion per evaluation prompt (the same seed each time), its mean score under the
proxy reward and the held-out reward, and its mean summed KL to the reference. The
weights of the best checkpoint (held-out score, else proxy) within the KL target (when
one is set) are the ones returned; with
``patience`` set, training stops once the held-out score fell that many evaluations in a
row while the proxy rose (the policy is gaming the proxy).

The reference is never trained (frozen, no gradients). The policy trained is a copy of
``init.model``, so ``init`` is left as it was. ``progress(fraction, metrics)`` is called
after every step; an exception it raises stops training and propagates. No Django here.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..backbone import freeze, trainable
from ..policy import Policy
from .config import RLConfig
from .kl import kl_controller, kl_per_token, masked_mean, whiten
from .ppo import ValueHead, ppo_loss_fn, ppo_targets
from .rloo import rloo_advantages, rloo_loss_fn
from .rollout import Rollout, rollout, token_logps
from .updates import optimise

RewardFn = Callable[[list[str], list[str]], Sequence[float]]
Progress = Callable[[float, dict], None]
EVAL_FALLBACK = 16  # training prompts evaluated on when no evaluation prompts are given
EVAL_BATCH = 32
EVAL_SEED = 7919


@dataclass
class RLResult:
    policy: Policy  # the best checkpoint's weights
    seconds: float
    history: dict = field(default_factory=dict)  # {"train": [{"step", ...}], "checkpoints": [...]}
    train_metrics: dict = field(default_factory=dict)  # the last step's
    best_step: int = 0
    stopped_early: bool = False


def scores_of(reward_fn: RewardFn, prompts: list[str], completions: list[str], device) -> Tensor:
    scores = [float(s) for s in reward_fn(prompts, completions)]
    if len(scores) != len(completions):
        raise ValueError(
            f"the reward function gave {len(scores)} scores for {len(completions)} completions"
        )
    if not all(math.isfinite(s) for s in scores):
        raise ValueError("the reward function gave a score that is not a finite number")
    return torch.tensor(scores, device=device)


class PromptOrder:
    """Seeded passes over the prompts, ``size`` at a time, reshuffled after each pass."""

    def __init__(self, prompts: Sequence[str], size: int, generator: torch.Generator) -> None:
        self.prompts, self.size, self.generator, self.queue = list(prompts), size, generator, []

    def next(self) -> list[str]:
        while len(self.queue) < self.size:
            order = torch.randperm(len(self.prompts), generator=self.generator).tolist()
            self.queue += [self.prompts[i] for i in order]
        out, self.queue = self.queue[: self.size], self.queue[self.size :]
        return out


class Checkpoints:
    """Keeps the best evaluation's weights and says when to stop early. With a KL target,
    only checkpoints within it may be kept: the leash holds for the weights published,
    whatever the controller let the training drift to on the way (step 0, the reference
    itself, always qualifies)."""

    def __init__(self, patience: int | None, kl_limit: float | None = None) -> None:
        self.patience, self.falls, self.kl_limit = patience, 0, kl_limit
        self.best_score: float | None = None
        self.best_step, self.state, self.previous = 0, None, None

    def add(self, entry: dict, model: nn.Module) -> bool:
        score = entry["heldout"] if entry["heldout"] is not None else entry["proxy"]
        within = self.kl_limit is None or entry["kl"] <= self.kl_limit
        if within and (self.best_score is None or score > self.best_score):
            self.best_score, self.best_step = score, entry["step"]
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        before, self.previous = self.previous, entry
        if before is None or entry["heldout"] is None:
            return False
        gaming = entry["heldout"] < before["heldout"] and entry["proxy"] > before["proxy"]
        self.falls = self.falls + 1 if gaming else 0
        return self.patience is not None and self.falls >= self.patience


@torch.no_grad()
def evaluate_checkpoint(
    policy: Policy,
    model: nn.Module,
    prompts: list[str],
    reward_fn: RewardFn,
    heldout_reward_fn: RewardFn | None,
    config: RLConfig,
    step: int,
) -> dict:
    generator = torch.Generator(device=policy.device).manual_seed(config.seed + EVAL_SEED)
    proxy, heldout, kl = [], [], []
    for start in range(0, len(prompts), EVAL_BATCH):
        chunk = prompts[start : start + EVAL_BATCH]
        ro = rollout(
            policy,
            model,
            chunk,
            group_size=1,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            generator=generator,
        )
        own, _, _ = token_logps(model, ro.batch, temperature=config.temperature)
        ref, _, _ = token_logps(policy.reference, ro.batch, temperature=config.temperature)
        kl += (own - ref).sum(-1).tolist()
        proxy += scores_of(reward_fn, ro.prompts, ro.completions, "cpu").tolist()
        if heldout_reward_fn is not None:
            heldout += scores_of(heldout_reward_fn, ro.prompts, ro.completions, "cpu").tolist()
    return {
        "step": step,
        "kl": sum(kl) / len(kl),
        "proxy": sum(proxy) / len(proxy),
        "heldout": sum(heldout) / len(heldout) if heldout_reward_fn is not None else None,
    }


def rl_step(
    policy: Policy,
    model: nn.Module,
    head: ValueHead | None,
    ro: Rollout,
    reward_fn: RewardFn,
    config: RLConfig,
    beta: float,
    update: dict,
) -> dict:
    """Scores, KL and one optimisation phase on a rollout -> the step's metrics."""
    mask, device = ro.mask, policy.device
    with torch.no_grad():
        old, _, states = token_logps(
            model, ro.batch, temperature=config.temperature, hidden=head is not None
        )
        ref, _, _ = token_logps(policy.reference, ro.batch, temperature=config.temperature)
    kl = kl_per_token(old, ref, config.kl_estimator).where(mask.bool(), old.new_zeros(()))
    scores = scores_of(reward_fn, ro.prompts, ro.completions, device)
    if config.missing_eos_penalty is not None:
        scores = scores - config.missing_eos_penalty * (~ro.ended).float()
    if head is None:
        rewards = scores - beta * kl.sum(-1)
        advantages = rloo_advantages(rewards, config.group_size)
        if config.normalize_advantages:
            advantages = whiten(advantages)
        stats = optimise(rloo_loss_fn(model, ro.batch, old.sum(-1), advantages, config), **update)
        grouped = scores.view(-1, config.group_size)
        metrics = {
            "kl": float(masked_mean(kl, mask)),
            "reward": float(scores.mean()),
            "reward_std": float(scores.std()) if len(scores) > 1 else 0.0,
            "frac_reward_zero_std": float((grouped.std(1) < 1e-8).float().mean()),
            **stats,
        }
    else:
        with torch.no_grad():
            values = head(states).where(mask.bool(), old.new_zeros(()))
        targets, metrics = ppo_targets(scores, kl, values, mask, config, beta)
        rollout_state = {"logps": old, "values": values, **targets}
        stats = optimise(ppo_loss_fn(model, head, ro.batch, rollout_state, config), **update)
        metrics |= {
            "objective/entropy": float((-old).sum(-1).mean()),
            **stats,
            "val/num_eos_tokens": int(ro.ended.sum()),
        }
    return metrics | {
        "beta": beta,
        "kl_sequence": float(kl.sum(-1).mean()),
        "completions/mean_length": float(ro.lengths.float().mean()),
        "completions/clipped_ratio": float((~ro.ended).float().mean()),
    }


def trainable_copy(model: nn.Module) -> nn.Module:
    """A copy of the policy in training mode with gradients on: every weight, or a LoRA
    adapter's own weights (a trained policy comes back frozen, its adapter included).
    Dropout is switched off, as TRL does: the ratio π / π_old must compare the same
    function, not two random masks."""
    model = trainable(copy.deepcopy(model))
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    if hasattr(model, "peft_config"):
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.requires_grad_(True)
    return model


def train_rl(
    prompts: Sequence[str],
    reward_fn: RewardFn,
    *,
    config: RLConfig = RLConfig(),  # noqa: B008  (never mutated)
    init: Policy,
    heldout_reward_fn: RewardFn | None = None,
    eval_prompts: Sequence[str] = (),
    progress: Progress | None = None,
) -> RLResult:
    prompts = [p for p in prompts if p.strip()]
    if not prompts:
        raise ValueError("no prompts to train on")
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    device = init.device
    reference = freeze(init.reference)
    model = trainable_copy(init.model)
    policy = Policy(
        model=model,
        reference=reference,
        tokenizer=init.tokenizer,
        config=init.config,
        device=device,
        reference_path=init.reference_path,
    )
    head = None
    params = [p for p in model.parameters() if p.requires_grad]
    if config.algorithm == "ppo":
        head = ValueHead(int(model.config.hidden_size)).to(device)
        params += list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    sampler = torch.Generator(device=device).manual_seed(config.seed + 1)
    update = {
        "n": config.batch_size,
        "epochs": config.ppo_epochs,
        "minibatches": config.minibatches,
        "optimizer": optimizer,
        "params": params,
        "grad_clip": config.grad_clip,
        "generator": generator,
        "device": device,
    }
    controller = kl_controller(config.beta, config.kl_target, config.kl_horizon)
    eval_set = [p for p in eval_prompts if p.strip()] or prompts[:EVAL_FALLBACK]
    history: dict = {"train": [], "checkpoints": []}
    tracker = Checkpoints(config.patience, config.kl_target)

    def checkpoint(step: int) -> bool:
        entry = evaluate_checkpoint(
            policy, model, eval_set, reward_fn, heldout_reward_fn, config, step
        )
        history["checkpoints"].append(entry)
        return tracker.add(entry, model)

    checkpoint(0)
    order = PromptOrder(prompts, config.prompts_per_step, generator)
    metrics: dict = {}
    stopped = False
    for step in range(1, config.steps + 1):
        tick = time.perf_counter()
        ro = rollout(
            policy,
            model,
            order.next(),
            group_size=config.group_size,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            generator=sampler,
        )
        metrics = rl_step(policy, model, head, ro, reward_fn, config, controller.value, update)
        controller.update(metrics["kl_sequence"], config.batch_size)
        metrics["eps"] = config.batch_size / max(time.perf_counter() - tick, 1e-9)
        history["train"].append({"step": step, **metrics})
        if step % config.eval_every == 0 or step == config.steps:
            stopped = checkpoint(step) and step < config.steps
        if progress is not None:
            progress(1.0 if stopped else step / config.steps, metrics)
        if stopped:
            break
    if tracker.state is not None:
        model.load_state_dict(tracker.state)
    freeze(model)
    return RLResult(
        policy=policy,
        seconds=time.perf_counter() - started,
        history=history,
        train_metrics=metrics,
        best_step=tracker.best_step,
        stopped_early=stopped,
    )
