from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('judges', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='judgerun',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='judgerun',
            name='attempts',
            field=models.PositiveIntegerField(default=0),
        ),
    ]
