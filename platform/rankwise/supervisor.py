"""``make run``: the web server, a Celery worker and the scheduler as one foreground program.

Each part runs in its own session (process group), so the terminal's Ctrl-C reaches only
this supervisor, which then stops the parts in order — scheduler first (nothing new is
queued), then the worker (its current task is given a grace period; an unfinished one is
redelivered, tasks acknowledge late), then the web server — and exits once all are gone.
SIGTERM does the same. If one part dies on its own the others are stopped too, so a half
running site never lingers.

    python -m rankwise.supervisor --host 127.0.0.1 --port 8000 --web-concurrency 2
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

GRACE_S = 15.0  # per part, before it is killed


@dataclass
class Part:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None


def parts(*, host: str, port: int, web_concurrency: int) -> list[Part]:
    python = sys.executable
    gunicorn = os.path.join(os.path.dirname(python), "gunicorn")
    return [
        Part("beat", [python, "-m", "celery", "-A", "rankwise", "beat", "--loglevel=INFO"]),
        Part("worker", [python, "-m", "celery", "-A", "rankwise", "worker", "-Q",
                        "celery,training,judges", "-c", "1", "--loglevel=INFO"]),
        Part("web", [gunicorn, "rankwise.wsgi", "--bind", f"{host}:{port}", "--workers",
                     str(web_concurrency), "--threads", "4", "--access-logfile", "-"]),
    ]


class Supervisor:
    def __init__(self, parts: list[Part]):
        self.parts = parts
        self.stopping = False

    def start(self) -> None:
        for part in self.parts:
            part.process = subprocess.Popen(part.argv, start_new_session=True)
            print(f"rankwise: started {part.name} (pid {part.process.pid})", flush=True)

    def request_stop(self, signum, _frame) -> None:
        if not self.stopping:
            print(f"rankwise: {signal.Signals(signum).name}, stopping", flush=True)
        self.stopping = True

    def watch(self) -> int:
        """Wait until asked to stop or a part exits; returns the exit status to use."""
        while not self.stopping:
            for part in self.parts:
                code = part.process.poll()
                if code is not None:
                    print(f"rankwise: {part.name} exited with {code}; stopping the rest",
                          flush=True)
                    self.stopping = True
                    return code or 1
            time.sleep(0.5)
        return 0

    def stop(self) -> None:
        for part in self.parts:
            process = part.process
            if process is None or process.poll() is not None:
                continue
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                print(f"rankwise: {part.name} did not stop in {GRACE_S:g} s; killing it",
                      flush=True)
                _signal_group(process, signal.SIGKILL)
                process.wait()
            # Whatever the part left behind in its group (gunicorn's workers, celery's
            # pool) goes with it.
            _signal_group(process, signal.SIGKILL)
        print("rankwise: stopped", flush=True)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--web-concurrency", type=int,
                        default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    args = parser.parse_args(argv)
    supervisor = Supervisor(parts(host=args.host, port=args.port,
                                  web_concurrency=args.web_concurrency))
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    supervisor.start()
    print(f"Rankwise: http://{args.host}:{args.port}/  "
          f"(API docs: http://{args.host}:{args.port}/api/docs/)", flush=True)
    try:
        status = supervisor.watch()
    finally:
        supervisor.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
