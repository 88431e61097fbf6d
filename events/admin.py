from django.contrib import admin
from django.utils import timezone
from leaflet.admin import LeafletGeoAdmin

from events.models import Event, Feed, Venue, archived_by


@admin.register(Venue)
class VenueAdmin(LeafletGeoAdmin):
    list_display = ("name", "aliases", "address")
    search_fields = ("name", "aliases", "address")


@admin.register(Feed)
class FeedAdmin(admin.ModelAdmin):
    list_display = ("source", "name", "last_run_at", "last_success_at", "last_error")
    readonly_fields = ("last_run_at", "last_success_at", "last_error", "last_summary")


@admin.register(Event)
class EventAdmin(LeafletGeoAdmin):
    list_display = ("title", "start", "end", "category", "district", "status", "retired_at")
    list_filter = ("status", "category", "feed", "district", "all_day")
    search_fields = ("title", "description", "venue_name", "uid")
    date_hierarchy = "start"
    readonly_fields = (
        "feed",
        "uid",
        "recurrence_key",
        "created_at",
        "updated_at",
        "retired_at",
        "archived",
    )

    def save_model(self, request, obj, form, change):
        # An event moved to a later date leaves the archive (and one moved back enters it).
        obj.archived = archived_by(end=obj.end, now=timezone.now())
        super().save_model(request, obj, form, change)
