"""One registry table for every model kind: ``RewardModelVersion`` becomes ``ModelVersion``
with a ``kind`` (existing rows are reward models), and its constraints count per project
and kind. Artifact paths are unchanged, so published reward models keep working."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('training', '0001_initial'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='rewardmodelversion',
            name='reward_model_unique_version',
        ),
        migrations.RemoveConstraint(
            model_name='rewardmodelversion',
            name='reward_model_one_active',
        ),
        migrations.RenameModel(
            old_name='RewardModelVersion',
            new_name='ModelVersion',
        ),
        migrations.AddField(
            model_name='modelversion',
            name='kind',
            field=models.CharField(choices=[('reward', 'Reward'), ('policy', 'Policy')], default='reward', max_length=16),
        ),
        migrations.AlterField(
            model_name='modelversion',
            name='version',
            field=models.PositiveIntegerField(help_text='Counted per project and kind.'),
        ),
        migrations.AlterField(
            model_name='modelversion',
            name='project',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='model_versions', to='annotation.project'),
        ),
        migrations.AlterField(
            model_name='modelversion',
            name='training_run',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='model_version', to='training.trainingrun'),
        ),
        migrations.AddConstraint(
            model_name='modelversion',
            constraint=models.UniqueConstraint(fields=('project', 'kind', 'version'), name='model_version_unique_number'),
        ),
        migrations.AddConstraint(
            model_name='modelversion',
            constraint=models.UniqueConstraint(condition=models.Q(('is_active', True)), fields=('project', 'kind'), name='model_version_one_active'),
        ),
    ]
