"""RL policy runs (RLOO, PPO) through the shared run machinery: the engine for real on the
tiny backbone, a proxy reward model (the active one) and a held-out one trained during the
run; publish with the algorithm and checkpoints, activation by the held-out reward, a
killed run leaves the active policy, bad parameters named, the beat trigger, the CLI."""

from __future__ import annotations

import dataclasses
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.project_settings import RL_TRAINER_PARAMETERS, RLSettings
from rankwise.errors import ValidationFailed
from training import generation, policy_runs, registry, rl_runs, runs, schedule
from training.models import ModelVersion, TrainingRun
from training.policy_api import PolicyTrainRequest

from .conftest import FAST, FAST_POLICY, TOPICS, add_pairs

pytestmark = pytest.mark.django_db(transaction=True)

# A few steps of two prompts sampled twice, eight new tokens each: seconds per run.
FAST_RL = {"steps": 4, "prompts_per_step": 2, "group_size": 2, "max_new_tokens": 8,
           "eval_every": 2}
PPO_NAMES = ("objective/kl", "objective/scores", "objective/rlhf_reward",
             "objective/non_score_reward")
RLOO_NAMES = ("reward", "reward_std", "entropy", "clip_ratio/region_mean")


@pytest.fixture(autouse=True)
def fresh_policy_cache():
    generation.clear_policy_cache()
    yield
    generation.clear_policy_cache()


@pytest.fixture
def rl_project(roles, django_capture_on_commit_callbacks):
    """24 labelled items, the tiny policy and RL settings, and an active reward model."""
    project, users = roles
    project.settings = {"reward_model": dict(FAST),
                        "policy": {**FAST_POLICY, "rl": dict(FAST_RL)}}
    project.save(update_fields=["settings"])
    add_pairs(project, TOPICS[:24])
    with django_capture_on_commit_callbacks(execute=True):
        reward = runs.request_training(project=project)
    reward.refresh_from_db()
    assert reward.status == "succeeded", reward.traceback
    return project, users


def train(project, callbacks, **params) -> TrainingRun:
    with callbacks(execute=True):
        run = policy_runs.request_policy_training(project=project, params=params)
    run.refresh_from_db()
    return run


def policies(project):
    return list(ModelVersion.objects.filter(project=project, kind=ModelVersion.Kind.POLICY)
                .order_by("version"))


@pytest.mark.parametrize("algorithm,names", [("rloo", RLOO_NAMES), ("ppo", PPO_NAMES)])
def test_an_rl_run_publishes_a_policy_with_its_algorithm_and_checkpoints(
        rl_project, django_capture_on_commit_callbacks, algorithm, names):
    project, _ = rl_project
    run = train(project, django_capture_on_commit_callbacks, algorithm=algorithm)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.traceback
    assert run.progress == 1.0 and run.outcome.startswith("activated: first policy")
    [version] = policies(project)
    metrics = version.metrics
    assert version.is_active and metrics["algorithm"] == algorithm
    for name in names:
        assert name in metrics, name
    over = metrics["overoptimisation"]
    # Checkpoints at steps 0, 2 and 4, each with its KL and both scores.
    assert [c["step"] for c in over["checkpoints"]] == [0, 2, 4]
    for point in over["checkpoints"]:
        assert {"kl", "proxy", "heldout"} <= set(point) and point["heldout"] is not None
    assert over["best_step"] in (0, 2, 4) and over["stopped_early"] is False
    best = next(c for c in over["checkpoints"] if c["step"] == over["best_step"])
    assert metrics["kl"] == pytest.approx(best["kl"])
    assert best["heldout"] == max(c["heldout"] for c in over["checkpoints"])
    assert 0.0 <= over["heldout_rm_accuracy"] <= 1.0
    # The held-out model learned from one half of the 24 items and was judged on the other.
    assert metrics["heldout_rm"]["n_train"] + metrics["heldout_rm"]["n_eval"] == 24
    assert metrics["heldout_rm"]["n_eval"] == len(version.eval_split["heldout_rm_eval_items"])
    assert [row["step"] for row in metrics["curves"]["train"]] == [1, 2, 3, 4]
    assert metrics["curves"]["checkpoints"] == over["checkpoints"]
    assert metrics["proxy_model"] == metrics["reward_model"] == "v1"
    assert isinstance(metrics["heldout_reward"], float)
    assert metrics["n_eval_items"] == len(version.eval_split["eval_items"]) == 6
    assert version.config["algorithm"] == algorithm and version.config["steps"] == 4
    assert version.config["policy"]["d_model"] == 32
    rows = json.loads((version.directory / generation.COMPARISON_FILE).read_text())
    assert len(rows) == 3
    # The published folder is an ordinary policy: it generates, reproducibly.
    once = generation.generate(project=project, prompt="How do I tune a guitar?", seed=4)
    generation.clear_policy_cache()
    assert generation.generate(project=project, prompt="How do I tune a guitar?",
                               seed=4) == once
    assert not list(version.directory.parent.glob(f"{registry.STAGING_PREFIX}*"))
    assert not ModelVersion.objects.filter(project=project, kind="reward", version=2).exists()


