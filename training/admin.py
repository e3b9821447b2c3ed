"""Admin pages of the registry: training runs and model versions of every kind."""

from django.contrib import admin

from .models import ModelVersion, TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "kind", "status", "progress", "triggered_by", "created_at",
                    "finished_at"]
    list_filter = ["kind", "status", "triggered_by"]
    raw_id_fields = ["project", "requested_by"]
    readonly_fields = ["loss_curve", "metrics", "traceback", "celery_task_id", "worker_hostname",
                       "worker_pid", "data_until", "n_comparisons", "created_at", "updated_at",
                       "started_at", "finished_at"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "kind", "version", "is_active", "accuracy", "created_at"]
    list_filter = ["kind", "is_active"]
    raw_id_fields = ["project", "training_run"]
    readonly_fields = ["metrics", "config", "data_fingerprint", "eval_split", "artifact_path",
                       "created_at", "activated_at"]

    @admin.display(description="eval accuracy")
    def accuracy(self, obj: ModelVersion):
        return obj.metrics.get("accuracy")
