"""``manage.py backup``: one archive of the database, the model artifacts and pending import
uploads, safe to take while the web and the workers run (see rankwise.backups)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from rankwise import backups


def summary(manifest: dict) -> list[str]:
    files = manifest["files"]
    counted = {prefix: sum(name.startswith(f"{prefix}/") for name in files)
               for prefix in (backups.ARTIFACTS, backups.IMPORTS)}
    rows = ", ".join(f"{n} {label}" for label, n in manifest["row_counts"].items() if n)
    return [f"  database: {manifest['engine']} ({manifest['database']}); "
            f"rows: {rows or 'none in the key tables'}",
            f"  files: {counted[backups.ARTIFACTS]} artifact(s), "
            f"{counted[backups.IMPORTS]} import upload(s)"]


class Command(BaseCommand):
    # A backup or restore must work even where the site itself would not start.
    requires_system_checks: list = []
    help = ("Write rankwise-backup-<UTC time>.tar.gz: the database (SQLite online backup or "
            "pg_dump), ARTIFACTS_DIR and pending import uploads, with a manifest of checksums.")

    def add_arguments(self, parser):
        parser.add_argument("--output-dir", type=Path, default=None,
                            help="where to write the archive (default: RANKWISE_DATA_DIR/backups)")

    def handle(self, *args, output_dir: Path | None, **options):
        folder = output_dir or Path(settings.DATA_DIR) / "backups"
        try:
            path, manifest = backups.create_backup(source=backups.Target.from_settings(),
                                                   output_dir=folder)
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        size = path.stat().st_size
        shown = f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 1024:.0f} KiB"
        self.stdout.write(self.style.SUCCESS(f"Wrote {path} ({shown})"))
        for line in summary(manifest):
            self.stdout.write(line)
