"""What the training commands share: a progress bar fed by a run, and its JSON summary."""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from training import runs
from training.models import TrainingRun


class ProgressBar(tqdm):
    """tqdm fed by the trainer's ``progress(fraction, loss)``."""

    def update_to(self, fraction: float, loss: float | None = None) -> None:
        self.n = round(100 * float(fraction), 1)
        if loss is not None:
            self.set_postfix(loss=f"{float(loss):.4f}", refresh=False)
        self.refresh()


def progress_bar(command: BaseCommand, desc: str, *, disable: bool) -> ProgressBar:
    return ProgressBar(total=100, unit="%", desc=desc, disable=disable,
                       file=command.stderr._out,
                       bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f}% [{elapsed}<{remaining}]"
                                  "{postfix}")


def execute_with_progress(command: BaseCommand, run: TrainingRun, *, no_progress: bool) -> None:
    """Execute a queued run in this process with a progress bar; print one JSON line
    (run, status, seconds, version, active, metrics, outcome, error); CommandError when
    the run failed."""
    bar = progress_bar(command, f"run {run.pk}", disable=no_progress)
    started = time.perf_counter()
    run = runs.execute_run(run_id=run.pk, on_progress=bar.update_to)
    bar.close()
    seconds = time.perf_counter() - started
    version = getattr(run, "model_version", None)
    command.stdout.write(json.dumps({
        "run": run.pk, "kind": run.kind, "status": run.status, "seconds": round(seconds, 1),
        "version": version.version if version else None,
        "active": bool(version and version.is_active), "metrics": run.metrics,
        "outcome": run.outcome, "error": run.error or None,
    }))
    if run.status != TrainingRun.Status.SUCCEEDED:
        raise CommandError(f"Run {run.pk} failed: {run.error}")
    command.stdout.write(command.style.SUCCESS(f"Run {run.pk}: {run.outcome}"))
