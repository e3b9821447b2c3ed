"""DPO policy runs through the shared run machinery: publish, activate only if not worse,
a killed run leaves the active policy, the API and the CLI."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Project
from training import generation, policy_runs, registry, runs
from training.models import ModelVersion, TrainingRun

pytestmark = pytest.mark.django_db(transaction=True)

TRL_METRICS = ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
               "logps/chosen", "logps/rejected")


@pytest.fixture(autouse=True)
def fresh_policy_cache():
    generation.clear_policy_cache()
    yield
    generation.clear_policy_cache()


def train(project, callbacks, **params) -> TrainingRun:
    with callbacks(execute=True):
        run = policy_runs.request_policy_training(project=project, params=params)
    run.refresh_from_db()
    return run


def policies(project):
    return list(ModelVersion.objects.filter(project=project, kind=ModelVersion.Kind.POLICY)
                .order_by("version"))


def test_a_run_publishes_policy_v1_with_trl_metrics(policy_project,
                                                     django_capture_on_commit_callbacks):
    project, _ = policy_project
    run = train(project, django_capture_on_commit_callbacks)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.traceback
    assert run.kind == TrainingRun.Kind.POLICY and run.progress == 1.0
    assert run.outcome.startswith("activated: first policy")
    [version] = policies(project)
    assert version.is_active and version.version == 1
    for name in (*TRL_METRICS, "kl"):
        assert name in version.metrics, name
    assert 0.0 <= version.metrics["rewards/accuracies"] <= 1.0
    # 24 items, a quarter held out, one pair each; no reward model yet: no win rate.
    assert version.metrics["n_eval"] == len(version.eval_split["eval_items"]) == 6
    assert version.metrics["n_train"] == 18
    assert version.metrics["win_rate"] is None and version.metrics["reward_model"] is None
    assert version.config["d_model"] == 32
    assert len(run.loss_curve) >= 2
    rows = json.loads((version.directory / generation.COMPARISON_FILE).read_text())
    assert len(rows) == 3 and {"prompt", "reference", "policy"} <= set(rows[0])
    # Nothing left in staging; the reward-model registry untouched.
    assert not list(version.directory.parent.glob(f"{registry.STAGING_PREFIX}*"))
    assert not ModelVersion.objects.filter(project=project, kind=ModelVersion.Kind.REWARD).exists()


def test_the_comparison_is_scored_by_the_active_reward_model(policy_project,
                                                             django_capture_on_commit_callbacks):
    project, _ = policy_project
    with django_capture_on_commit_callbacks(execute=True):
        reward_run = runs.request_training(project=project)
    reward_run.refresh_from_db()
    assert reward_run.status == TrainingRun.Status.SUCCEEDED, reward_run.traceback
    run = train(project, django_capture_on_commit_callbacks)
    version = run.model_version
    assert version.metrics["reward_model"] == "v1"
    found = generation.comparison(version=version)
    assert found["reward_model"] == "v1" and found["n"] == 3
    wins = sum(1.0 if r["winner"] == "policy" else 0.5 if r["winner"] == "tie" else 0.0
               for r in found["rows"])
    assert found["win_rate"] == pytest.approx(wins / 3)
    assert version.metrics["win_rate"] == pytest.approx(found["win_rate"])
    for row in found["rows"]:
        if row["policy"] == row["reference"]:
            assert row["winner"] == "tie"
        elif row["winner"] != "tie":
            assert (row["policy_score"] > row["reference_score"]) == (row["winner"] == "policy")


def test_a_policy_not_better_stays_inactive_unless_forced(policy_project,
                                                          django_capture_on_commit_callbacks):
    project, _ = policy_project
    assert train(project, django_capture_on_commit_callbacks).status == "succeeded"
    project.settings["policy"]["min_improvement"] = 1.0  # nothing can gain a whole 1.0
    project.save(update_fields=["settings"])
    kept = train(project, django_capture_on_commit_callbacks, seed=1)
    assert kept.status == "succeeded" and kept.outcome.startswith("kept v1"), kept.outcome
    assert "rewards/accuracies" in kept.outcome
    assert kept.metrics["active_model"]["version"] == 1
    assert "rewards/accuracies" in kept.metrics["active_model"]
    forced = train(project, django_capture_on_commit_callbacks, seed=2, force=True)
    assert forced.outcome.startswith("activated: forced over v1")
    assert [(v.version, v.is_active) for v in policies(project)] == [
        (1, False), (2, False), (3, True)]


def test_a_run_killed_midway_leaves_the_active_policy(policy_project, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    project, _ = policy_project
    first = train(project, django_capture_on_commit_callbacks)
    before = generation.generate(project=project, prompt="How do I tune a guitar?", seed=3)
    real_train = policy_runs.loader.policy().train

    def killed(pairs, *, progress=None, **kwargs):
        def dying(fraction, loss=None):
            progress(fraction, loss)
            if fraction > 0.3:
                raise SystemExit("worker shut down half-way")
        return real_train(pairs, progress=dying, **kwargs)

    monkeypatch.setattr(policy_runs.loader.policy(), "train", killed)
    second = policy_runs.request_policy_training(project=project, params={"seed": 5},
                                                 dispatch=False)
    with pytest.raises(SystemExit):
        runs.execute_run(run_id=second.pk)
    second.refresh_from_db()
    assert second.status == TrainingRun.Status.FAILED and "SystemExit" in second.error
    assert 0.3 * policy_runs.TRAIN_SHARE <= second.progress < 1.0
    assert [(v.version, v.is_active) for v in policies(project)] == [(1, True)]
    assert first.model_version.directory.is_dir()
    assert not list(first.model_version.directory.parent.glob(f"{registry.STAGING_PREFIX}*"))
    generation.clear_policy_cache()
    assert generation.generate(project=project, prompt="How do I tune a guitar?",
                               seed=3) == before


def test_a_policy_run_and_a_reward_model_run_may_run_side_by_side(policy_project):
    project, _ = policy_project
    reward = runs.request_training(project=project, dispatch=False)
    policy = policy_runs.request_policy_training(project=project, dispatch=False)
    assert reward.kind == "reward_model" and policy.kind == "policy"
    with pytest.raises(runs.RunInProgress):
        policy_runs.request_policy_training(project=project, dispatch=False)


def test_bad_parameters_are_refused_before_a_run_is_queued(policy_project):
    project, _ = policy_project
    with pytest.raises(policy_runs.ValidationFailed) as refused:
        policy_runs.request_policy_training(project=project, params={"algorithm": "a2c"})
    assert refused.value.errors[0]["field"] == "algorithm"
    with pytest.raises(policy_runs.ValidationFailed) as refused:
        policy_runs.request_policy_training(project=project, params={"beta": -1.0})
    assert "beta" in refused.value.errors[0]["message"]
    assert not TrainingRun.objects.filter(project=project).exists()


def test_too_little_data_fails_with_a_clear_message(roles, django_capture_on_commit_callbacks):
    project, _ = roles
    run = train(project, django_capture_on_commit_callbacks)
    assert run.status == "failed" and "a policy needs at least 4" in run.error


def test_iterative_runs_start_from_the_active_policy(policy_project,
                                                     django_capture_on_commit_callbacks):
    project, _ = policy_project
    train(project, django_capture_on_commit_callbacks)
    project.settings["policy"]["iterative"] = True
    project.save(update_fields=["settings"])
    second = train(project, django_capture_on_commit_callbacks, force=True)
    assert second.status == "succeeded", second.traceback
    assert second.metrics["iterative_from"] == 1


def test_manage_py_train_policy(policy_project, capsys):
    project, _ = policy_project
    call_command("train_policy", str(project.pk), "--no-progress", "--beta", "0.2")
    lines = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(lines[-2])
    assert summary["kind"] == "policy" and summary["status"] == "succeeded"
    assert summary["version"] == 1 and summary["active"] is True
    assert summary["metrics"]["n_train"] == 18
    assert ModelVersion.objects.get(project=project, kind="policy").config["beta"] == 0.2
    with pytest.raises(CommandError, match="No project"):
        call_command("train_policy", "no-such-project", "--no-progress")
    assert Project.objects.count() == 1
