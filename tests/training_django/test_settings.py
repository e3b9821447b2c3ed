"""The project's ``reward_model`` settings and the trainer's config: one list of parameters,
and a run's config built from the settings overlaid with the run's own parameters."""

from __future__ import annotations

import dataclasses

import pytest

pytest.importorskip("torch")

from annotation.project_settings import TRAINER_PARAMETERS, RewardModelSettings  # noqa: E402
from training import runs  # noqa: E402
from training.reward import TrainConfig  # noqa: E402

# TrainConfig fields that are not trainer parameters in the settings: they define the run's
# eval split, which training.runs makes before the trainer sees the data (the trainer is
# given eval_fraction=0). They are settings of their own with the project's defaults
# (eval_fraction 0.2 where TrainConfig says 0.1), always passed on by trainer_params().
RUN_SPLIT = {"eval_fraction", "seed"}


def test_trainer_parameters_are_the_train_config_fields():
    config_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(TRAINER_PARAMETERS) == config_fields - RUN_SPLIT
    settings_fields = {f.name for f in dataclasses.fields(RewardModelSettings)}
    assert set(TRAINER_PARAMETERS) | RUN_SPLIT <= settings_fields


def test_train_config_is_the_settings_overlaid_with_the_run_params(roles):
    project, _ = roles
    project.settings = {"reward_model": {"epochs": 7, "lr": 0.01, "layers": [1, 2], "seed": 3,
                                         "min_new_comparisons": 5}}
    project.save(update_fields=["settings"])
    config = runs.train_config(project=project, params={"epochs": 9, "force": True})
    assert (config.epochs, config.lr, config.layers, config.seed) == (9, 0.01, (1, 2), 3)
    assert config.eval_fraction == RewardModelSettings().eval_fraction
    # parameters nobody set keep the trainer's defaults
    assert (config.mode, config.l2, config.batch_size) == (
        TrainConfig().mode, TrainConfig().l2, TrainConfig().batch_size)
    assert runs.train_config(project=project, params={"eval_fraction": 0.3}).eval_fraction == 0.3


def test_policy_trainer_parameters_are_the_policy_config_fields():
    from annotation.project_settings import POLICY_TRAINER_PARAMETERS, PolicySettings
    from training.policy import PARAMETERS

    assert set(POLICY_TRAINER_PARAMETERS) == set(PARAMETERS) - RUN_SPLIT
    settings_fields = {f.name for f in dataclasses.fields(PolicySettings)}
    assert set(POLICY_TRAINER_PARAMETERS) | RUN_SPLIT <= settings_fields


def test_policy_config_is_the_settings_overlaid_with_the_run_params(roles):
    from training import policy_runs
    from training.policy import PolicyConfig

    project, _ = roles
    project.settings = {"policy": {"beta": 0.3, "loss_type": "ipo", "seed": 4, "auto": True}}
    project.save(update_fields=["settings"])
    config = policy_runs.train_config(project=project,
                                      params={"beta": 0.5, "force": True, "algorithm": "dpo"})
    assert (config.beta, config.loss_type, config.seed) == (0.5, "ipo", 4)
    assert config.eval_fraction == 0.1 and config.dpo_lr == PolicyConfig().dpo_lr
