"""District boundaries as a coverage (shapely): the import refuses boundaries that gap or overlap,
naming the places, and the public map's outlines are simplified together, so neighbours still
share every edge at low zoom."""

import json
from io import StringIO

import pytest
import shapely
from django.conf import settings
from django.core.management import CommandError, call_command
from shapely.geometry import shape

from districts.coverage import coverage_problems
from districts.models import District
from districts.selectors import districts_geojson

pytestmark = pytest.mark.django_db

DISTRICTS = settings.BASE_DIR / "fixtures" / "dresden_districts.geojson"


def _features() -> list[dict]:
    return json.loads(DISTRICTS.read_text(encoding="utf-8"))["features"]


def _write(tmp_path, features: list[dict]) -> str:
    path = tmp_path / "districts.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return str(path)


def _changed(feature: dict, geometry) -> dict:
    return {**feature, "geometry": shapely.geometry.mapping(geometry)}


def test_dresden_boundaries_tile_the_city():
    named = [(f["properties"]["name"], shape(f["geometry"])) for f in _features()]
    assert coverage_problems(named) == []


def test_import_refuses_an_overlapping_pair_and_names_both(tmp_path):
    features = {f["properties"]["name"]: f for f in _features()}
    # Neustadt pushed 50 m south, over the Elbe into the Altstadt.
    neustadt = shapely.affinity.translate(shape(features["Neustadt"]["geometry"]), 0, -0.00045)
    pair = [features["Altstadt"], _changed(features["Neustadt"], neustadt)]
    before = District.objects.get(code="neustadt").boundary
    with pytest.raises(CommandError) as error:
        call_command("districts_import", _write(tmp_path, pair), "--commit", stdout=StringIO())
    message = str(error.value)
    assert "do not tile the area" in message
    assert "Altstadt / Neustadt do not meet exactly near 51.0" in message
    assert District.objects.get(code="neustadt").boundary.equals_exact(before, 1e-9)


def test_import_refuses_a_gap_and_names_the_districts_around_it(tmp_path):
    features = _features()
    # The Altstadt shrunk by about 30 m leaves a ring of no district around it.
    shrunk = [
        _changed(f, shape(f["geometry"]).buffer(-0.0003))
        if f["properties"]["name"] == "Altstadt"
        else f
        for f in features
    ]
    with pytest.raises(CommandError) as error:
        call_command("districts_import", _write(tmp_path, shrunk), stdout=StringIO())
    message = str(error.value)
    assert "gap between" in message
    assert "Neustadt" in message and "Plauen" in message


def test_public_outlines_are_simplified_together_without_gaps_or_overlaps():
    collection = json.loads(districts_geojson(tolerance=0.0005))
    outlines = [shape(f["geometry"]) for f in collection["features"]]
    assert len(outlines) == 19
    assert shapely.coverage_is_valid(outlines)
    assert sum(shapely.get_num_coordinates(outlines)) < 25_471 / 4  # the file has 25,471
    # Simplified one by one (as ST_SimplifyPreserveTopology per district did), neighbours would
    # no longer share their edges: gaps and overlaps at low zoom.
    one_by_one = [shape(f["geometry"]).simplify(0.0005) for f in _features()]
    assert not shapely.coverage_is_valid(one_by_one)
