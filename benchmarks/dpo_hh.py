"""DPO with the default PolicyConfig on hh-rlhf harmless-base; prints ONE JSON line.

    python benchmarks/dpo_hh.py [--train-pairs 2000] [--set key=value ...] [--data PATH]

Each line of the file is {"chosen": transcript, "rejected": transcript}. The two
transcripts share everything up to their last "\\n\\nAssistant:"; that shared part is the
conversation, flattened as the product flattens it ("User: ...\\n\\nAssistant: ..."), and
what follows is each response. Lines are shuffled with a fixed seed; the first
``--train-pairs`` train and the rest are held out.

Fields:
  minutes               wall-clock minutes of train() (tokenizer, SFT, reference cache, DPO)
  cpu_minutes           CPU minutes of the same (all threads; on a busy box the wall
                        clock says more about the neighbours than about the code)
  rewards/accuracies    held-out share of pairs with chosen reward > rejected reward
  rewards/margins, rewards/chosen, rewards/rejected, logps/chosen, logps/rejected, loss
  kl                    sampled KL(policy || reference) on 16 held-out prompts
  shorter_wins          reference figure on the same held-out pairs: the accuracy of
                        "the shorter response is the chosen one" (ties count 1/2)
  ratio                 rewards/accuracies / shorter_wins
  train_accuracy        rewards/accuracies over the last training epoch
  n_train, n_eval, n_parameters, config (the overrides), threads, load_avg_1m
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from training.policy import PolicyConfig, PreferencePair, evaluate, train  # noqa: E402

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "hh-rlhf-harmless-base-test.jsonl.gz"
)
MARKER = "\n\nAssistant:"


def flatten(conversation: str) -> str:
    """ "\\n\\nHuman: a\\n\\nAssistant: b" -> "User: a\\n\\nAssistant: b"."""
    turns = []
    for chunk in conversation.split("\n\n"):
        if chunk.startswith("Human:"):
            turns.append("User:" + chunk[len("Human:") :])
        elif chunk.startswith("Assistant:") or not turns:
            turns.append(chunk)
        else:
            turns[-1] += "\n\n" + chunk
    return "\n\n".join(t.strip() for t in turns if t.strip())


def hh_pairs(path: str | Path) -> list[PreferencePair]:
    """One pair per line whose transcripts share a last Assistant marker and differ."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(x for x in f if x.strip()):
            row = json.loads(line)
            chosen, rejected = row["chosen"], row["rejected"]
            cut = chosen.rfind(MARKER)
            if cut < 0 or rejected[: cut + len(MARKER)] != chosen[: cut + len(MARKER)]:
                continue
            a, b = chosen[cut + len(MARKER) :].strip(), rejected[cut + len(MARKER) :].strip()
            if a == b:
                continue
            out.append(PreferencePair(item_id=number, prompt=flatten(chosen[:cut]), chosen=a, rejected=b))
    return out


def shorter_wins(pairs: list[PreferencePair]) -> float:
    score = [
        1.0 if len(p.chosen) < len(p.rejected) else 0.5 if len(p.chosen) == len(p.rejected) else 0.0
        for p in pairs
    ]
    return sum(score) / len(score)


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    ap = argparse.ArgumentParser(description="DPO on hh-rlhf harmless-base")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--train-pairs", type=int, default=2000)
    ap.add_argument("--eval-pairs", type=int, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (2 cores: 2)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    overrides = dict(item.split("=", 1) for item in args.set)
    overrides = {k: parse_value(v) for k, v in overrides.items()}
    config = PolicyConfig.from_dict(overrides)
    pairs = hh_pairs(args.data)
    random.Random(0).shuffle(pairs)
    train_pairs, eval_pairs = pairs[: args.train_pairs], pairs[2000:][: args.eval_pairs]
    started, cpu_started = time.perf_counter(), time.process_time()
    marks = iter(range(1, 21))
    next_mark = [next(marks)]

    def report(fraction: float, loss: float | None) -> None:
        # A line on stderr every 5 %, so that a long run can be watched.
        if fraction * 20 >= next_mark[0]:
            elapsed = (time.perf_counter() - started) / 60
            print(f"{fraction:.0%} loss {loss:.4f} {elapsed:.1f} min", file=sys.stderr, flush=True)
            next_mark[0] = next(marks, 21)

    result = train(train_pairs, config=config, progress=report)
    minutes = (time.perf_counter() - started) / 60
    cpu_minutes = (time.process_time() - cpu_started) / 60
    metrics = evaluate(result.policy, eval_pairs)
    reference = shorter_wins(eval_pairs)
    out = {
        "benchmark": "dpo_hh",
        "minutes": round(minutes, 2),
        "cpu_minutes": round(cpu_minutes, 2),
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()},
        "shorter_wins": round(reference, 4),
        "ratio": round(metrics["rewards/accuracies"] / reference, 4),
        "train_accuracy": round(result.train_metrics.get("rewards/accuracies", float("nan")), 4),
        "n_train": len(train_pairs),
        "n_eval": len(eval_pairs),
        "n_parameters": result.policy.n_parameters,
        "config": overrides,
        "threads": args.threads,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
