import json
import shutil
import subprocess
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from districts.models import District
from districts.services import code_from_name

pytestmark = pytest.mark.django_db

DISTRICTS = settings.BASE_DIR / "fixtures" / "dresden_districts.geojson"


def _run(*args) -> str:
    out = StringIO()
    call_command("districts_import", *args, stdout=out)
    return out.getvalue()


def test_import_is_idempotent_by_code():
    before = dict(District.objects.values_list("code", "updated_at"))
    output = _run(
        str(DISTRICTS), "--kind-field", "art", "--parent-field", "stadtbezirk", "--commit"
    )
    assert "0 created, 0 updated, 19 unchanged." in output
    assert "[19/19]" in output
    assert dict(District.objects.values_list("code", "updated_at")) == before


def test_changed_name_is_updated_and_new_district_created(tmp_path):
    data = json.loads(DISTRICTS.read_text(encoding="utf-8"))
    data["features"] = data["features"][:2]
    data["features"][0]["properties"]["art"] = "Bezirk (geändert)"
    data["features"][1]["properties"]["name"] = "Neustadt-Nord"
    path = tmp_path / "two.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    output = _run(str(path), "--kind-field", "art", "--commit")
    assert "1 created, 1 updated, 0 unchanged." in output
    assert District.objects.get(code="altstadt").kind == "Bezirk (geändert)"
    assert District.objects.get(code="neustadt-nord").name == "Neustadt-Nord"


def test_dry_run_saves_nothing(tmp_path):
    District.objects.filter(code="weixdorf").delete()
    output = _run(str(DISTRICTS))
    assert "1 created" in output and "Dry run" in output
    assert not District.objects.filter(code="weixdorf").exists()


def test_codes_are_ascii_and_readable():
    assert code_from_name("Schönfeld-Weißig") == "schoenfeld-weissig"
    assert District.objects.filter(code="langebrueck").exists()


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="needs gdal-bin (installed by setup)")
def test_import_reprojects_a_geopackage_in_utm(tmp_path):
    gpkg = tmp_path / "utm.gpkg"
    subprocess.run(
        ["ogr2ogr", "-f", "GPKG", "-t_srs", "EPSG:25833", str(gpkg), str(DISTRICTS)], check=True
    )
    District.objects.filter(code="neustadt").update(name="wrong")
    _run(str(gpkg), "--commit")
    neustadt = District.objects.get(code="neustadt")
    assert neustadt.name == "Neustadt"
    assert neustadt.boundary.srid == 4326
    assert 13.7 < neustadt.boundary.centroid.x < 13.8 and 51.0 < neustadt.boundary.centroid.y < 51.1


def test_missing_file_fails_clearly():
    with pytest.raises(CommandError, match="Boundary file not found"):
        _run("/nonexistent/districts.geojson")


def test_points_layer_is_refused(tmp_path):
    path = tmp_path / "points.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "x"},
                        "geometry": {"type": "Point", "coordinates": [13.7, 51.0]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(CommandError, match="holds Point geometries; districts need polygons"):
        _run(str(path))


def test_missing_name_field_is_named_in_the_error():
    with pytest.raises(CommandError, match="has no field 'bezeichnung'.*Fields found: name"):
        _run(str(DISTRICTS), "--name-field", "bezeichnung")


def test_unreadable_file_fails_clearly(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text("{ this is not json", encoding="utf-8")
    with pytest.raises(CommandError, match="Cannot read"):
        _run(str(path))
