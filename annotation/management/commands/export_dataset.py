"""``manage.py export_dataset PROJECT --format F --out FILE [--filter key=value ...] [--gzip]``.

The same rows as ``GET /api/v1/projects/{id}/export/`` with the same parameters
(:mod:`annotation.exports.params`): ``--filter min_agreement=0.7 --filter ties=keep``.
``FILE`` ending in ``.gz`` (or ``--gzip``) is gzip; ending in ``.parquet`` is Parquet with the
format's schema; ``-`` writes JSON Lines to standard output. A progress bar on standard
error counts the rows against the total counted first (``--no-progress`` leaves it out).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.exports import dataset, writers
from annotation.exports.params import FORMATS, parse_params
from annotation.models import Project
from annotation.selectors import project_by_reference
from rankwise.errors import ApplicationError, error_text


def _filters(given: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for text in given:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--filter takes key=value, e.g. min_agreement=0.7; got {text!r}.")
        if key.strip() == "format":
            raise CommandError("Give the format with --format, not --filter.")
        out[key.strip()] = value.strip()
    return out


class Command(BaseCommand):
    help = ("Export a project's preferences (trl, hh-rlhf, annotations or consensus) to a "
            "JSON Lines, gzip or Parquet file.")

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project id or name.")
        parser.add_argument("--format", choices=FORMATS, default="trl")
        parser.add_argument("--out", required=True,
                            help="The file to write (.jsonl, .jsonl.gz, .parquet), or - for "
                                 "standard output.")
        parser.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                            help="An export parameter, e.g. min_agreement=0.7 (repeatable).")
        parser.add_argument("--gzip", action="store_true", help="Compress the JSON Lines.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, project: str, format: str, out: str, filter: list[str],
               gzip: bool, no_progress: bool, **options):
        target = self._project(project)
        try:
            params = parse_params({**_filters(filter), "format": format})
        except ApplicationError as exc:
            raise CommandError(error_text(exc)) from None
        total = None if no_progress else dataset.count_rows(project=target, params=params)
        bar = tqdm(total=total, unit=" rows", desc=f"export {format}", disable=no_progress,
                   file=self.stderr._out)

        def rows():
            for row in dataset.export_rows(project=target, params=params):
                yield row
                bar.update()

        try:
            if out == "-":
                self._to_stdout(rows(), gzip=gzip)
                bar.close()
                return
            path = Path(out)
            if not path.parent.is_dir():
                raise CommandError(f"No such folder: {path.parent}")
            if path.suffix == ".parquet":
                # Through JSON Lines first: the file is read once to pick the schema (a trl
                # export is conversational when any row is).
                staged = path.with_name(path.name + ".jsonl")
                try:
                    _, _, n_rows = writers.write_jsonl(rows(), staged)
                    sha256, size = writers.write_parquet(staged, path, format=format)
                finally:
                    staged.unlink(missing_ok=True)
            else:
                sha256, size, n_rows = writers.write_jsonl(
                    rows(), path, gzip=gzip or path.suffix == ".gz")
        finally:
            bar.close()
        self.stdout.write(json.dumps({"file": str(path), "rows": n_rows, "bytes": size,
                                      "sha256": sha256}))
        self.stdout.write(self.style.SUCCESS(
            f"Exported {n_rows} {format} rows of {target.name!r} (id {target.pk}) to {path}."))

    def _to_stdout(self, rows, *, gzip: bool) -> None:
        chunks = writers.jsonl_bytes(rows)
        stream = sys.stdout.buffer
        for chunk in writers.gzip_bytes(chunks) if gzip else chunks:
            stream.write(chunk)
        stream.flush()

    def _project(self, ref: str) -> Project:
        try:
            return project_by_reference(ref)
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
