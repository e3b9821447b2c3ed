import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0008_revisions_and_response_flags"),
    ]

    operations = [
        migrations.AddField(
            model_name="response",
            name="synthetic",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="response",
            name="origin",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                related_name="revisions", to="annotation.response",
                help_text="The response this one revises (synthetic only)."),
        ),
    ]
