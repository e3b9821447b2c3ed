"""One heartbeat row per worker process (worker name + pid) instead of one per worker name,
with what the process holds: the sweeps tell a lost process from a live one."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('rankwise', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='workerheartbeat',
            name='holding',
            field=models.JSONField(blank=True, help_text='What the process is running now, e.g. ["import_job:<id>"].', null=True),
        ),
        migrations.AddField(
            model_name='workerheartbeat',
            name='pid',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='workerheartbeat',
            name='hostname',
            field=models.CharField(help_text="The worker's name (celery -n).", max_length=255),
        ),
        migrations.AddConstraint(
            model_name='workerheartbeat',
            constraint=models.UniqueConstraint(fields=('hostname', 'pid'), name='worker_heartbeat_process'),
        ),
    ]
