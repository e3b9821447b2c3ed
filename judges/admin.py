"""Admin pages of the judges: constitutions, judges and their runs; verdicts are read-only
(each backs an AI label and records what the model answered, so it is never edited)."""

from django.contrib import admin

from .models import Constitution, Judge, JudgeRun, JudgeVerdict


@admin.register(Constitution)
class ConstitutionAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "version", "created_by", "created_at"]
    raw_id_fields = ["project", "created_by"]
    readonly_fields = ["created_at"]


@admin.register(Judge)
class JudgeAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "name", "backend", "model", "principles", "created_at"]
    list_filter = ["backend", "principles"]
    search_fields = ["name", "model"]
    raw_id_fields = ["project", "created_by"]
    readonly_fields = ["created_at"]


@admin.register(JudgeRun)
class JudgeRunAdmin(admin.ModelAdmin):
    list_display = ["id", "judge", "status", "progress", "n_items", "n_judged", "attempts",
                    "created_at", "finished_at"]
    list_filter = ["status"]
    raw_id_fields = ["judge", "created_by"]
    readonly_fields = ["item_ids", "estimate", "progress", "n_items", "n_judged",
                       "n_unparseable", "n_skipped", "error", "attempts", "heartbeat_at",
                       "created_at", "started_at", "finished_at"]


@admin.register(JudgeVerdict)
class JudgeVerdictAdmin(admin.ModelAdmin):
    list_display = ["id", "judge", "run", "item", "principle", "constitution_version",
                    "verdict", "preference", "created_at"]
    list_filter = ["verdict"]
    search_fields = ["principle", "raw"]
    list_select_related = ["judge"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
