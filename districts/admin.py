from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from districts.models import District, ServiceArea


@admin.register(District)
class DistrictAdmin(LeafletGeoAdmin):
    list_display = ("name", "code", "kind", "parent_name")
    search_fields = ("name", "code")


@admin.register(ServiceArea)
class ServiceAreaAdmin(LeafletGeoAdmin):
    list_display = ("name", "code")
