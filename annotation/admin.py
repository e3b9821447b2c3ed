from django.contrib import admin

from .models import (
    Acknowledgement,
    Annotation,
    Assignment,
    AuditLog,
    Consensus,
    Guideline,
    ImportJob,
    Item,
    Membership,
    Project,
    Response,
    Review,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "responses_per_item", "overlap", "gold_rate", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "user", "role", "status"]
    list_filter = ["role", "status"]
    raw_id_fields = ["user", "project"]


@admin.register(Guideline)
class GuidelineAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "version", "created_at"]


@admin.register(Acknowledgement)
class AcknowledgementAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "guideline", "created_at"]
    raw_id_fields = ["user", "guideline"]


class ResponseInline(admin.TabularInline):
    model = Response
    extra = 0


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "is_gold", "annotations_done", "leases_live", "created_at"]
    list_filter = ["is_gold", "project"]
    search_fields = ["prompt", "content_hash"]
    inlines = [ResponseInline]


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "position", "model"]
    raw_id_fields = ["item"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "item", "annotator", "status", "lease_expires_at", "reason"]
    list_filter = ["status"]
    raw_id_fields = ["item", "annotator", "project"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "item", "annotator", "source", "created_at"]
    list_filter = ["source"]
    raw_id_fields = ["item", "annotator", "assignment", "project"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "annotation", "reviewer", "decision", "created_at"]
    list_filter = ["decision"]
    raw_id_fields = ["item", "annotation", "reviewer"]


@admin.register(Consensus)
class ConsensusAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "item", "method", "confidence", "source", "computed_at"]
    list_filter = ["method", "source"]
    raw_id_fields = ["project", "item"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "status", "format", "labels", "created_by", "created_at",
                    "finished_at"]
    list_filter = ["status", "format"]
    raw_id_fields = ["project", "created_by"]
    # What the worker recorded; editing it would only make the record lie.
    readonly_fields = ["result", "errors", "detail", "upload_name", "created_at", "started_at",
                       "finished_at"]


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "project", "actor", "action", "target_type", "target_id"]
    list_filter = ["action"]
    readonly_fields = [f.name for f in AuditLog._meta.fields]

    def has_change_permission(self, request, obj=None):
        return False
