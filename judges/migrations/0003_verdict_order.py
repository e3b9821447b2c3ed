from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('judges', '0002_judgerun_heartbeat_attempts'),
    ]

    operations = [
        migrations.AddField(
            model_name='judgeverdict',
            name='swapped',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='judgeverdict',
            name='order_preferences',
            field=models.JSONField(blank=True, null=True),
        ),
    ]
