"""Private PostgreSQL and Redis servers, and the site served by gunicorn against them.

The fault tests stop and restart servers; the shared ones on 5432 / 6379 belong to other
engineers and CI, so each test starts its own on free ports of 127.0.0.1, in a temporary
folder, and removes them when it ends. Every subprocess gets an environment naming only
these private servers: the outer DATABASE_URL / REDIS_URL never reach them.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed (Debian keeps them off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda path: int(Path(path).parts[-3]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def missing_servers() -> str | None:
    """Why private servers cannot be started here, or None."""
    if postgres_bin() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not installed"
    if shutil.which("redis-server") is None:
        return "redis-server not on PATH"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user to own the cluster"
        if shutil.which("runuser") is None:
            return "running as root without runuser to start PostgreSQL as its own user"
    return None


def wait_until(check, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


class PrivatePostgres:
    """A throwaway cluster: ``initdb`` into a temporary folder, ``pg_ctl`` on a free port,
    trust authentication on 127.0.0.1 only. initdb refuses root, so as root the cluster
    belongs to the ``postgres`` user."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="rw-faults-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.running = False

    def _run(self, *command: str, timeout: float = 60) -> None:
        if os.geteuid() == 0:
            command = ("runuser", "-u", "postgres", "--", *command)
        subprocess.run(command, check=True, timeout=timeout, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)

    def init(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.dir, user="postgres", group="postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")
        self.start()
        return self

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses={HOST} "
                   f"-c unix_socket_directories={self.dir}")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-o", options, "-w", "-t", "30", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30",
                  "stop")
        self.running = False

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def query(self, database: str, sql: str, params=()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(database)) as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        try:
            if self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """``redis-server`` on a free port of 127.0.0.1, nothing saved to disk: a stop loses
    whatever it held, as a crashed Redis without persistence does."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="rw-faults-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host=HOST, port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> PrivateRedis:
        with open(self.dir / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "",
                 "--appendonly", "no", "--dir", str(self.dir)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        wait_until(self.ping, timeout=10, what="redis-server answering")
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _stop_process(process: subprocess.Popen | None, *, timeout: float = 15) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


class Site:
    """The web app as production runs it: ``manage.py`` commands, gunicorn, a Celery
    worker, all subprocesses against ``database_url`` and (optionally) ``redis_url``."""

    def __init__(self, *, database_url: str, data_dir: Path, redis_url: str | None = None):
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        env = {key: value for key, value in os.environ.items()
               if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER",
                              "DJANGO_SETTINGS_MODULE", "DEBUG"}}
        env.update(DATABASE_URL=database_url, RANKWISE_PROFILE="local",
                   RANKWISE_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="rankwise.settings",
                   PYTHONPATH=f"{ROOT / 'platform'}{os.pathsep}{ROOT}", LOG_LEVEL="WARNING")
        if redis_url:
            env["REDIS_URL"] = redis_url
        self.env = env
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    def manage(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
                              timeout=timeout, capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-4000:])
        return done.stdout

    def shell(self, code: str, **params) -> dict:
        """Runs ``code`` in ``manage.py shell``; it reads ``PARAMS`` and sets ``RESULT``."""
        script = (f"import json\nPARAMS = json.loads({json.dumps(json.dumps(params))})\n"
                  f"{code}\nprint('RESULT=' + json.dumps(RESULT))")
        out = self.manage("shell", "-c", script)
        line = [row for row in out.splitlines() if row.startswith("RESULT=")][-1]
        return json.loads(line.removeprefix("RESULT="))

    def start_web(self, *, workers: int = 2) -> None:
        self.web = subprocess.Popen(
            [str(GUNICORN), "rankwise.wsgi", "--bind", f"{HOST}:{self.port}",
             "--workers", str(workers), "--timeout", "30", "--graceful-timeout", "2",
             # gunicorn's control socket is one path per user by default: not ours to take.
             "--no-control-socket"],
            cwd=ROOT, env=self.env, stdout=open(self.data_dir / "web.log", "ab"),
            stderr=subprocess.STDOUT,
        )

        def answers():
            assert self.web.poll() is None, self.log("web.log")
            try:
                # The first request imports the whole site: give it time.
                return requests.get(f"{self.base}/healthz", timeout=30).status_code > 0
            except requests.ConnectionError:
                return False

        wait_until(answers, timeout=60, what="gunicorn answering", interval=0.2)

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "rankwise", "worker", "-Q",
             "celery,training", "-c", "1", "--pool", "solo", "-n", f"faults-{self.port}@%h",
             "--without-mingle", "--without-gossip", "--without-heartbeat",
             "--loglevel", "INFO"],
            cwd=ROOT, env=self.env, stdout=open(self.data_dir / "worker.log", "ab"),
            stderr=subprocess.STDOUT,
        )

    def log(self, name: str) -> str:
        path = self.data_dir / name
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def close(self) -> None:
        try:
            _stop_process(self.worker)
        finally:
            _stop_process(self.web)


SEED = """
from django.contrib.auth import get_user_model
from annotation import services
from annotation.models import Item, Membership, Response

User = get_user_model()
manager = User.objects.create_user(username="faults-manager", password=PARAMS["password"])
project = services.create_project(actor=manager, name="Faults", responses_per_item=2,
                                  overlap=PARAMS["overlap"])
annotators = []
for n in range(PARAMS["annotators"]):
    user = User.objects.create_user(username=f"faults-annotator-{n}",
                                    password=PARAMS["password"])
    services.set_membership(actor=manager, project=project, user=user,
                            role=Membership.Role.ANNOTATOR)
    annotators.append(user.username)
for n in range(PARAMS["items"]):
    item = Item.objects.create(project=project, prompt=f"prompt {n}", content_hash=f"h{n}")
    Response.objects.bulk_create(
        [Response(item=item, position=p, text=f"answer {p} to {n}") for p in range(2)])
RESULT = {"project": project.pk, "manager": manager.username, "annotators": annotators}
"""
PASSWORD = "faults-password-31415"


def seed(site: Site, *, annotators: int, items: int, overlap: int = 1) -> dict:
    """A K=2 project with ``items`` items, a manager and ``annotators`` annotators."""
    return site.shell(SEED, password=PASSWORD, annotators=annotators, items=items,
                      overlap=overlap)


def token(site: Site, username: str) -> str:
    answer = requests.post(f"{site.base}/api/v1/auth/token/", timeout=30,
                           json={"username": username, "password": PASSWORD})
    assert answer.status_code == 201, (answer.status_code, answer.text[:500])
    return answer.json()["token"]


@contextlib.contextmanager
def private_stack(data_dir: Path, *, annotators: int, items: int, worker: bool = False):
    """A private PostgreSQL and Redis, the site migrated and seeded against them, gunicorn
    (and a worker) up: yields (postgres, redis, site, seeded world); all removed afterwards."""
    postgres, redis, site = PrivatePostgres(), PrivateRedis(), None
    try:
        postgres.init()
        redis.start()
        site = Site(database_url=postgres.create_database("rankwise"), redis_url=redis.url,
                    data_dir=data_dir)
        site.data_dir.mkdir()
        site.manage("migrate", "--noinput")
        world = seed(site, annotators=annotators, items=items)
        site.start_web()
        if worker:
            site.start_worker()
        yield postgres, redis, site, world
    finally:
        if site is not None:
            site.close()
        redis.close()
        postgres.close()
