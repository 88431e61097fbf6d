from django.contrib.gis.db import models
from django.contrib.gis.geos import Point
from django.contrib.postgres.indexes import GinIndex
from django.db.models.functions import Upper

# How districts are cut into DistrictParts: first along a grid of 1/PART_CELLS_PER_DEGREE degree
# cells (about 0.7 x 1.1 km in Dresden), then each cell's piece by `ST_Subdivide` into parts of at
# most PART_MAX_VERTICES vertices. Small parts make a point-in-polygon test cheap and their boxes
# tight (the create path's index lookup); the grid cell lets a bulk re-route find a point's parts
# by arithmetic and a hash join instead of one index probe per point, and skip the
# point-in-polygon test where a district covers the whole cell. The migrations that fill the
# parts (and the trigger) use the same numbers.
PART_MAX_VERTICES = 64
PART_CELLS_PER_DEGREE = 100


class DistrictQuerySet(models.QuerySet):
    def covering(self, point: Point) -> "DistrictQuerySet":
        # The one definition of "which district covers this point"; callers use
        # `districts.selectors.district_for_point`, which runs this query compiled once.
        # `covers`, not `contains`: a point exactly on a shared border still gets a district,
        # and ordering by code makes the choice between the two neighbours stable. The test runs
        # on the subdivided parts (same answer as the full boundary: the parts tile it exactly);
        # `pk__in` keeps a district once when two of its parts touch the point.
        parts = DistrictPart.objects.filter(geom__covers=point).values("district_id")
        return self.filter(pk__in=parts).order_by("code")


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


class DistrictPart(models.Model):
    """A piece of a district's boundary with at most PART_MAX_VERTICES vertices.

    Derived data, kept by the database: a trigger on districts_district (migration 0004)
    replaces a district's parts whenever its boundary is inserted or changed, whatever writes
    it (import, admin, ORM). Routing a point tests these small parts instead of the full
    polygons (thousands of vertices each).
    """

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="parts")
    geom = models.PolygonField(srid=4326, spatial_index=True)
    # The grid cell the part lies in: floor(lon * PART_CELLS_PER_DEGREE), floor(lat * ...).
    cell_x = models.IntegerField(default=0)
    cell_y = models.IntegerField(default=0)
    # True when the district covers the whole cell (the part is the cell itself).
    whole_cell = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["cell_x", "cell_y"], name="districtpart_cell_idx")]

    def __str__(self) -> str:
        return f"part {self.pk} of district {self.district_id}"


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
            # Street search that tolerates typos ("Königsbrüker Strase"): pg_trgm's `%`.
            GinIndex(fields=["street"], opclasses=["gin_trgm_ops"], name="address_street_trgm_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.street} {self.house_number}, {self.postcode}".rstrip(", ")
