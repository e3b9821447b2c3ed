from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per worker process: its worker's name and its pid. The process's heartbeat
    thread writes it every few seconds (``rankwise.workers``), and so does beat's heartbeat
    task in whichever process runs it. /healthz reads the newest; the sweeps read a holder's
    row to tell a live worker from a lost one."""

    hostname = models.CharField(max_length=255, help_text="The worker's name (celery -n).")
    pid = models.PositiveIntegerField(null=True, blank=True)
    seen_at = models.DateTimeField()
    holding = models.JSONField(
        null=True, blank=True,
        help_text='What the process is running now, e.g. ["import_job:<id>"].',
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hostname", "pid"], name="worker_heartbeat_process"),
        ]

    def __str__(self) -> str:
        return f"{self.hostname} pid {self.pid} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
