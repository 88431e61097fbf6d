from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from crews.models import Assignment, Crew, Responsibility


class ResponsibilityInline(admin.TabularInline):
    model = Responsibility
    extra = 1


@admin.register(Crew)
class CrewAdmin(LeafletGeoAdmin):
    list_display = ("code", "name", "email", "active")
    filter_horizontal = ("members",)
    inlines = [ResponsibilityInline]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("report", "crew", "due_at", "active", "assigned_at", "late_flagged_at")
    list_filter = ("active", "crew")
    raw_id_fields = ("report",)
