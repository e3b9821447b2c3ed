"""``manage.py train_policy PROJECT [--loss-type T] [--beta B] [--backbone PATH] [--force]``.

One DPO policy run, in this process, recorded and published like any other: the new
version becomes active only if its held-out ``rewards/accuracies`` is not worse than the
active policy's on the same pairs, or with --force. A progress bar follows SFT and DPO;
the last line is the run as JSON (metrics under TRL's names).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotation.selectors import project_by_reference
from rankwise.errors import ApplicationError
from training import policy_runs
from training.management.progress import execute_with_progress
from training.models import TrainingRun

OPTIONS = ("backbone", "loss_type", "beta", "label_smoothing", "seed", "device")


class Command(BaseCommand):
    help = "Train a DPO policy on a project's rankings."

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project id or name.")
        parser.add_argument("--backbone", default=None,
                            help='"tiny" (default) or a local folder of a Hugging Face causal LM.')
        parser.add_argument("--lora", action="store_true",
                            help="With a Hugging Face backbone: train a LoRA adapter (peft).")
        parser.add_argument("--loss-type", choices=["sigmoid", "ipo", "hinge", "robust"],
                            default=None)
        parser.add_argument("--beta", type=float, default=None)
        parser.add_argument("--label-smoothing", type=float, default=None)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ...")
        parser.add_argument("--force", action="store_true",
                            help="Activate the new policy even if it is not better.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, project: str, force: bool, lora: bool, no_progress: bool, **options):
        try:
            target = project_by_reference(project)
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        params = {key: options[key] for key in OPTIONS if options.get(key) is not None}
        if lora:
            params["lora"] = True
        if force:
            params["force"] = True
        try:
            run = policy_runs.request_policy_training(
                project=target, params=params, triggered_by=TrainingRun.Trigger.CLI,
                dispatch=False)
        except ApplicationError as exc:
            raise CommandError(exc.detail) from None
        execute_with_progress(self, run, no_progress=no_progress)
