"""Backups and restores (rankwise.backups, ``manage.py backup`` / ``restore``).

A backup taken while writers commit holds every label acknowledged before it started and
restores into a fresh data dir that passes SQLite's integrity check; artifacts come back byte
for byte; a damaged archive, a non-empty target and a full disk are refused cleanly; on
PostgreSQL the same holds through pg_dump and pg_restore between two scratch databases.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from annotation.models import Annotation
from rankwise import backups
from rankwise.models import WorkerHeartbeat

ROOT = Path(__file__).resolve().parents[2]
ANNOTATIONS = Annotation._meta.db_table
HEARTBEATS = WorkerHeartbeat._meta.db_table

# Run in a subprocess against its own database: migrate, seed one project, then three
# threads create annotations until stdin closes, each printing its key once committed.
WRITER = """
import sys, threading
import django
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from annotation.models import Annotation, Item, Project, Response
project = Project.objects.create(name="load", created_by=get_user_model().objects.create_user("o"))
items = []
for i in range(10):
    item = Item.objects.create(project=project, prompt=f"q{i}", content_hash=f"h{i}")
    items.append((item, [Response.objects.create(item=item, position=p, text=f"r{p}").pk
                         for p in (0, 1)]))
stop, out = threading.Event(), threading.Lock()

def write(writer):
    if connection.vendor == "sqlite":
        # No checkpoints while the test runs: the newest labels are only in the WAL.
        connection.cursor().execute("PRAGMA wal_autocheckpoint=0")
    n = 0
    while not stop.is_set():
        item, (a, b) = items[n % len(items)]
        key = f"w{writer}-{n}"
        Annotation.objects.create(project=project, item=item, source="import",
                                  ranking=[[a], [b]], idempotency_key=key)
        with out:
            print(key, flush=True)
        n += 1
    connection.close()

threads = [threading.Thread(target=write, args=(w,)) for w in range(3)]
print("ready", flush=True)
for t in threads:
    t.start()
sys.stdin.read()
stop.set()
for t in threads:
    t.join()
"""


def env_for(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {**os.environ, "RANKWISE_PROFILE": "local", "RANKWISE_DATA_DIR": str(data_dir),
           "DJANGO_SETTINGS_MODULE": "rankwise.settings", "REDIS_URL": "",
           "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}"}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


class Writers:
    """The WRITER script in a subprocess; ``acked`` lists the keys it has committed."""

    def __init__(self, env: dict[str, str], log: Path):
        self.log, self.log_file = log, log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log_file)
        self.acked: list[str] = []
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.strip() == "ready":
                self.ready.set()
            elif line.startswith("w"):
                self.acked.append(line.strip())

    def wait_for(self, count: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"writers stopped at {len(self.acked)} labels:\n"
                            f"{self.log.read_text()[-3000:]}")
            time.sleep(0.02)

    def stop(self) -> list[str]:
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass  # it had stopped already; wait_for reported why
        self.process.wait(timeout=30)
        self.reader.join(timeout=10)
        self.process.stdout.close()
        self.log_file.close()
        return list(self.acked)


def make_artifacts(data_dir: Path) -> None:
    """What training leaves under ARTIFACTS_DIR, plus one pending import upload."""
    version = data_dir / "artifacts" / "reward_models" / "1" / "1"
    version.mkdir(parents=True)
    (version / "model.safetensors").write_bytes(os.urandom(200_000))
    (version / "config.json").write_text('{"encoder": "minilm"}')
    policy = data_dir / "artifacts" / "policies" / "1" / "1"
    policy.mkdir(parents=True)
    (policy / "adapter.bin").write_bytes(os.urandom(5000))
    staging = data_dir / "artifacts" / "reward_models" / "1" / ".staging-run-7-abcdef12"
    staging.mkdir()
    (staging / "model.safetensors").write_bytes(b"half written")
    cache = data_dir / "artifacts" / "embedding_cache" / "minilm"
    cache.mkdir(parents=True)
    (cache / "shard-1.safetensors").write_bytes(b"cached embeddings")
    (data_dir / "imports").mkdir()
    (data_dir / "imports" / f"{uuid.uuid4().hex}.data").write_bytes(b'{"prompt": "q"}\n')


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()}


def labels_in(conn) -> set[str]:
    rows = conn.execute(f'SELECT idempotency_key FROM "{ANNOTATIONS}"').fetchall()
    return {key for (key,) in rows}


def sqlite_target(data_dir: Path) -> backups.Target:
    return backups.Target(
        database={"ENGINE": "django.db.backends.sqlite3", "NAME": str(data_dir / "db.sqlite3")},
        artifacts_dir=data_dir / "artifacts", imports_dir=data_dir / "imports")


# --- SQLite, the embedded default ---------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A backup taken while three writers commit labels. ``before`` is recorded just ahead
    of it, so the newest of those labels are still in the WAL, not yet in the main file."""
    base = tmp_path_factory.mktemp("backup")
    source = base / "source"
    source.mkdir()
    make_artifacts(source)
    env = env_for(source, f"sqlite:///{source / 'db.sqlite3'}")
    writers = Writers(env, base / "writers.log")
    try:
        assert writers.ready.wait(120), (base / "writers.log").read_text()
        writers.wait_for(300)
        before = set(writers.acked)
        archive, manifest = backups.create_backup(source=sqlite_target(source),
                                                  output_dir=base / "out")
        during = len(writers.acked)
        writers.wait_for(during + 5)
    finally:
        everything = writers.stop()
    return SimpleNamespace(base=base, source=source, archive=archive, manifest=manifest,
                           before=before, during=during, everything=set(everything))


