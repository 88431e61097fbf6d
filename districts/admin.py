from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from districts.models import Address, District, ServiceArea


@admin.register(District)
class DistrictAdmin(LeafletGeoAdmin):
    list_display = ("name", "code", "kind", "parent_name")
    search_fields = ("name", "code")


@admin.register(ServiceArea)
class ServiceAreaAdmin(LeafletGeoAdmin):
    list_display = ("name", "code")


@admin.register(Address)
class AddressAdmin(LeafletGeoAdmin):
    list_display = ("street", "house_number", "postcode", "district")
    list_filter = ("district",)
    search_fields = ("street", "postcode")
    list_select_related = ("district",)
