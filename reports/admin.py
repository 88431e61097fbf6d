from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from reports.models import Category, OutboxItem, Report, ReportEvent, ReportFlag, ReportPhoto


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name_de", "name_en", "deadline_amount", "deadline_unit", "active")
    list_filter = ("active",)


class ReportPhotoInline(admin.TabularInline):
    model = ReportPhoto
    extra = 0
    fields = ("kind", "state", "public_image", "thumbnail", "taken_at")
    readonly_fields = fields


class ReportEventInline(admin.TabularInline):
    model = ReportEvent
    extra = 0
    fields = ("created_at", "kind", "actor", "from_status", "to_status", "note", "public")
    readonly_fields = fields
    can_delete = False


class ReportFlagInline(admin.TabularInline):
    model = ReportFlag
    extra = 0
    fields = ("created_at", "kind", "reason", "resolved_at", "resolved_by")
    readonly_fields = ("created_at",)


@admin.register(Report)
class ReportAdmin(LeafletGeoAdmin):
    list_display = ("id", "category", "status", "district", "due_at", "created_at")
    list_filter = ("status", "category", "district")
    search_fields = ("id", "description", "address")
    readonly_fields = ("tracking_token", "version", "created_at", "updated_at", "closed_at")
    inlines = [ReportFlagInline, ReportPhotoInline, ReportEventInline]


@admin.register(OutboxItem)
class OutboxItemAdmin(admin.ModelAdmin):
    """Work still to do after a commit (reports.outbox): what is pending, and why it failed."""

    list_display = ("id", "kind", "report", "attempts", "run_after", "done_at", "created_at")
    list_filter = ("kind", ("done_at", admin.EmptyFieldListFilter))
    readonly_fields = ("kind", "report", "payload", "attempts", "done_at", "last_error")
    search_fields = ("kind", "last_error")
