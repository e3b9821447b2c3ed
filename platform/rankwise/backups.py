"""Backups of one installation into one archive file, and restores from it.

An archive (``rankwise-backup-<UTC time>.tar.gz``) holds, in this order, ``db.sqlite3`` (a copy
made with SQLite's online backup API) or ``db.pgdump`` (``pg_dump --format=custom``);
``artifacts/``, the published model versions (without the staging folders of runs in progress
and the embedding cache, which training rebuilds on demand); ``imports/``, the uploads of
background imports not yet finished; and ``manifest.json``: sha256 and size of every other
member, the applied migrations, row counts of the key tables, when it was made.

A backup may run while the web and the workers write. The database is copied first, from one
read snapshot (a single SQLite backup step; a pg_dump of an exported snapshot), and the files
after it: a model version's folder and an import's upload are in place before their rows
commit, so everything the database copy refers to is on disk by then. A restore writes each
member beside its final place, checks it against the manifest, and only then moves it in.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import uuid
import zlib
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import psycopg
from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg.conninfo import make_conninfo

FORMAT, FORMAT_VERSION = "rankwise-backup", 1
MANIFEST = "manifest.json"
DB_MEMBERS = {"sqlite": "db.sqlite3", "postgresql": "db.pgdump"}
ARTIFACTS, IMPORTS = "artifacts", "imports"
SKIPPED_ARTIFACTS = ("embedding_cache",)
STAGING_PREFIX = ".staging-"
KEY_MODELS = (
    "auth.User", "annotation.Project", "annotation.Membership", "annotation.Item",
    "annotation.Response", "annotation.Assignment", "annotation.Annotation", "annotation.Review",
    "annotation.ImportJob", "training.TrainingRun", "training.ModelVersion",
)
# OPTIONS keys that Django or psycopg consume; the rest are libpq parameters.
NOT_LIBPQ = {"assume_role", "isolation_level", "pool", "server_side_binding",
             "prepare_threshold", "cursor_factory", "context"}
CHUNK = 1 << 20
UNREADABLE = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


class BackupError(Exception):
    """A backup or restore that did not happen; the message says why, for the operator."""


@dataclass(frozen=True)
class Target:
    """One installation: its database (a Django DATABASES entry) and its folders."""

    database: dict[str, Any]
    artifacts_dir: Path
    imports_dir: Path

    @classmethod
    def from_settings(cls) -> Target:
        return cls(
            database=dict(connections[DEFAULT_DB_ALIAS].settings_dict),
            artifacts_dir=Path(settings.ARTIFACTS_DIR),
            # Where annotation.imports.jobs keeps the uploads of background imports.
            imports_dir=Path(settings.DATA_DIR) / "imports",
        )

    @property
    def engine(self) -> str:
        backend = self.database["ENGINE"].rsplit(".", 1)[-1]
        if backend not in ("sqlite3", "postgresql"):
            raise BackupError(f"backups support SQLite and PostgreSQL, not {backend}")
        return "sqlite" if backend == "sqlite3" else backend

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database["NAME"])


def _key_tables() -> list[tuple[str, str]]:
    tables = {model._meta.label: model._meta.db_table for model in apps.get_models()}
    return [(label, tables[label]) for label in KEY_MODELS if label in tables]


def _table_exists(conn, engine: str, table: str) -> bool:
    if engine == "sqlite":
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return conn.execute(query, (table,)).fetchone() is not None
    return conn.execute("SELECT to_regclass(%s)", (f'"{table}"',)).fetchone()[0] is not None


def _row_counts(conn, engine: str) -> dict[str, int]:
    return {label: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for label, table in _key_tables() if _table_exists(conn, engine, table)}


def _migrations(conn, engine: str) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    if _table_exists(conn, engine, "django_migrations"):
        for app, name in conn.execute("SELECT app, name FROM django_migrations ORDER BY id"):
            applied.setdefault(app, []).append(name)
    return applied


def _last_heartbeat(conn, engine: str) -> datetime | None:
    table = apps.get_model("rankwise", "WorkerHeartbeat")._meta.db_table
    if not _table_exists(conn, engine, table):
        return None
    seen = conn.execute(f'SELECT max(seen_at) FROM "{table}"').fetchone()[0]
    if isinstance(seen, str):
        seen = datetime.fromisoformat(seen)
    return seen.replace(tzinfo=seen.tzinfo or UTC) if seen else None


def _libpq(database: dict[str, Any]) -> tuple[str, str | None]:
    """A libpq connection string without the password, and the password on its own: tools
    get it through PGPASSWORD, so it never shows on a command line."""
    params = {key: value for key, value in (database.get("OPTIONS") or {}).items()
              if key not in NOT_LIBPQ}
    for key, name in (("NAME", "dbname"), ("USER", "user"), ("HOST", "host"), ("PORT", "port")):
        if database.get(key):
            params[name] = database[key]
    return make_conninfo(**{k: str(v) for k, v in params.items()}), database.get("PASSWORD") or None


def _connect(target: Target):
    """A DB-API connection to ``target``'s database; None for an SQLite file not there."""
    if target.engine == "sqlite":
        return sqlite3.connect(target.sqlite_path) if target.sqlite_path.exists() else None
    conninfo, password = _libpq(target.database)
    try:
        return psycopg.connect(conninfo, password=password, autocommit=True)
    except psycopg.OperationalError as exc:
        raise BackupError(f"cannot connect to the database: {exc}".strip()) from exc


