"""DPO training speed of ``training.policy`` against TRL's ``DPOTrainer``; prints ONE JSON line.

    .venv/bin/python benchmarks/dpo.py [--steps 16] [--warmup 2] [--data PATH]

What is compared. One tiny default model (``PolicyConfig()``: its byte-level BPE tokenizer
trained on the benchmark's pairs, its small Llama) is built once. Then, on the same
hh-rlhf harmless-base pairs (the reader of ``benchmarks/dpo_hh.py``, shuffled with seed 0):

- ours: ``train(pairs, config=..., init=policy)``, the package's public DPO entry point
  (``init`` makes the built model the reference, as in iterative DPO, so nothing is
  fine-tuned first): reference log-probs cached once, then ``steps`` DPO steps;
- TRL 1.16: ``DPOTrainer`` on a deep copy of the same initial model, the same tokenizer,
  ``precompute_ref_log_probs=True`` (its fastest setting: no reference forward per step).

What is aligned, so that both trainers see identical inputs and updates:

- token ids: TRL gets rows that are already tokenized (``prompt_ids`` / ``chosen_ids`` /
  ``rejected_ids``, made by our ``Encoder``: the prompt's last ``max_prompt_tokens``
  tokens, the response's first ``max_response_tokens`` plus the end token) and its dataset
  preparation (prompt extraction, EOS appending, tokenization) is skipped;
  ``max_length=None``, since the rows are already truncated. TRL pads on the right and
  counts positions from 0, ours pads the prompt on the left with position ids that count
  real tokens, so every real token sees the same context at the same position;
- order and batches: the first epoch's batches of our trainer (``torch.randperm`` seeded
  with ``config.seed``) are laid out in that order for TRL's sequential sampler;
- optimizer: TRL is handed the AdamW and warm-up/linear-decay schedule that our trainer
  builds (``optimizer_for``), with the same gradient clipping; fp32 (``bf16=False``), no
  gradient checkpointing, no dropout, no eval, no checkpoints, ``report_to=[]``,
  ``use_cpu=True``, no dataloader workers. Logging stays at TRL's default (every 10 steps);
  what it prints goes to stderr so that stdout holds the JSON line only.

Timing. Each trainer runs two rounds of ``warmup + steps / 2`` steps on the same batches,
in the order ours, TRL, TRL, ours, so that a drift in the shared machine's load weighs on
both alike; a round's clock starts after its ``warmup`` steps (TRL's reference pass and
our reference cache come before the first step and are not timed).

Fields:
  model                 the architecture fields of PolicyConfig, vocab_size as built, n_parameters
  batch_size, steps     pairs per step; timed steps per trainer (both rounds)
  ours / trl            steps_per_s and tokens_per_s over the timed steps, tokens being the
                        non-pad tokens of the chosen and the rejected rows, prompt and
                        response (the same count for both, so their ratio is the steps' ratio);
                        first_batch_loss: the DPO loss of the first batch, before any update
  first_batch_loss_diff |ours - trl| of first_batch_loss. Before any update the policy is its
                        reference, so that loss is log 2 up to rounding: it checks the
                        reference caches, not the inputs; these do:
  logps_max_diff        max |ours - TRL| of the reference log-probs of every chosen and
                        rejected response (ours: ``Policy.logps_ids``; TRL: its precomputed
                        ``ref_*_logps``); any differing token, mask or position shows here.
                        The sums are of order -500 in float32 (one ulp: 6e-5), so 1e-4 is
                        rounding of the differently shaped batches and LM-head tiling
  loss_max_diff         max |ours - trl| of the per-step losses of the first rounds (same
                        batches in the same order, same updates: only rounding separates them)
  ratio_steps_per_s     ours.steps_per_s / trl.steps_per_s
  device, torch_threads, n_pairs, warmup_steps, load_avg_1m (the 2-core box is shared)

Measured (2 shared cores, 1-minute load 4.8, torch.set_num_threads(2); 6 minutes wall):
  {"benchmark": "dpo", "model": {"backbone": "tiny", "d_model": 128, "n_layers": 4, "n_heads":
  4, "d_ff": 384, "max_prompt_tokens": 128, "max_response_tokens": 64, "vocab_size": 4096,
  "n_parameters": 1377408}, "batch_size": 16, "steps": 16, "ours": {"steps_per_s": 0.1926,
  "tokens_per_s": 737.6, "first_batch_loss": 0.6931470632553101}, "trl": {"steps_per_s": 0.1595,
  "tokens_per_s": 610.8, "first_batch_loss": 0.6931471824645996}, "first_batch_loss_diff":
  1.1920928955078125e-07, "logps_max_diff": 0.0001220703125, "loss_max_diff":
  7.748603820800781e-07, "ratio_steps_per_s": 1.2075, "device": "cpu", "torch_threads": 2,
  "n_pairs": 160, "warmup_steps": 2, "load_avg_1m": 4.82}
  (an earlier run at load 5.0 measured ratio_steps_per_s 1.77: the ratio moves with the load
  of the shared machine; the equality figures do not)
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

from benchmarks.dpo_hh import DEFAULT_DATA, hh_pairs  # noqa: E402
from training.policy import Policy, PolicyConfig, PreferencePair, train  # noqa: E402
from training.policy.backbone import build_tiny, build_tokenizer  # noqa: E402
from training.policy.sequences import PROMPT_SUFFIX, response_text  # noqa: E402
from training.policy.trainer import batches, optimizer_for  # noqa: E402

ARCHITECTURE = (
    "backbone",
    "d_model",
    "n_layers",
    "n_heads",
    "d_ff",
    "max_prompt_tokens",
    "max_response_tokens",
)


@dataclasses.dataclass
class Run:
    """One trainer's measurements: the clock after every step and every step's loss."""

    step_times: list[float]
    losses: list[float]


def initial_policy(pairs: list[PreferencePair], config: PolicyConfig) -> Policy:
    """The tiny default model and tokenizer, built as ``train`` builds them (no update yet)."""
    texts = [
        p.prompt + PROMPT_SUFFIX + response_text(r) for p in pairs for r in (p.chosen, p.rejected)
    ]
    tokenizer = build_tokenizer(texts, config.vocab_size)
    model = build_tiny(config, tokenizer)
    model.eval()
    return Policy(model=model, reference=model, tokenizer=tokenizer, config=config, device="cpu")


def encoded_rows(policy: Policy, pairs: list[PreferencePair]) -> list[dict[str, list[int]]]:
    """TRL's pre-tokenized preference rows, made by our encoder."""
    enc = policy.encoder
    return [
        {
            "prompt_ids": enc.prompt(p.prompt),
            "chosen_ids": enc.response(p.chosen),
            "rejected_ids": enc.response(p.rejected),
        }
        for p in pairs
    ]


