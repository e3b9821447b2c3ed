"""``manage.py import_items PROJECT FILE --format native|hh-rlhf|trl [--labels imported|none]``."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.imports import reader, services
from annotation.models import Project
from annotation.selectors import project_by_reference
from rankwise.errors import ApplicationError, LineErrors, error_text


def _count_lines(path: Path) -> int | None:
    """Non-blank lines, for the progress bar's total; None when the file is unreadable."""
    try:
        with path.open("rb") as fh:
            return sum(1 for _ in reader.iter_lines(fh, max_bytes=2**63, max_lines=2**63))
    except (OSError, reader.BadGzip):
        return None


class Command(BaseCommand):
    help = ("Import items (prompts with K candidate responses) from a JSON Lines file, "
            "optionally gzip-compressed. All lines or none.")

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project id or name.")
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=services.FORMATS, default="native")
        parser.add_argument("--labels", choices=services.LABELS, default=None,
                            help="imported (default for hh-rlhf and trl) or none.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, project: str, file: Path, format: str, labels: str | None,
               no_progress: bool, **options):
        target = self._project(project)
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        bar = tqdm(total=None if no_progress else _count_lines(file), unit=" lines",
                   desc="checking", disable=no_progress, file=self.stderr._out)
        try:
            with file.open("rb") as source:
                result = services.import_items(actor=None, project=target, source=source,
                                               format=format, labels=labels,
                                               on_progress=bar.update)
        except LineErrors as exc:
            bar.close()
            for error in exc.errors:
                self.stderr.write(f"line {error['line']}: {error['message']}")
            raise CommandError(str(exc.detail)) from None
        except ApplicationError as exc:
            bar.close()
            raise CommandError(error_text(exc)) from None
        bar.close()
        self.stdout.write(json.dumps(result))
        empty = result["empty_responses"]
        self.stdout.write(self.style.SUCCESS(
            f"Imported {result['created']} items into {target.name!r} (id {target.pk}): "
            f"{result['duplicates']} duplicates skipped, {result['imported_labels']} imported "
            f"labels, {result['gold']} gold, {empty} empty response{'' if empty == 1 else 's'}."
        ))

    def _project(self, ref: str) -> Project:
        try:
            return project_by_reference(ref)
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
