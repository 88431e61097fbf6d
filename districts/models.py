from django.contrib.gis.db import models
from django.contrib.gis.geos import Point
from django.db.models.functions import Upper


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


class Address(models.Model):
    """A postal address with a position, from the city's address list (for people who cannot
    use the map: street and house-number search)."""

    street = models.CharField(max_length=200)
    house_number = models.CharField(max_length=20)
    postcode = models.CharField(max_length=10, blank=True)
    location = models.PointField(srid=4326, spatial_index=True)
    district = models.ForeignKey(
        District, on_delete=models.SET_NULL, null=True, blank=True, related_name="addresses"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["street", "house_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["street", "house_number", "postcode"], name="address_unique"
            )
        ]
        indexes = [
            # Street search compares UPPER(street) (`iexact`, `istartswith`).
            models.Index(Upper("street"), name="address_street_upper_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.street} {self.house_number}, {self.postcode}".rstrip(", ")