def first_epoch_order(n: int, config: PolicyConfig) -> list[int]:
    """The pair indices in the order our trainer's first epoch visits them."""
    generator = torch.Generator().manual_seed(config.seed)
    return [i for batch in batches(n, config.batch_size, generator) for i in batch]


def tokens_per_step(rows: list[dict[str, list[int]]], batch_size: int) -> list[int]:
    """Non-pad tokens of each step: the prompt twice, the chosen and the rejected response."""
    sizes = [2 * len(r["prompt_ids"]) + len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in rows]
    return [sum(sizes[i : i + batch_size]) for i in range(0, len(sizes), batch_size)]


def rates(runs: list[Run], tokens: list[int], warmup: int) -> dict[str, float]:
    """Steps and tokens per second over every run's steps after its first ``warmup``."""
    seconds = sum(r.step_times[-1] - r.step_times[warmup - 1] for r in runs)
    timed = sum(len(r.step_times) - warmup for r in runs)
    counted = sum(sum(tokens[warmup : len(r.step_times)]) for r in runs)
    return {
        "steps_per_s": round(timed / seconds, 4),
        "tokens_per_s": round(counted / seconds, 1),
        "first_batch_loss": runs[0].losses[0],
    }


def run_ours(policy: Policy, pairs: list[PreferencePair], config: PolicyConfig) -> Run:
    times: list[float] = []
    result = train(
        pairs, config=config, init=policy, progress=lambda _f, _l: times.append(time.perf_counter())
    )
    return Run(step_times=times, losses=[loss for _step, loss in result.history["dpo"]])


def trl_trainer_class():
    """``DPOTrainer`` on pre-tokenized rows, recording every training step's loss."""
    from trl import DPOTrainer

    class PretokenizedDPOTrainer(DPOTrainer):
        def __init__(self, *args, **kwargs) -> None:
            self.step_losses: list[float] = []
            super().__init__(*args, **kwargs)

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            return dataset  # already prompt_ids / chosen_ids / rejected_ids

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            out = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            if self.model.training:
                self.step_losses.append(float((out[0] if return_outputs else out).detach()))
            return out

    return PretokenizedDPOTrainer


