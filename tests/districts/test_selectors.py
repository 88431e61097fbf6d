import json
import math

import pytest
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Point

from districts.models import District
from districts.selectors import district_for_point, districts_geojson, point_in_service_area

pytestmark = pytest.mark.django_db

# Well-known places (SOURCES.md "known-place checks") with the district each lies in.
KNOWN_PLACES = [
    ("Frauenkirche", 13.7416, 51.0519, "altstadt"),
    ("Albertplatz", 13.7476, 51.0632, "neustadt"),
    ("Alaunpark / Äußere Neustadt", 13.7535, 51.0655, "neustadt"),
    ("Blaues Wunder, Loschwitz side", 13.8100, 51.0540, "loschwitz"),
    ("Flughafen", 13.7669, 51.1328, "klotzsche"),
    ("Schloss Pillnitz", 13.8694, 51.0086, "loschwitz"),
    ("Jacob-Winter-Platz", 13.7960, 51.0060, "prohlis"),
    ("Merianplatz, Gorbitz", 13.6667, 51.0434, "cotta"),
]


def _fixture_features():
    path = settings.BASE_DIR / "fixtures" / "dresden_districts.geojson"
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def test_the_nineteen_dresden_districts_are_loaded():
    assert District.objects.count() == 19
    kinds = sorted(District.objects.values_list("kind", flat=True))
    assert kinds.count("Stadtbezirk") == 10 and kinds.count("Ortschaft") == 9


@pytest.mark.parametrize("feature", _fixture_features(), ids=lambda f: f["properties"]["name"])
def test_a_point_inside_each_district_routes_to_it(feature):
    # A point well inside the polygon as drawn in the source file (not from our database).
    polygon = GEOSGeometry(json.dumps(feature["geometry"]), srid=4326)
    inside = polygon.buffer(-0.001).point_on_surface
    assert district_for_point(point=inside).name == feature["properties"]["name"]


@pytest.mark.parametrize(("place", "lon", "lat", "code"), KNOWN_PLACES)
def test_known_places_route_to_their_district(place, lon, lat, code):
    assert district_for_point(point=Point(lon, lat, srid=4326)).code == code


def test_point_on_shared_border_gets_one_district_every_time():
    altstadt = District.objects.get(code="altstadt").boundary
    neustadt = District.objects.get(code="neustadt").boundary
    border = altstadt.intersection(neustadt)
    assert border.length > 0, "Altstadt and Neustadt share a border"
    # A vertex both polygons share lies exactly on the border, with no rounding involved.
    on_border = border.point_on_surface
    covering = list(District.objects.covering(on_border).values_list("code", flat=True))
    assert covering == ["altstadt", "neustadt"]
    assert {district_for_point(point=on_border).code for _ in range(5)} == {"altstadt"}


def test_point_on_border_of_squares_goes_to_the_lower_code(squares):
    assert district_for_point(point=Point(1, 0.5, srid=4326)).code == "a-west"
    assert district_for_point(point=Point(1.5, 0.5, srid=4326)).code == "b-east"


def test_service_area_is_the_city_of_dresden():
    assert point_in_service_area(point=Point(13.7416, 51.0519, srid=4326))
    assert not point_in_service_area(point=Point(13.405, 52.52, srid=4326))  # Berlin
    assert not point_in_service_area(point=Point(13.60, 51.20, srid=4326))  # Moritzburg side


def test_districts_geojson_is_built_by_postgis_and_simplified():
    collection = json.loads(districts_geojson())
    assert len(collection["features"]) == 19
    assert {f["properties"]["code"] for f in collection["features"]} >= {"neustadt", "weixdorf"}
    assert len(districts_geojson()) < 300_000  # the full-resolution file is 600 KB


@pytest.mark.parametrize("lat", [0.0, 51.05, 70.0])
def test_degree_radius_covers_the_metre_circle_in_every_direction(lat):
    from districts.geo import degrees_covering

    centre = Point(13.74, lat, srid=4326)
    radius = degrees_covering(point=centre, metres=500)
    centre_3857 = centre.transform(3857, clone=True)
    for bearing in range(0, 360, 15):
        # 500 m on the ground in each direction, via a local metric projection.
        scale = 1 / math.cos(math.radians(lat))  # Web Mercator stretches by 1/cos(lat)
        x = centre_3857.x + 500 * scale * math.sin(math.radians(bearing))
        y = centre_3857.y + 500 * scale * math.cos(math.radians(bearing))
        target = Point(x, y, srid=3857).transform(4326, clone=True)
        assert centre.distance(target) < radius
