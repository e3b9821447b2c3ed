"""``manage.py train_reward_model``: one recorded run, or K-fold cross-validation."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import CommandError, call_command

from training.models import ModelVersion, TrainingRun

pytestmark = pytest.mark.slow


def test_cross_validation_prints_each_fold_the_mean_and_the_time(labelled):
    project, _ = labelled
    out = io.StringIO()
    call_command("train_reward_model", str(project.pk), "--cv", "3", "--no-progress", stdout=out,
                 stderr=io.StringIO())
    text = out.getvalue()
    folds = [float(x) for x in re.findall(r"^fold \d: accuracy ([0-9.]+)$", text, re.M)]
    assert len(folds) == 3
    mean = float(re.search(r"^mean 3-fold accuracy: ([0-9.]+)$", text, re.M).group(1))
    assert mean == pytest.approx(sum(folds) / 3, abs=1e-4)
    assert mean >= 0.8
    assert re.search(r"^time: [0-9.]+ s$", text, re.M)
    summary = json.loads(text.strip().splitlines()[-1])
    assert summary["n_comparisons"] == 24 and summary["folds"] == 3
    assert not TrainingRun.objects.exists() and not ModelVersion.objects.exists()


def test_a_cli_run_is_recorded_and_published(labelled):
    project, _ = labelled
    out = io.StringIO()
    call_command("train_reward_model", project.name, "--epochs", "20", "--no-progress",
                 stdout=out, stderr=io.StringIO())
    run = TrainingRun.objects.get()
    assert run.triggered_by == "cli" and run.status == "succeeded" and run.params == {"epochs": 20}
    assert ModelVersion.objects.get().is_active
    assert json.loads(out.getvalue().splitlines()[0])["version"] == 1


def test_cli_errors(labelled):
    project, _ = labelled
    with pytest.raises(CommandError, match="No project"):
        call_command("train_reward_model", "nope", "--no-progress")
    with pytest.raises(CommandError, match="at least 2 folds"):
        call_command("train_reward_model", str(project.pk), "--cv", "1")
