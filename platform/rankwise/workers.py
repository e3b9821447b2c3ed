"""Worker processes: which are alive, what each one holds, when queued work is sent again.

Every worker process (a worker's main process and each of its prefork children) writes its
own ``WorkerHeartbeat`` row, keyed by the worker's name and the process id, from a small
daemon thread: :func:`start_heartbeat`, called on Celery's ``worker_ready`` and
``worker_process_init`` signals (``rankwise.celery_tasks``), writes at once and then every
``WORKER_HEARTBEAT_INTERVAL`` seconds. It needs no broker and no beat.

A process that claims background work records itself as its holder: a training run on its
own row (``worker_hostname``, ``worker_pid``), an import job in the ``holding`` list of the
process's heartbeat row (:func:`holding`). A holder whose row has not been written for
``WORKER_LOST_AFTER`` seconds is lost (killed, out of memory, its machine gone), and the
apps' sweeps fail or requeue what it held, long before the broker would deliver its message
again (Redis: after the 6-hour visibility timeout).

A queued row that no worker started (the broker was down when its message was sent) is sent
again by the same sweeps, when :func:`resend_due` says so. Claims are idempotent, so a
duplicate message is a no-op.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connection
from django.utils import timezone

from .models import WorkerHeartbeat

log = logging.getLogger(__name__)

PRUNE_AFTER = timedelta(days=1)
RESEND_MAX_INTERVAL_S = 30 * 60


@dataclass(frozen=True)
class Worker:
    hostname: str  # the worker's name, e.g. "training@gpu-1"
    pid: int


_lock = threading.Lock()
# By pid: a forked pool process inherits these dicts but is a worker of its own.
_started: dict[int, Worker] = {}
_held: dict[int, set[str]] = {}


def this_worker() -> Worker | None:
    """This process's identity if it beats (a Celery worker process), else None."""
    return _started.get(os.getpid())


def lost_before(now: datetime | None = None) -> datetime:
    """Heartbeats older than this belong to lost processes."""
    return (now or timezone.now()) - timedelta(seconds=settings.WORKER_LOST_AFTER)


def beat(worker: Worker, *, now: datetime | None = None) -> None:
    """Write the process's row: seen now, holding what it holds now."""
    # The lock keeps a write with an older ``holding`` from landing after a newer one.
    with _lock:
        held = sorted(_held.get(worker.pid, ()))
        WorkerHeartbeat.objects.update_or_create(
            hostname=worker.hostname, pid=worker.pid,
            defaults={"seen_at": now or timezone.now(), "holding": held},
        )


def _beat_forever(worker: Worker, interval: float) -> None:
    while True:
        try:
            close_old_connections()
            beat(worker)
        except Exception:
            # The database may be restarting: beat again later on a fresh connection.
            log.warning("heartbeat of %s (pid %s) failed", worker.hostname, worker.pid,
                        exc_info=True)
            connection.close()
        time.sleep(interval)


def start_heartbeat(hostname: str) -> Worker:
    """Start this process's heartbeat thread (once per process) and return its identity."""
    pid = os.getpid()
    with _lock:
        worker = _started.get(pid)
        if worker is not None:
            return worker
        worker = _started[pid] = Worker(hostname=str(hostname), pid=pid)
        _held[pid] = set()
    threading.Thread(target=_beat_forever, name="rankwise-heartbeat", daemon=True,
                     args=(worker, float(settings.WORKER_HEARTBEAT_INTERVAL))).start()
    return worker


@contextmanager
def holding(key: str) -> Iterator[None]:
    """Record in this process's heartbeat row that it holds ``key`` while the block runs
    (nothing outside a worker process, which has no row)."""
    worker = this_worker()
    if worker is None:
        yield
        return
    with _lock:
        _held[worker.pid].add(key)
    beat(worker)
    try:
        yield
    finally:
        with _lock:
            _held[worker.pid].discard(key)
        try:
            beat(worker)
        except Exception:
            log.warning("could not record that %s released %s", worker.hostname, key,
                        exc_info=True)


def last_seen(*, hostname: str, pid: int | None) -> datetime | None:
    """When the process last wrote its heartbeat (None: it never did, or long ago)."""
    row = WorkerHeartbeat.objects.filter(hostname=hostname, pid=pid).only("seen_at").first()
    return row.seen_at if row is not None else None


def holders() -> dict[str, datetime]:
    """Each held key with the newest heartbeat of a process that holds it."""
    newest: dict[str, datetime] = {}
    for seen_at, held in WorkerHeartbeat.objects.values_list("seen_at", "holding"):
        for key in held or ():
            if key not in newest or newest[key] < seen_at:
                newest[key] = seen_at
    return newest


def check_in(hostname: str) -> None:
    """Beat's heartbeat task: the row of the process that ran it, and the rows of
    processes gone for a day are removed."""
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(hostname=hostname, pid=os.getpid(),
                                             defaults={"seen_at": now})
    WorkerHeartbeat.objects.filter(seen_at__lt=now - PRUNE_AFTER).delete()


def resend_due(key: str, *, queued_at: datetime, now: datetime | None = None) -> bool:
    """Whether to send again the message of work queued at ``queued_at`` that no worker
    has started: ``RESEND_AFTER`` seconds after it was queued, then after 2, 4, 8, ...
    times that (at most every 30 minutes), so that a long queue is not flooded with
    duplicates. The cache remembers the resends; a cache that forgot costs one resend."""
    now = now or timezone.now()
    first = float(settings.RESEND_AFTER)
    if (now - queued_at).total_seconds() < first:
        return False
    name = f"rankwise:resend:{key}"
    try:
        count, at = cache.get(name) or (0, None)
    except Exception:
        return True  # the cache is down; the send will say whether the broker is too
    if at is not None and now.timestamp() - at < min(first * 2 ** count, RESEND_MAX_INTERVAL_S):
        return False
    try:
        cache.set(name, (count + 1, now.timestamp()), timeout=int(PRUNE_AFTER.total_seconds()))
    except Exception:
        log.warning("could not remember the resend of %s", key, exc_info=True)
    return True