def _pg_tool(name: str) -> str:
    # pg_dump refuses a newer server and pg_restore a newer dump, each with a clear message.
    if (path := shutil.which(name)) is None:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client tools "
                          "(the server's major version or newer)")
    return path


def _run_pg_tool(argv: list[str], password: str | None, *, failed: str = "") -> None:
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        detail = done.stderr.strip()[-2000:] or f"exit status {done.returncode}"
        raise BackupError(f"{Path(argv[0]).name} failed: {detail}{failed}")


def _dump_sqlite(source: Target, dest: Path) -> dict[str, Any]:
    path = source.sqlite_path
    if not path.is_file():
        raise BackupError(f"there is no SQLite database at {path}")
    with closing(sqlite3.connect(path, timeout=30)) as live, \
            closing(sqlite3.connect(dest)) as copy:
        # One step (pages=-1): the whole copy comes from one read snapshot.
        live.backup(copy, pages=-1)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        check = copy.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the database copy fails SQLite's check: {check}")
        return {"row_counts": _row_counts(copy, "sqlite"),
                "migrations": _migrations(copy, "sqlite"),
                "sqlite_version": sqlite3.sqlite_version}


def _dump_postgres(source: Target, dest: Path) -> dict[str, Any]:
    pg_dump = _pg_tool("pg_dump")
    version = subprocess.run([pg_dump, "--version"], capture_output=True, text=True).stdout
    conninfo, password = _libpq(source.database)
    with _connect(source) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        facts = {"row_counts": _row_counts(conn, "postgresql"),
                 "migrations": _migrations(conn, "postgresql"),
                 "server_version": conn.info.server_version,
                 "pg_dump_version": version.strip()}
        # The exported snapshot lives as long as this transaction, so it stays open meanwhile.
        _run_pg_tool([pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot}",
                      f"--file={dest}", f"--dbname={conninfo}"], password)
        conn.execute("COMMIT")
    return facts


def _walk(prefix: str, root: Path):
    """(member name, path) of the files under ``root`` that belong in an archive."""
    root = Path(root)
    if not root.is_dir():
        return
    for folder, subfolders, names in os.walk(root):
        relative = Path(folder).relative_to(root)
        subfolders[:] = sorted(
            name for name in subfolders if not name.startswith(STAGING_PREFIX)
            and not (prefix == ARTIFACTS and relative == Path(".") and name in SKIPPED_ARTIFACTS))
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield f"{prefix}/{(relative / name).as_posix()}", path


class _Hashing:
    def __init__(self, raw):
        self.raw, self.digest = raw, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> dict[str, Any] | None:
    try:
        info = tar.gettarinfo(str(path), arcname=name)
        raw = path.open("rb")
    except FileNotFoundError:
        return None  # a finished import's upload, deleted since the walk: nothing to keep
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with raw:
        reader = _Hashing(raw)
        tar.addfile(info, reader)
    return {"sha256": reader.digest.hexdigest(), "size": info.size}


def _open_output(path: Path):
    # The one place the archive file is opened, so that a test can fill the disk here.
    return path.open("xb")


def _write_archive(path: Path, manifest: dict[str, Any], members) -> None:
    with _open_output(path) as out:
        with tarfile.open(fileobj=out, mode="w:gz", compresslevel=6) as tar:
            for name, file in members:
                if (entry := _add_file(tar, name, file)) is not None:
                    manifest["files"][name] = entry
            body = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(body), 0o644, int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(body))
        out.flush()
        os.fsync(out.fileno())


def _free_name(folder: Path, created: datetime) -> Path:
    stem = f"rankwise-backup-{created:%Y%m%dT%H%M%SZ}"
    path, n = folder / f"{stem}.tar.gz", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.tar.gz"
    return path


