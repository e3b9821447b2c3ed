"""RLOO speed of ``training.policy.rl`` against TRL's ``RLOOTrainer``; prints ONE JSON line.

    .venv/bin/python benchmarks/rl.py [--steps 8] [--warmup 2] [--data PATH]

What is compared. One tiny default model (``PolicyConfig()``: its byte-level BPE tokenizer
trained on the benchmark's hh-rlhf harmless-base texts, its small Llama, untrained) and one
reward function, the same for both: the number of "e" characters in the completion (a
toy reward: only its cost, nil, must be the same for both). The prompts are hh-rlhf
prompts (followed by ``"\\n\\nAssistant:"``) short enough that neither side truncates
them (our encoder keeps the last ``max_prompt_tokens``; TRL 1.16 has no prompt limit).

- rollout: sampling alone. Ours: :func:`training.policy.rl.rollout.rollout` (one batched
  loop over a KV cache, a private generator), against Hugging Face ``generate`` on the same
  model and prompts with the same settings (``do_sample``, temperature 1, top-p 1, top-k 0,
  left padding), which is what TRL's trainer calls. Completion tokens per second;
- a whole step: ``train_rl`` (RLOO, the defaults: G = 4 completions of 4 prompts, at most
  32 new tokens, β = 0.05 with k1, one AdamW step at 3e-4, clip 0.2), against
  ``RLOOTrainer`` with the same batch (``per_device_train_batch_size`` 16,
  ``num_generations`` 4), completion length, β, learning rate, ε and gradient clipping,
  fp32 on the CPU, no logging beyond its default, no checkpoints, no eval. A step is
  sampling, scoring, the reference's and the policy's log-probs and one update on both
  sides. Steps per second and completion tokens per second.

Timing: each trainer runs two rounds of ``warmup + steps / 2`` steps, in the order ours,
TRL, TRL, ours, so that a drift of the shared machine's load weighs on both alike; a round's
clock starts after its ``warmup`` steps.

Fields:
  model                   architecture of PolicyConfig, vocab_size as built, n_parameters
  rollout                 {"ours_tokens_per_s", "hf_generate_tokens_per_s", "ratio"}
  ours / trl              {"steps_per_s", "completion_tokens_per_s", "mean_completion_tokens"}
  ratio_steps_per_s       ours.steps_per_s / trl.steps_per_s
  batch, steps, warmup_steps, device, torch_threads, load_avg_1m (the 2-core box is shared)

Measured: see the README's benchmark table.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.dpo import ARCHITECTURE, initial_policy  # noqa: E402
from benchmarks.dpo_hh import DEFAULT_DATA, hh_pairs  # noqa: E402
from training.policy import PolicyConfig  # noqa: E402
from training.policy.rl import RLConfig, train_rl  # noqa: E402
from training.policy.rl.rollout import rollout  # noqa: E402
from training.policy.sequences import PROMPT_SUFFIX  # noqa: E402


def reward(prompts: list[str], completions: list[str], **_kwargs) -> list[float]:
    """The toy reward both trainers maximise: how many "e" a completion has."""
    return [float(text.count("e")) for text in completions]


def short_prompts(policy, pairs, n: int) -> list[str]:
    """``n`` distinct prompts whose encoding our encoder keeps whole."""
    out, seen = [], set()
    limit = policy.config.max_prompt_tokens
    for pair in pairs:
        prompt = pair.prompt.strip()
        if prompt in seen:
            continue
        ids = policy.tokenizer(prompt + PROMPT_SUFFIX, add_special_tokens=False).input_ids
        if len(ids) <= limit:
            out.append(prompt)
            seen.add(prompt)
        if len(out) == n:
            break
    return out


def rollout_rates(policy, prompts: list[str], config: RLConfig, rounds: int) -> dict:
    """Completion tokens per second: our sampler, then Hugging Face ``generate``."""
    model = policy.model
    size = config.prompts_per_step
    ours_tokens = ours_seconds = 0.0
    hf_tokens = hf_seconds = 0.0
    tok = policy.tokenizer
    tok.padding_side = "left"
    for r in range(rounds):
        chunk = prompts[r * size:(r + 1) * size]
        generator = torch.Generator().manual_seed(r)
        start = time.perf_counter()
        ro = rollout(policy, model, chunk, group_size=config.group_size,
                     max_new_tokens=config.max_new_tokens, temperature=1.0, top_p=1.0,
                     generator=generator)
        ours_seconds += time.perf_counter() - start
        ours_tokens += float(ro.lengths.sum())
        texts = [p + PROMPT_SUFFIX for p in chunk for _ in range(config.group_size)]
        batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(r)
        start = time.perf_counter()
        with torch.no_grad():
            out = model.generate(**batch, do_sample=True, temperature=1.0, top_p=1.0, top_k=0,
                                 max_new_tokens=config.max_new_tokens,
                                 pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        hf_seconds += time.perf_counter() - start
        new = out[:, batch["input_ids"].shape[1]:]
        ended = (new == tok.eos_token_id)
        # Tokens up to and including the end token (the rest is padding).
        lengths = torch.where(ended.any(1), ended.float().argmax(1) + 1,
                              torch.full((len(new),), new.shape[1]))
        hf_tokens += float(lengths.sum())
    ours = ours_tokens / ours_seconds
    hf = hf_tokens / hf_seconds
    return {"ours_tokens_per_s": round(ours, 1), "hf_generate_tokens_per_s": round(hf, 1),
            "ratio": round(ours / hf, 4)}


def round_ours(policy, prompts, config: RLConfig, warmup: int) -> dict:
    times: list[float] = []
    result = train_rl(prompts, reward, config=config, init=policy,
                      eval_prompts=prompts[:1],
                      progress=lambda _f, _m: times.append(time.perf_counter()))
    lengths = [row["completions/mean_length"] for row in result.history["train"]]
    return {"seconds": times[-1] - times[warmup - 1], "steps": len(times) - warmup,
            "tokens": sum(lengths[warmup:]) * config.batch_size}


def round_trl(policy, prompts, config: RLConfig, warmup: int) -> dict:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import RLOOConfig, RLOOTrainer

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter())

    tok = copy.deepcopy(policy.tokenizer)
    tok.padding_side = "left"
    clock = StepClock()
    dataset = Dataset.from_list([{"prompt": p + PROMPT_SUFFIX} for p in prompts])
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(sys.stderr):
        # With β > 0 TRL loads its reference from the policy's folder, so both get one.
        folder = Path(out) / "initial"
        policy.model.save_pretrained(folder)
        tok.save_pretrained(folder)
        args = RLOOConfig(
            output_dir=str(Path(out) / "run"), per_device_train_batch_size=config.batch_size,
            num_generations=config.group_size, max_completion_length=config.max_new_tokens,
            max_steps=config.steps, learning_rate=config.lr, lr_scheduler_type="constant",
            weight_decay=config.weight_decay, max_grad_norm=config.grad_clip,
            beta=config.beta, epsilon=config.clip_eps, temperature=config.temperature,
            top_p=config.top_p, top_k=0, num_iterations=config.ppo_epochs,
            bf16=False, use_cpu=True, report_to=[], save_strategy="no", eval_strategy="no",
            dataloader_num_workers=0, gradient_checkpointing=False, seed=config.seed,
            disable_dropout=True, logging_steps=1,
        )
        trainer = RLOOTrainer(model=str(folder), reward_funcs=reward, args=args,
                              train_dataset=dataset, processing_class=tok, callbacks=[clock])
        trainer.train()
    logs = [row for row in trainer.state.log_history if "completions/mean_length" in row]
    lengths = [row["completions/mean_length"] for row in logs]
    return {"seconds": clock.times[-1] - clock.times[warmup - 1],
            "steps": len(clock.times) - warmup,
            "tokens": sum(lengths[warmup:]) * config.batch_size}


def rates(rounds: list[dict]) -> dict:
    seconds = sum(r["seconds"] for r in rounds)
    steps = sum(r["steps"] for r in rounds)
    tokens = sum(r["tokens"] for r in rounds)
    return {"steps_per_s": round(steps / seconds, 4),
            "completion_tokens_per_s": round(tokens / seconds, 1),
            "mean_completion_tokens": round(tokens / steps / 16, 2) if steps else None}


def main() -> None:
    ap = argparse.ArgumentParser(description="RLOO steps/s: training.policy.rl vs TRL")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--steps", type=int, default=8, help="timed steps per trainer, 2 rounds")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps at a round's start")
    ap.add_argument("--skip-trl", action="store_true", help="ours only (a smoke run)")
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    total = args.warmup + max(1, args.steps // 2)
    config = RLConfig(steps=total, eval_every=10_000)
    base = PolicyConfig()
    pairs = hh_pairs(args.data)
    random.Random(0).shuffle(pairs)
    policy = initial_policy(pairs[:400], dataclasses.replace(base, device="cpu"))
    prompts = short_prompts(policy, pairs, max(total, 4) * config.prompts_per_step)

    roll = rollout_rates(policy, prompts, config, rounds=4)
    ours = [round_ours(policy, prompts, config, args.warmup)]
    trl = []
    if not args.skip_trl:
        trl = [round_trl(policy, prompts, config, args.warmup) for _ in range(2)]
    ours.append(round_ours(policy, prompts, config, args.warmup))
    out = {
        "benchmark": "rl",
        "model": {**{k: getattr(base, k) for k in ARCHITECTURE},
                  "vocab_size": len(policy.tokenizer), "n_parameters": policy.n_parameters},
        "batch": {"prompts": config.prompts_per_step, "group_size": config.group_size,
                  "max_new_tokens": config.max_new_tokens},
        "rollout": roll,
        "ours": rates(ours),
        "trl": rates(trl) if trl else None,
        "ratio_steps_per_s": round(rates(ours)["steps_per_s"] / rates(trl)["steps_per_s"], 4)
        if trl else None,
        "steps": sum(r["steps"] for r in ours),
        "warmup_steps": args.warmup,
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
