"""The default DPO policy on hh-rlhf harmless-base, trained the way the product trains it.

A project (K = 2) imports ``hh-rlhf-harmless-base-test.jsonl.gz`` with its labels (2,312
pairs), its ``policy.eval_fraction`` set so that 2,000 pairs train and the rest are held
out (split by item, seed 0). The project's reward model is trained first (the default
head on MiniLM, same split fraction and seed), then one policy run *with no parameters*
goes through ``request_policy_training`` → ``execute_run`` → publish, like ``manage.py
train_policy`` does. The figures are the run's own metrics: held-out
``rewards/accuracies`` (and the other TRL names), the sampled KL to the reference, and the
reward-model win rate of the policy's generations over the reference's on held-out
prompts. Beside it, measured on the same held-out pairs, the reference figure "the shorter
response is the chosen one" (ties count half); ``ratio`` is the policy's accuracy over it.

Prints ONE JSON line.

    .venv/bin/python benchmarks/policy_hh.py

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/rw_bench_policy) names a database
that this script drops and creates again; its name must contain "bench".

Measured on 2 cores while the test suite ran beside it (load average 2.2 → 5.6)::

    {"benchmark": "policy_hh", "minutes": 12.95, "rewards/accuracies": 0.6282051205635071, "rewards/margins": 0.1809798777103424, "rewards/chosen": -0.5992117524147034, "rewards/rejected": -0.7801916003227234, "logps/chosen": -158.575927734375, "logps/rejected": -188.43455505371094, "kl": 3.1593047380447388, "win_rate": 1.0, "n_train": 2000, "n_eval": 312, "n_parameters": 1377408, "outcome": "activated: first policy model of the project", "reward_model": {"version": "v1", "accuracy": 0.6698717948717948, "minutes": 2.3, "held_out_items_it_trained_on": 0}, "comparison_prompts": 16, "reference": {"shorter_wins": 0.5208333333333334}, "ratio": 1.2061538314819336, "config": {"eval_fraction": 0.13494809688581316}, "torch_threads": 2, "load_avg_1m": [2.23, 5.61]}
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from annotate_loop import recreate_database  # noqa: E402  (the benchmarks' shared start-up)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "hh-rlhf-harmless-base-test.jsonl.gz"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rw_bench_policy"
TRAIN_PAIRS = 2000


def setup_environment() -> str:
    database_url = os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ["RANKWISE_PROFILE"] = "local"
    os.environ.setdefault("RANKWISE_DATA_DIR", str(ROOT / "var" / "bench-policy"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    return database_url


def shorter_wins(pairs) -> float:
    score = sum(1.0 if len(p.chosen) < len(p.rejected) else 0.5 if len(p.chosen) == len(p.rejected)
                else 0.0 for p in pairs)
    return score / len(pairs)


def run(kind_request, project):
    from training import runs

    queued = kind_request(project=project, dispatch=False)
    started = time.perf_counter()
    done = runs.execute_run(run_id=queued.pk)
    assert done.status == "succeeded", done.error
    return done, time.perf_counter() - started


def main() -> None:
    load_before = os.getloadavg()[0]
    recreate_database(setup_environment())
    import django

    django.setup()
    import torch
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from annotation import services
    from annotation.imports import services as imports
    from training import data, loader, policy_runs, runs

    call_command("migrate", verbosity=0)
    manager = get_user_model().objects.create_user("bench-manager", password="x" * 16)
    project = services.create_project(actor=manager, name="hh-rlhf harmless", responses_per_item=2)
    imported = imports.import_items(actor=manager, project=project, format="hh-rlhf",
                                    source=io.BytesIO(DATA.read_bytes()))
    n_items = imported["created"]
    fraction = (n_items - TRAIN_PAIRS) / n_items
    project.settings = {"reward_model": {"eval_fraction": fraction, "seed": 0},
                        "policy": {"eval_fraction": fraction, "seed": 0}}
    project.save(update_fields=["settings"])

    reward_run, reward_seconds = run(runs.request_training, project)
    policy_run, policy_seconds = run(policy_runs.request_policy_training, project)
    metrics = policy_run.metrics
    held_out = set(policy_run.model_version.eval_split["eval_items"])
    pairs = policy_runs.preference_pairs(data.comparisons_for(project=project).comparisons)
    eval_pairs = [p for p in pairs if p.item_id in held_out]
    reward_eval = set(reward_run.model_version.eval_split["eval_items"])
    shorter = shorter_wins(eval_pairs)
    names = ("rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected",
             "logps/chosen", "logps/rejected", "kl", "win_rate")
    print(json.dumps({
        "benchmark": "policy_hh",
        "minutes": round(policy_seconds / 60, 2),
        **{name: metrics.get(name) for name in names},
        "n_train": metrics["n_train"], "n_eval": metrics["n_eval"],
        "n_parameters": metrics["n_parameters"],
        "outcome": policy_run.outcome,
        "reward_model": {"version": metrics["reward_model"],
                         "accuracy": reward_run.metrics.get("accuracy"),
                         "minutes": round(reward_seconds / 60, 2),
                         "held_out_items_it_trained_on": len(held_out - reward_eval)},
        "comparison_prompts": len(json.loads(
            (policy_run.model_version.directory / "comparison.json").read_text())),
        "reference": {"shorter_wins": shorter},
        "ratio": metrics["rewards/accuracies"] / shorter,
        "config": {k: v for k, v in policy_run.model_version.config.items()
                   if v != loader.policy().PolicyConfig().to_dict().get(k)},
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }))


if __name__ == "__main__":
    main()
