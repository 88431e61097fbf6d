from django.contrib.gis.db import models
from django.contrib.gis.geos import Point


class DistrictQuerySet(models.QuerySet):
    def covering(self, point: Point) -> "DistrictQuerySet":
        # `covers`, not `contains`: a point exactly on a shared border still gets a district,
        # and ordering by code makes the choice between the two neighbours stable.
        return self.filter(boundary__covers=point).order_by("code")


class District(models.Model):
    """A routing area (Stadtbezirk or Ortschaft in Dresden)."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=50, blank=True, help_text="e.g. Stadtbezirk, Ortschaft")
    parent_name = models.CharField(max_length=200, blank=True)
    boundary = models.MultiPolygonField(srid=4326, spatial_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DistrictQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServiceArea(models.Model):
    """The area a city serves (e.g. the city boundary). Points outside it are refused."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    boundary = models.MultiPolygonField(srid=4326, spatial_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name
