"""``manage.py train_policy PROJECT [--algo dpo|rloo|ppo] [--param KEY=VALUE ...] [--queue]``.

One policy run, recorded and published like any other. ``--algo dpo`` (the default) runs
DPO on the labels: the new version becomes active only if its held-out
``rewards/accuracies`` is not worse than the active policy's on the same pairs.
``--algo rloo`` or ``ppo`` runs RL against the active reward model: active only if its
held-out reward beats the active policy's (see :mod:`training.rl_runs`). ``--force``
activates either way.

Without ``--queue`` the run executes in this process with a progress bar and the last
line is the run as JSON (metrics under TRL's names); with ``--queue`` it is sent to the
``training`` queue for a worker. ``--param`` sets any trainer parameter (``steps=20``,
``kl_target=6``, ``kl_target=none``), checked before anything is queued.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotation.selectors import project_by_reference
from rankwise.errors import ApplicationError, error_text
from training import policy_runs
from training.management.progress import execute_with_progress
from training.models import TrainingRun

OPTIONS = ("backbone", "loss_type", "beta", "label_smoothing", "seed", "device")


def parsed_param(text: str) -> tuple[str, object]:
    """``key=value``: the value as JSON when it reads as JSON (numbers, true, null),
    ``none`` as null, else the text itself."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise CommandError(f"--param {text!r}: write it as key=value.")
    if value.strip().lower() == "none":
        return key.strip(), None
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


class Command(BaseCommand):
    help = "Train a policy on a project: DPO on its rankings, or RLOO / PPO against its reward model."

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project id or name.")
        parser.add_argument("--algo", choices=policy_runs.ALGORITHMS, default=None,
                            help="dpo (default), rloo or ppo.")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                            help="A trainer parameter for this run (repeatable).")
        parser.add_argument("--queue", action="store_true",
                            help="Send the run to the training queue instead of running it here.")
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

    def handle(self, *args, project: str, force: bool, lora: bool, no_progress: bool,
               algo: str | None, param: list[str], queue: bool, **options):
        try:
            target = project_by_reference(project)
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        params = {key: options[key] for key in OPTIONS if options.get(key) is not None}
        params.update(parsed_param(text) for text in param)
        if algo is not None:
            params["algorithm"] = algo
        if lora:
            params["lora"] = True
        if force:
            params["force"] = True
        try:
            run = policy_runs.request_policy_training(
                project=target, params=params, triggered_by=TrainingRun.Trigger.CLI,
                dispatch=queue)
        except ApplicationError as exc:
            raise CommandError(error_text(exc)) from None
        if queue:
            self.stdout.write(f"Run {run.pk} queued on the training queue "
                              f"(GET /api/v1/training-runs/{run.pk}/).")
            return
        execute_with_progress(self, run, no_progress=no_progress)