def run_trl(
    policy: Policy, rows: list[dict], config: PolicyConfig, total: int
) -> tuple[Run, list[float]]:
    """(the run, TRL's reference log-probs: chosen rows then rejected rows)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import DPOConfig

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter())

    model = copy.deepcopy(policy.model)
    model.train()
    optimizer, schedule, _ = optimizer_for(
        model, config.dpo_lr, config.weight_decay, total, config.warmup_steps
    )
    clock = StepClock()
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(sys.stderr):
        args = DPOConfig(
            output_dir=out,
            per_device_train_batch_size=config.batch_size,
            max_steps=total,
            learning_rate=config.dpo_lr,
            weight_decay=config.weight_decay,
            max_grad_norm=config.grad_clip,
            beta=config.beta,
            loss_type=[config.loss_type],
            label_smoothing=config.label_smoothing,
            max_length=None,
            precompute_ref_log_probs=True,
            gradient_checkpointing=False,
            bf16=False,
            use_cpu=True,
            report_to=[],
            save_strategy="no",
            eval_strategy="no",
            dataloader_num_workers=0,
            train_sampling_strategy="sequential",
            seed=config.seed,
        )
        trainer = trl_trainer_class()(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=policy.tokenizer,
            optimizers=(optimizer, schedule),
            callbacks=[clock],
        )
        reference = list(trainer.train_dataset["ref_chosen_logps"]) + list(
            trainer.train_dataset["ref_rejected_logps"]
        )
        trainer.train()
    return Run(step_times=clock.times, losses=trainer.step_losses), reference


def reference_logps(policy: Policy, rows: list[dict]) -> torch.Tensor:
    """Our reference log-probs of the rows, chosen rows then rejected rows, as TRL lists them."""
    prompts = [r["prompt_ids"] for r in rows]
    chosen = policy.logps_ids(prompts, [r["chosen_ids"] for r in rows], reference=True)
    rejected = policy.logps_ids(prompts, [r["rejected_ids"] for r in rows], reference=True)
    return torch.cat([chosen, rejected])


def main() -> None:
    ap = argparse.ArgumentParser(description="DPO steps/s: training.policy vs TRL DPOTrainer")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--steps", type=int, default=16, help="timed steps per trainer, over 2 rounds")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps at the start of a round")
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    total = args.warmup + max(1, args.steps // 2)  # steps of one round
    base = PolicyConfig()
    config = dataclasses.replace(base, device="cpu", max_steps=total)

    pairs = hh_pairs(args.data)
    random.Random(0).shuffle(pairs)
    pairs = pairs[: total * config.batch_size]
    policy = initial_policy(pairs, config)
    order = first_epoch_order(len(pairs), config)
    rows = encoded_rows(policy, [pairs[i] for i in order])
    tokens = tokens_per_step(rows, config.batch_size)

    # Rounds in the order ours, TRL, TRL, ours: a drift in the shared machine's load
    # weighs on both trainers alike.
    ours = [run_ours(policy, pairs, config)]
    trl, trl_reference = run_trl(policy, rows, config, total)
    trl = [trl, run_trl(policy, rows, config, total)[0]]
    ours.append(run_ours(policy, pairs, config))

    our_reference = reference_logps(policy, rows)
    ours_rates = rates(ours, tokens, args.warmup)
    trl_rates = rates(trl, tokens, args.warmup)
    out = {
        "benchmark": "dpo",
        "model": {
            **{k: getattr(base, k) for k in ARCHITECTURE},
            "vocab_size": len(policy.tokenizer),
            "n_parameters": policy.n_parameters,
        },
        "batch_size": config.batch_size,
        "steps": sum(len(r.step_times) - args.warmup for r in ours),
        "ours": ours_rates,
        "trl": trl_rates,
        "first_batch_loss_diff": abs(
            ours_rates["first_batch_loss"] - trl_rates["first_batch_loss"]
        ),
        "logps_max_diff": float((our_reference - torch.tensor(trl_reference)).abs().max()),
        "loss_max_diff": max(
            abs(a - b) for a, b in zip(ours[0].losses, trl[0].losses, strict=True)
        ),
        "ratio_steps_per_s": round(ours_rates["steps_per_s"] / trl_rates["steps_per_s"], 4),
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "n_pairs": len(pairs),
        "warmup_steps": args.warmup,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
