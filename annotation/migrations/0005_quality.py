
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

OLD_DECISIONS = {"reject": "exclude", "fix": "rank"}


def reviews_of_items(apps, schema_editor):
    """Reviews used to hang off one annotation; now they belong to the item (and name the
    annotation where the decision is about one)."""
    Review = apps.get_model("annotation", "Review")
    for review in Review.objects.select_related("annotation").iterator():
        review.item_id = review.annotation.item_id
        review.decision = OLD_DECISIONS.get(review.decision, review.decision)
        review.save(update_fields=["item", "decision"])


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0004_import_jobs'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Consensus',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('method', models.CharField(choices=[('majority', 'Majority'), ('bradley_terry', 'Bradley Terry'), ('dawid_skene', 'Dawid Skene')], max_length=16)),
                ('ranking', models.JSONField(help_text='Tiers of response ids, best first.')),
                ('confidence', models.FloatField(help_text="0..1; 1.0 for a reviewer's decision.")),
                ('agreement', models.FloatField(blank=True, help_text='Share of human pair votes equal to the consensus (two or more labels).', null=True)),
                ('n_labels', models.PositiveIntegerField(default=0)),
                ('source', models.CharField(choices=[('labels', 'Labels'), ('review', 'Review')], default='labels', max_length=8)),
                ('fingerprint', models.CharField(max_length=64)),
                ('computed_at', models.DateTimeField()),
            ],
        ),
        migrations.RenameField(
            model_name='review',
            old_name='corrected_ranking',
            new_name='ranking',
        ),
        migrations.AddField(
            model_name='annotation',
            name='excluded',
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name='membership',
            name='paused_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='membership',
            name='paused_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='project',
            name='quality_computed_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='membership',
            name='resumed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='membership',
            name='paused_reason',
            field=models.TextField(blank=True, db_default='', default=''),
        ),
        migrations.AddField(
            model_name='review',
            name='item',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='reviews', to='annotation.item'),
        ),
        migrations.AlterField(
            model_name='review',
            name='ranking',
            field=models.JSONField(blank=True, help_text='Tiers of response ids, best first: the decided ranking (not for exclude).', null=True),
        ),
        migrations.RunPython(reviews_of_items, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='review',
            name='item',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reviews', to='annotation.item'),
        ),
        migrations.AlterField(
            model_name='review',
            name='annotation',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='reviews', to='annotation.annotation'),
        ),
        migrations.AlterField(
            model_name='review',
            name='decision',
            field=models.CharField(choices=[('accept', "accept one annotator's ranking"), ('rank', "the reviewer's own ranking"), ('gold', 'promote to gold with this answer'), ('exclude', 'leave one label out')], max_length=16),
        ),
        migrations.AddIndex(
            model_name='review',
            index=models.Index(fields=['item', '-id'], name='review_item_idx'),
        ),
        migrations.AddField(
            model_name='consensus',
            name='item',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='consensus', to='annotation.item'),
        ),
        migrations.AddField(
            model_name='consensus',
            name='project',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='consensus', to='annotation.project'),
        ),
        migrations.AddIndex(
            model_name='consensus',
            index=models.Index(fields=['project', 'method'], name='consensus_project_idx'),
        ),
        migrations.AddConstraint(
            model_name='consensus',
            constraint=models.UniqueConstraint(fields=('item', 'method'), name='consensus_unique_method'),
        ),
    ]