def test_activation_follows_the_held_out_reward(rl_project, django_capture_on_commit_callbacks):
    project, _ = rl_project
    first = train(project, django_capture_on_commit_callbacks, algorithm="rloo")
    assert first.status == "succeeded", first.traceback
    second = train(project, django_capture_on_commit_callbacks, algorithm="rloo", seed=3)
    assert second.status == "succeeded", second.traceback
    decision = second.metrics["decision"]
    new, old = decision["heldout_reward"], decision["active_heldout_reward"]
    assert new == second.metrics["heldout_reward"] and old is not None
    assert second.metrics["active_model"]["version"] == 1
    if new > old:
        assert second.outcome.startswith("activated: held-out reward")
        assert [v.is_active for v in policies(project)] == [False, True]
    else:
        assert second.outcome.startswith("kept v1: held-out reward")
        assert [v.is_active for v in policies(project)] == [True, False]
    assert decision["n_prompts"] == 6  # the same held-out prompts for both policies
    forced = train(project, django_capture_on_commit_callbacks, algorithm="ppo", force=True)
    assert forced.outcome.startswith("activated: forced over")
    assert policies(project)[-1].is_active


def test_reusing_the_active_policys_reference(rl_project, django_capture_on_commit_callbacks):
    project, _ = rl_project
    dpo = train(project, django_capture_on_commit_callbacks)
    assert dpo.status == "succeeded" and dpo.metrics["algorithm"] == "dpo"
    project.settings["policy"]["rl"]["reuse_reference"] = True
    project.save(update_fields=["settings"])
    run = train(project, django_capture_on_commit_callbacks, algorithm="rloo", force=True)
    assert run.status == "succeeded", run.traceback
    assert run.metrics["reference"] == "v1's reference" and run.metrics["iterative_from"] == 1
    old, new = (generation.policy_for(v) for v in policies(project))
    for a, b in zip(old.reference.parameters(), new.reference.parameters(), strict=True):
        assert a.shape == b.shape and bool((a == b).all())


def test_a_run_killed_inside_the_trainer_leaves_the_active_policy(
        rl_project, monkeypatch, django_capture_on_commit_callbacks):
    project, _ = rl_project
    first = train(project, django_capture_on_commit_callbacks, algorithm="rloo")
    before = generation.generate(project=project, prompt="How do I tune a guitar?", seed=3)
    engine = rl_runs.engine()
    real = engine.train_rl

    def dying(prompts, reward_fn, *, progress=None, **kwargs):
        def step(fraction, metrics):
            progress(fraction, metrics)
            if fraction >= 0.5:
                raise RuntimeError("out of memory half-way")
        return real(prompts, reward_fn, progress=step, **kwargs)

    monkeypatch.setattr(engine, "train_rl", dying)
    second = train(project, django_capture_on_commit_callbacks, algorithm="ppo", force=True)
    assert second.status == TrainingRun.Status.FAILED
    assert "out of memory half-way" in second.error
    assert rl_runs.SFT_SHARE < second.progress < 1.0
    assert [(v.version, v.is_active) for v in policies(project)] == [(1, True)]
    assert not list(first.model_version.directory.parent.glob(f"{registry.STAGING_PREFIX}*"))
    generation.clear_policy_cache()
    assert generation.generate(project=project, prompt="How do I tune a guitar?",
                               seed=3) == before


def test_bad_rl_parameters_are_named_before_a_run_is_queued(rl_project):
    project, _ = rl_project
    for params, field in (({"algorithm": "rloo", "group_size": 1}, "group_size"),
                          ({"algorithm": "ppo", "stepz": 3}, "stepz"),
                          ({"algorithm": "rloo", "loss_type": "ipo"}, "loss_type"),
                          ({"algorithm": "rloo", "kl_target": -1.0}, "kl_target"),
                          # No penalty cannot adapt toward the default target: named, and
                          # the message says to drop the target too.
                          ({"algorithm": "rloo", "beta": 0.0}, "beta"),
                          ({"algorithm": "dpo", "steps": 3}, "steps"),
                          ({"algorithm": "a2c"}, "algorithm")):
        with pytest.raises(ValidationFailed) as refused:
            policy_runs.request_policy_training(project=project, params=params)
        assert refused.value.errors[0]["field"] == field, (params, refused.value.errors)
    assert not TrainingRun.objects.filter(project=project, kind="policy").exists()


def test_an_rl_run_needs_an_active_reward_model(roles):
    project, _ = roles
    with pytest.raises(rl_runs.NoRewardModel, match="reward-models/train"):
        policy_runs.request_policy_training(project=project, params={"algorithm": "rloo"})


