"""``manage.py restore ARCHIVE``: put a backup back. Stop the web, worker and beat processes
first; the database must be empty (or ``--force``)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from rankwise import backups

from .backup import summary


def migration_notes(manifest: dict) -> list[str]:
    """How the archive's applied migrations compare with this code's."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    archived = {(app, name) for app, names in manifest.get("migrations", {}).items()
                for name in names}
    pending = sorted(set(loader.graph.nodes) - archived)
    unknown = sorted(archived - set(loader.disk_migrations))
    notes = []
    if pending:
        notes.append(f"this code has {len(pending)} migration(s) the backup predates "
                     f"(first: {'.'.join(pending[0])}): run `manage.py migrate`")
    if unknown:
        notes.append(f"the backup has {len(unknown)} migration(s) this code does not know "
                     f"(first: {'.'.join(unknown[0])}): it was made by newer code")
    return notes


class Command(BaseCommand):
    # A backup or restore must work even where the site itself would not start.
    requires_system_checks: list = []
    help = ("Restore a rankwise-backup archive: checks every checksum, then replaces the "
            "database, ARTIFACTS_DIR and the import uploads. Stop web, worker and beat first.")

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path)
        parser.add_argument("--force", action="store_true",
                            help="overwrite a database that holds data, or has a live worker")

    def handle(self, *args, archive: Path, force: bool, **options):
        target = backups.Target.from_settings()
        connections.close_all()  # an SQLite file is replaced under this process too
        try:
            manifest = backups.restore_backup(archive=archive, target=target, force=force)
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"Restored {archive.name} (made {manifest['created_at']})"))
        where = (target.sqlite_path if target.engine == "sqlite"
                 else f"PostgreSQL database {target.database['NAME']}")
        self.stdout.write(f"  into: {where}; artifacts: {target.artifacts_dir}")
        for line in summary(manifest):
            self.stdout.write(line)
        for note in migration_notes(manifest):
            self.stdout.write(self.style.WARNING(f"  note: {note}"))