@pytest.fixture(scope="module")
def restored(loaded):
    """The backup restored by ``manage.py restore`` into a fresh data dir (default SQLite)."""
    fresh = loaded.base / "fresh"
    done = manage("restore", str(loaded.archive), env=env_for(fresh, None))
    assert done.returncode == 0, done.stderr
    return SimpleNamespace(data_dir=fresh, db=fresh / "rankwise.sqlite3", output=done.stdout)


def test_a_backup_under_load_restores_every_label_acknowledged_before_it(loaded, restored):
    assert len(loaded.before) >= 300
    assert loaded.during > len(loaded.before)  # the writers went on while it ran
    with sqlite3.connect(restored.db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        found = labels_in(conn)
    assert loaded.before <= found
    assert found <= loaded.everything  # and nothing else
    assert "Restored" in restored.output
    assert loaded.manifest["row_counts"]["annotation.Annotation"] == len(found)
    assert f"{len(found)} annotation.Annotation" in restored.output
    assert "3 artifact(s), 1 import upload(s)" in restored.output


def test_artifacts_and_uploads_come_back_byte_identical(loaded, restored):
    published = {name: data for name, data in tree(loaded.source / "artifacts").items()
                 if ".staging-" not in name and not name.startswith("embedding_cache/")}
    assert len(published) == 3
    assert tree(restored.data_dir / "artifacts") == published
    assert tree(restored.data_dir / "imports") == tree(loaded.source / "imports")


def test_a_damaged_archive_is_refused_and_nothing_is_written(loaded, tmp_path):
    damaged = tmp_path / "damaged.tar.gz"
    data = bytearray(loaded.archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    target = tmp_path / "target"
    with pytest.raises(backups.BackupError, match="damaged.tar.gz is damaged"):
        backups.restore_backup(archive=damaged, target=sqlite_target(target))
    assert sorted(p.name for p in target.rglob("*")) == []


def test_a_member_that_does_not_match_the_manifest_is_refused(loaded, tmp_path):
    forged = tmp_path / "forged.tar.gz"
    name = "artifacts/reward_models/1/1/model.safetensors"
    with tarfile.open(loaded.archive) as src, tarfile.open(forged, "w:gz") as out:
        for member in src:
            body = src.extractfile(member).read()
            out.addfile(member, io.BytesIO(body[::-1] if member.name == name else body))
    target = tmp_path / "target"
    with pytest.raises(backups.BackupError, match=f"sha256 of {name} does not match"):
        backups.restore_backup(archive=forged, target=sqlite_target(target))
    assert not (target / "db.sqlite3").exists()


def test_restore_refuses_a_target_in_use_unless_forced(loaded, tmp_path):
    target = sqlite_target(tmp_path)
    backups.restore_backup(archive=loaded.archive, target=target)
    with sqlite3.connect(target.sqlite_path) as conn:
        conn.execute(f'INSERT INTO "{HEARTBEATS}" (hostname, seen_at) VALUES (?, ?)',
                     ("celery@host", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")))
        conn.execute(f'DELETE FROM "{ANNOTATIONS}" WHERE idempotency_key = ?',
                     (sorted(loaded.before)[0],))
    with pytest.raises(backups.BackupError) as refused:
        backups.restore_backup(archive=loaded.archive, target=target)
    message = str(refused.value)
    assert "the database is not empty" in message and "annotation.Annotation" in message
    assert "a worker checked in" in message and "--force" in message

    manifest = backups.restore_backup(archive=loaded.archive, target=target, force=True)
    with sqlite3.connect(target.sqlite_path) as conn:
        assert loaded.before <= labels_in(conn)
        assert conn.execute(f'SELECT count(*) FROM "{HEARTBEATS}"').fetchone() == (0,)
    assert manifest["engine"] == "sqlite"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".rankwise-")] == []


# --- a full disk --------------------------------------------------------------------------


class FullDisk(io.FileIO):
    """A file on a disk that fills up after 4 KiB."""

    def write(self, data) -> int:
        room = 4096 - self.tell()
        if len(data) > room:
            super().write(bytes(data[:max(room, 0)]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


@pytest.mark.django_db
def test_a_full_disk_leaves_no_partial_archive(tmp_path, settings, monkeypatch):
    settings.DATA_DIR = tmp_path / "data"
    out = tmp_path / "out"
    printed = io.StringIO()
    call_command("backup", output_dir=out, stdout=printed)
    [previous] = out.iterdir()
    assert f"Wrote {previous}" in printed.getvalue()
    kept = previous.read_bytes()

    monkeypatch.setattr(backups, "_open_output", lambda path: FullDisk(path, "xb"))
    with pytest.raises(CommandError, match="No space left on device") as failed:
        call_command("backup", output_dir=out, stdout=io.StringIO())
    assert "no archive was written" in str(failed.value)
    assert list(out.iterdir()) == [previous]  # no partial archive, no temp folder
    assert previous.read_bytes() == kept


# --- PostgreSQL ---------------------------------------------------------------------------


def pg_database(name: str) -> dict:
    return {**connection.settings_dict, "NAME": name}


def pg_url(name: str) -> str:
    conf = connection.settings_dict
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf.get("PASSWORD") else "")
    return f"postgres://{auth}@{conf.get('HOST') or '127.0.0.1'}:{conf.get('PORT') or 5432}/{name}"


def pg_admin() -> psycopg.Connection:
    conf = connection.settings_dict
    return psycopg.connect(dbname="postgres", user=conf["USER"], password=conf.get("PASSWORD"),
                           host=conf.get("HOST") or "127.0.0.1", port=conf.get("PORT") or 5432,
                           autocommit=True)


@pytest.fixture
def scratch_databases():
    """Two empty scratch databases, dropped afterwards."""
    suffix = uuid.uuid4().hex[:8]
    names = [f"rw_backup_src_{suffix}", f"rw_backup_dst_{suffix}"]
    with pg_admin() as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    yield names
    with pg_admin() as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_rows(name: str) -> dict[int, tuple]:
    with psycopg.connect(pg_url(name)) as conn:
        return {row[0]: row for row in conn.execute(
            f'SELECT id, idempotency_key, ranking::text, item_id FROM "{ANNOTATIONS}"')}


@pytest.mark.postgres
def test_postgres_backup_under_load_restores_into_another_database(scratch_databases, tmp_path):
    assert shutil.which("pg_dump") and shutil.which("pg_restore")
    src, dst = scratch_databases
    (tmp_path / "src").mkdir()
    make_artifacts(tmp_path / "src")
    source = backups.Target(database=pg_database(src), artifacts_dir=tmp_path / "src/artifacts",
                            imports_dir=tmp_path / "src/imports")
    writers = Writers(env_for(tmp_path / "src", pg_url(src)), tmp_path / "writers.log")
    try:
        assert writers.ready.wait(120), (tmp_path / "writers.log").read_text()
        writers.wait_for(30)
        before = set(writers.acked)
        archive, manifest = backups.create_backup(source=source, output_dir=tmp_path / "out")
        writers.wait_for(len(writers.acked) + 5)
    finally:
        writers.stop()
    assert manifest["database"] == "db.pgdump" and manifest["engine"] == "postgresql"
    with tarfile.open(archive) as tar:
        assert tar.getnames()[0] == "db.pgdump" and tar.getnames()[-1] == "manifest.json"

    with pytest.raises(backups.BackupError, match="holds db.pgdump, but this installation "
                                                  "runs on sqlite"):
        backups.restore_backup(archive=archive, target=sqlite_target(tmp_path / "elsewhere"))

    done = manage("restore", str(archive), env=env_for(tmp_path / "dst", pg_url(dst)))
    assert done.returncode == 0, done.stderr
    restored, original = pg_rows(dst), pg_rows(src)
    assert before <= {row[1] for row in restored.values()}
    assert all(original[pk] == row for pk, row in restored.items())  # identical rows
    assert len(restored) == manifest["row_counts"]["annotation.Annotation"] < len(original)
    published = {name: data for name, data in tree(tmp_path / "src/artifacts").items()
                 if ".staging-" not in name and not name.startswith("embedding_cache/")}
    assert tree(tmp_path / "dst/artifacts") == published

    # Over a database that holds data: refused, then --clean replaces it in one transaction.
    target = backups.Target(database=pg_database(dst), artifacts_dir=tmp_path / "dst/artifacts",
                            imports_dir=tmp_path / "dst/imports")
    with psycopg.connect(pg_url(dst), autocommit=True) as conn:
        conn.execute(f'DELETE FROM "{ANNOTATIONS}" WHERE id IN '
                     f'(SELECT id FROM "{ANNOTATIONS}" ORDER BY id LIMIT 10)')
    with pytest.raises(backups.BackupError, match="not empty"):
        backups.restore_backup(archive=archive, target=target)
    backups.restore_backup(archive=archive, target=target, force=True)
    assert pg_rows(dst) == restored
    with psycopg.connect(pg_url(dst)) as conn:
        # The id sequence came back too, so new rows do not collide with restored ones.
        sequence = conn.execute("SELECT pg_get_serial_sequence(%s, 'id')",
                                (ANNOTATIONS,)).fetchone()[0]
        assert conn.execute(f"SELECT last_value FROM {sequence}").fetchone()[0] >= max(restored)