def test_the_api_queues_rl_runs_and_names_bad_parameters(rl_project, client_for):
    project, users = rl_project
    manager = client_for(users["manager"])
    url = f"/api/v1/projects/{project.pk}/policies/train/"
    for body, field in (({"algorithm": "rloo", "group_size": 1}, "group_size"),
                        ({"algorithm": "ppo", "lr": 0}, "lr"),
                        ({"algorithm": "ppo", "kl_estimator": "k2"}, "kl_estimator"),
                        ({"algorithm": "rloo", "betta": 0.1}, "betta")):
        refused = manager.post(url, body, format="json")
        assert refused.status_code == 400, body
        assert refused.json()["errors"][0]["field"] == field, refused.json()
    started = manager.post(url, {"algorithm": "ppo", "steps": 2, "beta": 0.1}, format="json")
    assert started.status_code == 202, started.content
    run = TrainingRun.objects.get(project=project, kind="policy")
    assert run.params == {"algorithm": "ppo", "steps": 2, "beta": 0.1}
    assert run.celery_task_id  # sent to the training queue once committed (run eagerly here)
    run.refresh_from_db()
    assert run.status == "succeeded" and run.metrics["steps"] == 2, run.traceback
    queued = policy_runs.request_policy_training(project=project, dispatch=False)
    busy = manager.post(url, {"algorithm": "rloo"}, format="json")
    assert busy.status_code == 409 and f"Run {queued.pk}" in busy.json()["detail"]


def test_the_settings_and_the_api_declare_every_rl_parameter():
    fields = {f.name for f in dataclasses.fields(rl_runs.engine().RLConfig)}
    assert set(RL_TRAINER_PARAMETERS) == fields - {"algorithm", "seed"}
    assert set(RL_TRAINER_PARAMETERS) <= {f.name for f in dataclasses.fields(RLSettings)}
    assert fields <= set(PolicyTrainRequest().fields)


def test_the_beat_queues_one_rl_run_per_new_reward_model(rl_project,
                                                         django_capture_on_commit_callbacks):
    project, _ = rl_project
    assert schedule.maybe_train_rl(project=project) is None  # the setting is off
    project.settings["policy"].update(rl_after_reward_model=True, rl={**FAST_RL,
                                                                    "algorithm": "ppo"})
    project.save(update_fields=["settings"])
    with django_capture_on_commit_callbacks(execute=True):
        started = schedule.maybe_train_all(kind=TrainingRun.Kind.POLICY)
    [run] = TrainingRun.objects.filter(project=project, kind="policy")
    assert started == [run.pk] and run.triggered_by == "beat"
    run.refresh_from_db()
    assert run.status == "succeeded", run.traceback
    assert run.params == {"algorithm": "ppo"} and run.metrics["algorithm"] == "ppo"
    assert schedule.maybe_train_all(kind=TrainingRun.Kind.POLICY) == []  # this model had one
    with django_capture_on_commit_callbacks(execute=True):
        reward = runs.request_training(project=project, params={"force": True})
    reward.refresh_from_db()
    assert reward.model_version.is_active
    again = schedule.maybe_train_rl(project=project)
    assert again is not None and again.status == "queued" and again.params == {"algorithm": "ppo"}
    assert schedule.maybe_train_rl(project=project) is None  # one at a time


def test_manage_py_train_policy_with_an_rl_algorithm(rl_project, capsys):
    project, _ = rl_project
    call_command("train_policy", str(project.pk), "--algo", "rloo", "--no-progress",
                 "--param", "steps=2", "--param", "kl_target=none", "--beta", "0.2")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-2])
    assert summary["kind"] == "policy" and summary["status"] == "succeeded"
    assert summary["metrics"]["algorithm"] == "rloo" and summary["active"] is True
    version = ModelVersion.objects.get(project=project, kind="policy")
    assert version.config["steps"] == 2 and version.config["beta"] == 0.2
    assert version.config["kl_target"] is None
    with pytest.raises(CommandError, match="group_size"):
        call_command("train_policy", str(project.pk), "--algo", "ppo", "--no-progress",
                     "--param", "group_size=0")
    with pytest.raises(CommandError, match="key=value"):
        call_command("train_policy", str(project.pk), "--algo", "ppo", "--param", "steps")
    capsys.readouterr()
    call_command("train_policy", str(project.pk), "--algo", "ppo", "--queue",
                 "--param", "steps=2")
    queued = TrainingRun.objects.filter(project=project, kind="policy").first()
    assert queued.params == {"algorithm": "ppo", "steps": 2} and queued.celery_task_id
    assert queued.triggered_by == "cli"
    assert f"Run {queued.pk} queued" in capsys.readouterr().out
    # The test settings run the training queue's tasks eagerly: a worker's outcome.
    queued.refresh_from_db()
    assert queued.status == "succeeded" and queued.metrics["algorithm"] == "ppo"
