"""The worker process that holds a running run (hostname + pid of its heartbeat row)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('training', '0002_modelversion_kind'),
    ]

    operations = [
        migrations.AddField(
            model_name='trainingrun',
            name='worker_hostname',
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='worker_pid',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
    ]
