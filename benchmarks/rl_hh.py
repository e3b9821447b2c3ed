"""The default RLOO policy on hh-rlhf harmless-base, trained the way the product trains it.

A project (K = 2) imports ``hh-rlhf-harmless-base-test.jsonl.gz`` with its labels (2,312
pairs); 2,000 items train and the rest are held out (``reward_model`` and ``policy``
``eval_fraction``, split by item, seed 0). The project's reward model is trained first (the
default head on MiniLM), then one RL run with ``{"algorithm": "rloo"}`` and nothing else
goes through ``request_policy_training`` → ``execute_run`` → publish, as ``manage.py
train_policy PROJECT --algo rloo`` does: the default SFT reference is fine-tuned, the
held-out reward model is trained on its own half of the labels, RLOO runs with the
defaults of ``RLConfig`` / ``policy.rl``, and the version is published.

What it reports, all read from the run's own records:
  minutes                  wall time of the RL run (reference, held-out model, RL, publish)
  reference / policy       the checkpoint curve's first point (step 0: the reference's own
                           answers, since the policy starts as a copy of it) and the kept
                           (best) checkpoint: mean proxy score, mean held-out-model score
                           and mean summed KL to the reference, over the held-out prompts
  end                      the curve's last point (the same figures after the last step)
  proxy_gain, heldout_gain the kept checkpoint's scores minus the reference's
  kl_target, kl_within     the KL target (None: a fixed β) and whether every checkpoint's
                           KL stayed within it (with a fixed β: within KL_BOUND nats)
  heldout_verdict          the held-out reward model's word on the policy: "better" when
                           its mean score of the kept checkpoint is above the reference's,
                           and whether the run saw the proxy rise while it fell (gaming_step)
  outcome, heldout_rm      the activation decision; the held-out model's size and accuracy

Prints ONE JSON line.

    .venv/bin/python benchmarks/rl_hh.py

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/rw_bench_rl) names a database that
this script drops and creates again; its name must contain "bench".

Measured: see the README's benchmark table.
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
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rw_bench_rl"
TRAIN_PAIRS = 2000
KL_BOUND = 10.0  # nats per completion: the bound a fixed β is checked against


def setup_environment() -> str:
    database_url = os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ["RANKWISE_PROFILE"] = "local"
    os.environ.setdefault("RANKWISE_DATA_DIR", str(ROOT / "var" / "bench-rl"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    return database_url


def point(entry: dict) -> dict:
    return {k: None if entry.get(k) is None else round(float(entry[k]), 4)
            for k in ("step", "proxy", "heldout", "kl")}


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
    from training import policy_runs, runs

    call_command("migrate", verbosity=0)
    manager = get_user_model().objects.create_user("bench-manager", password="x" * 16)
    project = services.create_project(actor=manager, name="hh-rlhf harmless", responses_per_item=2)
    imported = imports.import_items(actor=manager, project=project, format="hh-rlhf",
                                    source=io.BytesIO(DATA.read_bytes()))
    fraction = (imported["created"] - TRAIN_PAIRS) / imported["created"]
    project.settings = {"reward_model": {"eval_fraction": fraction, "seed": 0},
                        "policy": {"eval_fraction": fraction, "seed": 0}}
    project.save(update_fields=["settings"])

    reward_run = runs.execute_run(run_id=runs.request_training(
        project=project, dispatch=False).pk)
    assert reward_run.status == "succeeded", reward_run.error
    queued = policy_runs.request_policy_training(project=project, dispatch=False,
                                                 params={"algorithm": "rloo"})
    started = time.perf_counter()
    done = runs.execute_run(run_id=queued.pk)
    minutes = (time.perf_counter() - started) / 60
    assert done.status == "succeeded", done.error
    metrics = done.model_version.metrics
    config = done.model_version.config
    watch = metrics["overoptimisation"]
    checkpoints = watch["checkpoints"]
    first = checkpoints[0]
    kept = next(c for c in checkpoints if c["step"] == watch["best_step"])
    target = config.get("kl_target")
    bound = target if target is not None else KL_BOUND
    print(json.dumps({
        "benchmark": "rl_hh",
        "algorithm": metrics["algorithm"],
        "minutes": round(minutes, 2),
        "steps": metrics["steps"],
        "reference": point(first),
        "policy": point(kept),
        "end": point(checkpoints[-1]),
        "proxy_gain": round(kept["proxy"] - first["proxy"], 4),
        "heldout_gain": round(kept["heldout"] - first["heldout"], 4),
        "kl_target": target,
        "kl_within": all(c["kl"] <= bound for c in checkpoints),
        "beta_end": metrics.get("beta"),
        "heldout_verdict": {
            "better": kept["heldout"] > first["heldout"],
            "gaming_step": watch.get("gaming_step"),
            "stopped_early": watch.get("stopped_early")},
        "win_rate": metrics.get("win_rate"),
        "outcome": done.outcome,
        "proxy_model": {"version": metrics.get("proxy_model"),
                        "accuracy": reward_run.metrics.get("accuracy")},
        "heldout_rm": metrics.get("heldout_rm"),
        "n_train_prompts": metrics.get("n_train"), "n_eval_prompts": metrics.get("n_eval"),
        "config": {k: config.get(k) for k in ("steps", "prompts_per_step", "group_size",
                                              "max_new_tokens", "lr", "beta", "kl_target",
                                              "kl_estimator", "eval_every")},
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }))


if __name__ == "__main__":
    main()