def create_backup(*, source: Target, output_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Write one archive of ``source`` into ``output_dir``; return its path and manifest.
    On any failure nothing is left there but what was there before."""
    output_dir = Path(output_dir).resolve()
    for folder in (source.artifacts_dir, source.imports_dir):
        if output_dir.is_relative_to(Path(folder).resolve()):
            raise BackupError(f"the output folder {output_dir} is inside {folder}, which is "
                              "itself backed up")
    engine, created = source.engine, datetime.now(UTC)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=output_dir, prefix=".rankwise-backup-",
                                         ignore_cleanup_errors=True) as work:
            database = Path(work) / DB_MEMBERS[engine]
            dump = _dump_sqlite if engine == "sqlite" else _dump_postgres
            manifest = {
                "format": FORMAT, "version": FORMAT_VERSION, "created_at": created.isoformat(),
                "engine": engine, "database": DB_MEMBERS[engine], **dump(source, database),
                "skipped": [f"{ARTIFACTS}/{name}" for name in SKIPPED_ARTIFACTS]
                + [f"{STAGING_PREFIX}* folders"],
                "files": {},
            }
            partial = Path(work) / "archive.tar.gz"
            files = [*_walk(ARTIFACTS, source.artifacts_dir), *_walk(IMPORTS, source.imports_dir)]
            _write_archive(partial, manifest, [(DB_MEMBERS[engine], database), *files])
            final = _free_name(output_dir, created)
            os.replace(partial, final)
            folder = os.open(output_dir, os.O_RDONLY)  # makes the rename itself durable
            os.fsync(folder)
            os.close(folder)
    except (OSError, sqlite3.Error, psycopg.Error, tarfile.TarError) as exc:
        raise BackupError(f"backup failed, no archive was written: {exc}") from exc
    return final, manifest


def _damaged(archive: Path, detail: str) -> BackupError:
    return BackupError(f"{archive.name} is damaged ({detail}); nothing was restored")


def _staging(target: Target, dirs: dict[str, Path]) -> None:
    """Fill ``dirs`` with folders beside the final places: moving a member in is then one
    rename on one filesystem."""
    beside = target.sqlite_path if target.engine == "sqlite" else target.artifacts_dir
    for key, place in (("db", beside), (ARTIFACTS, target.artifacts_dir),
                       (IMPORTS, target.imports_dir)):
        Path(place).parent.mkdir(parents=True, exist_ok=True)
        dirs[key] = Path(tempfile.mkdtemp(dir=Path(place).parent, prefix=".rankwise-restore-"))


def _staged(dirs: dict[str, Path], name: str) -> Path:
    if name in DB_MEMBERS.values():
        return dirs["db"] / name
    prefix, _, rest = name.partition("/")
    return dirs[prefix] / rest


def _member_name(archive: Path, member: tarfile.TarInfo) -> str:
    name, parts = member.name, PurePosixPath(member.name).parts
    allowed = (name == MANIFEST or name in DB_MEMBERS.values()
               or (len(parts) > 1 and parts[0] in (ARTIFACTS, IMPORTS)))
    if not member.isfile() or name.startswith("/") or ".." in parts or not allowed:
        raise _damaged(archive, f"unexpected member {name!r}")
    return name


def _copy(source, dest: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("xb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def _extract(archive: Path, dirs: dict[str, Path], engine: str) -> dict[str, Any]:
    """Write every member to its staging place and return the manifest, once each file has
    been checked against it."""
    seen: dict[str, tuple[str, int]] = {}
    manifest = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = _member_name(archive, member)
                source = tar.extractfile(member)
                if name == MANIFEST:
                    manifest = json.loads(source.read())
                    continue
                seen[name] = _copy(source, _staged(dirs, name))
            while tar.fileobj.read(CHUNK):
                pass  # read to the end, so that gzip checks the CRC of the whole stream
    except (*UNREADABLE, ValueError) as exc:
        raise _damaged(archive, str(exc) or type(exc).__name__) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _damaged(archive, "no Rankwise manifest")
    if manifest.get("version", 0) > FORMAT_VERSION:
        raise BackupError(f"{archive.name} was made by a newer Rankwise (format "
                          f"{manifest['version']}); nothing was restored")
    expected = manifest.get("files") or {}
    for name in sorted(set(expected) | set(seen)):
        if name not in seen:
            raise _damaged(archive, f"{name} is listed in the manifest but missing")
        if name not in expected:
            raise _damaged(archive, f"{name} is not in the manifest")
        if seen[name] != (expected[name].get("sha256"), expected[name].get("size")):
            raise _damaged(archive, f"the sha256 of {name} does not match the manifest")
    if DB_MEMBERS[engine] not in seen:
        raise _damaged(archive, f"no {DB_MEMBERS[engine]}")
    return manifest


def _check_engine(archive: Path, engine: str) -> None:
    # The database is the first member: the wrong engine is refused before any work.
    try:
        with tarfile.open(archive, "r:gz") as tar:
            first = tar.next()
    except UNREADABLE as exc:
        raise _damaged(archive, str(exc) or type(exc).__name__) from exc
    if first is None or first.name != DB_MEMBERS[engine]:
        raise BackupError(f"{archive.name} holds {first.name if first else 'nothing'}, but this "
                          f"installation runs on {engine}; nothing was restored")


def _in_use(target: Target) -> list[str]:
    """Why overwriting ``target`` could lose data or break running processes."""
    reasons, held, seen = [], {}, None
    try:
        if (conn := _connect(target)) is not None:
            with closing(conn):
                held = {label: n for label, n in _row_counts(conn, target.engine).items() if n}
                seen = _last_heartbeat(conn, target.engine)
    except (sqlite3.Error, psycopg.Error) as exc:
        reasons.append(f"the database cannot be read ({exc})")
    if held:
        reasons.append("the database is not empty ("
                       + ", ".join(f"{n} {label}" for label, n in held.items()) + ")")
    max_age = getattr(settings, "WORKER_HEARTBEAT_MAX_AGE", 90)
    if seen is not None and (age := (datetime.now(UTC) - seen).total_seconds()) < max_age:
        reasons.append(f"a worker checked in {age:.0f} s ago")
    if next(_walk(ARTIFACTS, target.artifacts_dir), None) is not None:
        reasons.append(f"{target.artifacts_dir} holds model artifacts")
    return reasons


def _swap_sqlite(staged: Path, live: Path) -> None:
    if live.exists():
        try:
            # Fold the live WAL into its file first, so a failed rename loses nothing.
            with closing(sqlite3.connect(live, timeout=30)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # unreadable: it is being replaced either way
    # A WAL left beside the new file would be replayed into it.
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    os.replace(staged, live)


def _swap_dir(staged: Path, live: Path, keep: tuple[str, ...] = ()) -> None:
    live = Path(live)
    staged.chmod(live.stat().st_mode & 0o777 if live.exists() else 0o755)  # not mkdtemp's 700
    if live.exists():
        for name in keep:
            if (live / name).exists():
                os.replace(live / name, staged / name)
        old = live.with_name(f".rankwise-old-{live.name}-{uuid.uuid4().hex[:8]}")
        os.replace(live, old)
        os.replace(staged, live)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, live)


def _pg_restore(dump: Path, target: Target) -> None:
    pg_restore = _pg_tool("pg_restore")
    conninfo, password = _libpq(target.database)
    _run_pg_tool([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction",
                  "--exit-on-error", "--no-password", f"--dbname={conninfo}", str(dump)],
                 password, failed="\nIt ran as one transaction: nothing was changed")


def restore_backup(*, archive: Path, target: Target, force: bool = False) -> dict[str, Any]:
    """Replace ``target``'s database and folders by the archive's and return its manifest.
    Refuses a target that holds data or has a live worker unless ``force``, and a damaged
    archive always."""
    archive, engine = Path(archive), target.engine
    if not archive.is_file():
        raise BackupError(f"there is no archive at {archive}")
    _check_engine(archive, engine)
    if not force and (reasons := _in_use(target)):
        raise BackupError("refusing to restore: " + "; ".join(reasons) + ". Stop the web, "
                          "worker and beat processes; --force overwrites anyway")
    dirs: dict[str, Path] = {}
    moving = False
    try:
        _staging(target, dirs)
        manifest = _extract(archive, dirs, engine)
        staged_db = _staged(dirs, DB_MEMBERS[engine])
        if engine == "postgresql":
            _pg_restore(staged_db, target)  # one transaction: all or nothing
        moving = True
        if engine == "sqlite":
            _swap_sqlite(staged_db, target.sqlite_path)
        _swap_dir(dirs[ARTIFACTS], target.artifacts_dir, keep=SKIPPED_ARTIFACTS)
        _swap_dir(dirs[IMPORTS], target.imports_dir)
    except (OSError, sqlite3.Error, psycopg.Error) as exc:
        state = ("the target may be partly restored: run the restore again with --force"
                 if moving else "nothing was changed")
        raise BackupError(f"restore failed ({exc}); {state}") from exc
    finally:
        for path in dirs.values():
            shutil.rmtree(path, ignore_errors=True)
    with closing(_connect(target)) as conn:
        counts = _row_counts(conn, engine)
    if counts != manifest.get("row_counts", counts):
        raise BackupError(f"restored, but the row counts {counts} differ from the "
                          f"manifest's {manifest['row_counts']}")
    return manifest
