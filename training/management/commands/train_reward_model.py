"""``manage.py train_reward_model PROJECT [--mode head|finetune] [--epochs N] [--cv K] [--force]``.

Without ``--cv``: one run, in this process, recorded and published like any other (the
new version is activated only if it is not worse than the active one, or with --force).
With ``--cv K``: K-fold cross-validation by item on the project's comparisons, printing
each fold's accuracy, the mean and the time taken; nothing is published.
"""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError

from annotation.models import Project
from annotation.selectors import project_by_reference
from rankwise.errors import ApplicationError
from training import data, loader, runs
from training.management.progress import execute_with_progress, progress_bar
from training.models import TrainingRun


class Command(BaseCommand):
    help = "Train a reward model on a project's rankings, or cross-validate one (--cv K)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project id or name.")
        parser.add_argument("--mode", choices=["head", "finetune"], default=None,
                            help="head: frozen encoder + scalar head; finetune: whole encoder.")
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--lr", type=float, default=None)
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--cv", type=int, default=None, metavar="K",
                            help="Cross-validate with K folds by item instead of training.")
        parser.add_argument("--force", action="store_true",
                            help="Activate the new model even if it is not better.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, project: str, cv: int | None, force: bool, no_progress: bool,
               **options):
        target = self._project(project)
        params = {key: options[key] for key in ("mode", "epochs", "lr", "batch_size", "seed")
                  if options.get(key) is not None}
        if cv is not None:
            if cv < 2:
                raise CommandError("--cv needs at least 2 folds.")
            return self._cross_validate(target, params=params, folds=cv, no_progress=no_progress)
        if force:
            params["force"] = True
        try:
            run = runs.request_training(project=target, params=params,
                                        triggered_by=TrainingRun.Trigger.CLI, dispatch=False)
        except ApplicationError as exc:
            raise CommandError(exc.detail) from None
        execute_with_progress(self, run, no_progress=no_progress)

    def _cross_validate(self, project: Project, *, params: dict, folds: int,
                        no_progress: bool) -> None:
        trainer = loader.reward()
        started = time.perf_counter()
        labelled = data.comparisons_for(project=project)
        if len(labelled.comparisons) < folds:
            raise CommandError(f"{len(labelled.comparisons)} comparisons cannot make {folds} "
                               f"folds.")
        config = runs.train_config(project=project, params=params)
        self.stderr.write(f"{len(labelled.comparisons)} comparisons from "
                          f"{labelled.fingerprint['n_annotations']} annotations; {folds}-fold "
                          f"cross-validation by item, mode {config.mode}")
        bar = progress_bar(self, f"{folds}-fold CV", disable=no_progress)
        try:
            result = trainer.cross_validate(
                [c.to_trainer() for c in labelled.comparisons], config=config, folds=folds,
                seed=config.seed, cache=runs.embedding_cache(), progress=bar.update_to,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        seconds = time.perf_counter() - started
        accuracies = [float(fold["accuracy"]) for fold in result["folds"]]
        for number, accuracy in enumerate(accuracies, start=1):
            self.stdout.write(f"fold {number}: accuracy {accuracy:.4f}")
        mean = sum(accuracies) / len(accuracies)
        self.stdout.write(f"mean {folds}-fold accuracy: {mean:.4f}")
        self.stdout.write(f"time: {seconds:.1f} s")
        self.stdout.write(json.dumps({
            "folds": folds, "accuracy": accuracies, "mean_accuracy": mean,
            "std_accuracy": result.get("std_accuracy"),
            "n_comparisons": len(labelled.comparisons),
            "mode": config.mode, "seconds": round(seconds, 1),
        }))

    def _project(self, ref: str) -> Project:
        try:
            return project_by_reference(ref)
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
