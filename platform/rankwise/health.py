"""``/healthz``: is the database up, is the broker reachable, has a worker checked in?

Every worker process writes its own heartbeat row (:mod:`rankwise.workers`); the newest
says whether a worker is alive, and ``processes`` counts those seen within the max age."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from .celery import app as celery_app
from .models import WorkerHeartbeat


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok", "engine": connection.vendor}
    except Exception as exc:  # any driver error means "down"; the message says why
        return {"status": "error", "error": str(exc)[:200]}


def _broker() -> dict:
    kind = "redis" if settings.REDIS_URL else "filesystem"
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"status": "ok", "transport": kind}
    except Exception as exc:
        return {"status": "error", "transport": kind, "error": str(exc)[:200]}


def _worker() -> dict:
    since = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_MAX_AGE)
    try:
        newest = WorkerHeartbeat.objects.order_by("-seen_at").first()
        processes = WorkerHeartbeat.objects.filter(seen_at__gte=since).count()
    except Exception as exc:
        return {"status": "unknown", "error": str(exc)[:200]}
    if newest is None:
        return {"status": "down", "last_seen": None, "processes": 0}
    return {
        "status": "ok" if newest.seen_at >= since else "down",
        "last_seen": newest.seen_at.isoformat(),
        "hostname": newest.hostname,
        "processes": processes,
    }


@require_GET
def healthz(request):
    checks = {"database": _database(), "broker": _broker(), "worker": _worker()}
    # The web tier is healthy when it can serve: database and broker. A missing worker is
    # reported (background work queues up) but does not take the web process out of rotation.
    healthy = checks["database"]["status"] == "ok" and checks["broker"]["status"] == "ok"
    body = {"status": "ok" if healthy else "error", **checks}
    return JsonResponse(body, status=200 if healthy else 503)
