from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("judges", "0003_verdict_order"),
    ]

    operations = [
        migrations.AddField(
            model_name="judgerun",
            name="kind",
            field=models.CharField(choices=[("judge", "Judge"), ("revise", "Revise")],
                                   default="judge", max_length=8),
        ),
        migrations.AddField(
            model_name="judgerun",
            name="rounds",
            field=models.PositiveSmallIntegerField(
                default=1, help_text="Critique-and-revise rounds per response (revise runs)."),
        ),
    ]
