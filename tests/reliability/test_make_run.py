"""``make run`` (rankwise.supervisor) stops cleanly: Ctrl-C or SIGTERM ends the web server,
the worker and the scheduler, and nothing is written outside RANKWISE_DATA_DIR."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent has not collected it yet.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][0] != "Z"


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(RANKWISE_DATA_DIR=str(tmp_path / "data"), RANKWISE_PROFILE="local",
               PYTHONPATH=f"{ROOT / 'platform'}:{ROOT}")
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
                   env=env, cwd=tmp_path, check=True, timeout=300)
    return env


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_web_worker_and_scheduler(embedded_env, tmp_path, signum):
    port = free_port()
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "rankwise.supervisor", "--port", str(port),
         "--web-concurrency", "1"],
        env=embedded_env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    lines: list[str] = []
    try:
        while len(re.findall(r"started \w+ \(pid \d+\)", "".join(lines))) < 3:
            lines.append(supervisor.stdout.readline())
        pids = [int(p) for p in re.findall(r"started \w+ \(pid (\d+)\)", "".join(lines))]
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the web server never answered"
                assert supervisor.poll() is None, "".join(lines)
                time.sleep(0.5)
        supervisor.send_signal(signum)
        output, _ = supervisor.communicate(timeout=60)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    assert supervisor.returncode == 0, output
    assert "rankwise: stopped" in output
    assert "Segmentation fault" not in output
    assert [pid for pid in pids if alive(pid)] == []
    # The embedded broker keeps its control folder under the data dir, not in the cwd.
    assert list(workdir.iterdir()) == []
    assert (Path(embedded_env["RANKWISE_DATA_DIR"]) / "broker" / "control").is_dir()


@pytest.mark.slow
def test_a_part_that_dies_takes_the_others_down(embedded_env, tmp_path):
    port = free_port()
    with socket.socket() as taken:  # the web server cannot bind: it exits at once
        taken.bind(("127.0.0.1", port))
        taken.listen()
        supervisor = subprocess.run(
            [sys.executable, "-m", "rankwise.supervisor", "--port", str(port),
             "--web-concurrency", "1"],
            env=embedded_env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    output = supervisor.stdout + supervisor.stderr
    assert supervisor.returncode != 0
    assert "web exited with" in output
    pids = [int(p) for p in re.findall(r"started \w+ \(pid (\d+)\)", output)]
    assert len(pids) == 3 and [pid for pid in pids if alive(pid)] == []
