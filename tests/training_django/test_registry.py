"""One registry for every model kind: version numbers, the active version, folders and
listings are per project and kind; the reward-model API sees reward models only."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from training import registry, selectors
from training.models import ModelVersion, TrainingRun

pytestmark = pytest.mark.django_db


def _version(project, kind, number, *, active=False) -> ModelVersion:
    return ModelVersion.objects.create(
        project=project, kind=kind, version=number, is_active=active,
        artifact_path=f"{registry.ARTIFACT_FOLDERS[kind]}/{project.pk}/{number}")


def _publish(project, kind, *, activate=True) -> ModelVersion:
    run = TrainingRun.objects.create(project=project, status="running")
    staging = registry.staging_dir(kind=kind, run=run)
    (staging / "model.safetensors").write_bytes(b"weights")
    return registry.publish(kind=kind, run=run, staging=staging, metrics={"accuracy": 0.9},
                            config={}, fingerprint={}, eval_split={}, activate=activate,
                            outcome="activated: test", curve=[])


def test_numbers_and_the_active_version_are_per_kind(roles):
    project, _ = roles
    _version(project, "reward", 1, active=True)
    _version(project, "policy", 1, active=True)  # the same number, active too: another kind
    with pytest.raises(IntegrityError), transaction.atomic():
        _version(project, "reward", 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        _version(project, "reward", 2, active=True)
    assert selectors.active_version(project_id=project.pk, kind="reward").kind == "reward"
    assert selectors.active_version(project_id=project.pk, kind="policy").kind == "policy"


def test_publish_numbers_each_kind_in_its_own_folder(roles, settings):
    project, _ = roles
    first, policy, second = (_publish(project, kind) for kind in ("reward", "policy", "reward"))
    assert [(v.kind, v.version, v.artifact_path) for v in (first, policy, second)] == [
        ("reward", 1, f"reward_models/{project.pk}/1"),
        ("policy", 1, f"policies/{project.pk}/1"),
        ("reward", 2, f"reward_models/{project.pk}/2"),
    ]
    assert all((v.directory / "model.safetensors").is_file() for v in (first, policy, second))
    first.refresh_from_db()
    assert not first.is_active and second.is_active
    policy.refresh_from_db()
    assert policy.is_active  # a new reward model leaves the active policy alone
    assert TrainingRun.objects.get(pk=second.training_run_id).status == "succeeded"
    assert not list(registry.versions_dir(kind="reward", project_id=project.pk).glob(".staging-*"))


def test_each_kind_sets_off_its_own_follow_up(roles, monkeypatch):
    project, users = roles
    reward, policy = _version(project, "reward", 1), _version(project, "policy", 1)
    sent = []
    monkeypatch.setattr(registry, "enqueue_on_commit", lambda name, *args: sent.append(name))
    registry.activate_version(version=policy, actor=users["manager"])
    assert sent == ["training.propose_candidates"]  # new prompts for the new policy
    registry.activate_version(version=reward, actor=users["manager"])
    assert sent[1:] == ["training.score_items_for_active_learning"]


def test_reward_model_api_lists_reward_models_only_in_the_same_shape(roles, client_for):
    project, users = roles
    reward = _publish(project, "reward")
    policy = _publish(project, "policy")
    client = client_for(users["reviewer"])
    [row] = client.get(f"/api/v1/projects/{project.pk}/reward-models/").json()["results"]
    assert row["id"] == reward.pk and row["name"] == "v1"
    assert set(row) == {"id", "version", "name", "is_active", "metrics", "config",
                        "data_fingerprint", "eval_items", "training_run", "created_at",
                        "activated_at"}
    run = client.get(f"/api/v1/training-runs/{policy.training_run_id}/").json()
    assert run["reward_model"] is None
    run = client.get(f"/api/v1/training-runs/{reward.training_run_id}/").json()
    assert run["reward_model"] == {"id": reward.pk, "version": 1, "name": "v1",
                                   "is_active": True}


class _Active:
    name, version = "v1", 1


@pytest.mark.parametrize("active,old,force,needed,activate,outcome", [
    (None, None, False, 0.0, True, "activated: first reward model of the project"),
    (_Active, {"accuracy": 0.9}, True, 0.0, True, "activated: forced over v1"),
    (_Active, OSError("gone"), False, 0.0, True, "activated: v1 could not be evaluated (gone)"),
    (_Active, {"accuracy": None}, False, 0.0, True, "activated: v1 has no accuracy on these"),
    (_Active, {"accuracy": 0.75}, False, 0.0, True, "activated: accuracy 0.800 vs 0.750 of v1"),
    # Not worse is enough: equal accuracy activates the new version.
    (_Active, {"accuracy": 0.8}, False, 0.0, True, "activated: accuracy 0.800 vs 0.800 of v1"),
    (_Active, {"accuracy": 0.5}, False, 0.3, True, "activated: accuracy 0.800 vs 0.500 of v1"),
    (_Active, {"accuracy": 0.75}, False, 0.1, False, "kept v1: accuracy 0.800 vs 0.750 on the "
                                                     "same eval items (needs +0.1)"),
])
def test_decide_activates_if_not_worse(active, old, force, needed, activate, outcome):
    def evaluate_active(version):
        if isinstance(old, Exception):
            raise old
        return old

    metrics = {"accuracy": 0.8}
    decision = registry.decide(kind="reward", active=active, metrics=metrics, force=force,
                               evaluate_active=evaluate_active, min_improvement=needed)
    assert decision.activate is activate and decision.outcome.startswith(outcome)
    if isinstance(old, dict) and not force:
        assert metrics["active_model"] == {"version": 1, **old}
