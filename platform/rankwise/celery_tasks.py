from celery import shared_task
from django.utils import timezone

from .models import WorkerHeartbeat


@shared_task(name="rankwise.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Record that a worker is alive (the broker is shared, so any worker may run it)."""
    hostname = heartbeat.request.hostname or "worker"
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"seen_at": timezone.now()}
    )
