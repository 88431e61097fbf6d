"""The city's address list: CSV import (dry run, idempotent, clear errors) and the street and
house-number search."""

from io import StringIO

import pytest
from django.contrib.gis.geos import Point
from django.core.management import CommandError, call_command

from districts.models import Address
from districts.selectors import address_search, district_choices, district_for_point

pytestmark = pytest.mark.django_db

CSV = """street,house_number,postcode,lat,lon
Alaunstraße,1,01099,51.0652,13.7530
Alaunstraße,2,01099,51.0653,13.7531
Alaunstraße,10,01099,51.0660,13.7537
Altmarkt,1,01067,51.0505,13.7383
"""


def _write(tmp_path, text: str, name: str = "adressen.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _import(path, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("districts_import_addresses", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_dry_run_saves_nothing(tmp_path):
    out, _ = _import(_write(tmp_path, CSV))
    assert "4 created" in out and "Dry run" in out
    assert not Address.objects.exists()


def test_import_gives_each_address_its_district_and_is_idempotent(tmp_path):
    path = _write(tmp_path, CSV)
    out, _ = _import(path, "--commit")
    assert "4 created, 0 updated, 0 unchanged, 0 rows skipped" in out
    alaun = Address.objects.get(street="Alaunstraße", house_number="1")
    assert alaun.district.name == "Neustadt"
    assert Address.objects.get(street="Altmarkt").district.name == "Altstadt"
    out, _ = _import(path, "--commit")
    assert "0 created, 0 updated, 4 unchanged" in out
    assert Address.objects.count() == 4
    # A moved position updates the address instead of adding one.
    _import(_write(tmp_path, CSV.replace("51.0505,13.7383", "51.0506,13.7384")), "--commit")
    assert Address.objects.count() == 4
    assert Address.objects.get(street="Altmarkt").location.y == pytest.approx(51.0506)


def test_german_columns_semicolons_and_decimal_commas(tmp_path):
    text = "Strasse;Hausnummer;PLZ;Breite;Laenge\nBautzner Straße;79;01099;51,0680;13,7579\n"
    out, _ = _import(_write(tmp_path, text), "--commit")
    assert "1 created" in out
    address = Address.objects.get()
    assert (address.street, address.house_number, address.postcode) == (
        "Bautzner Straße",
        "79",
        "01099",
    )
    assert address.location.x == pytest.approx(13.7579)


def test_bad_rows_are_reported_by_line_and_skipped(tmp_path):
    text = CSV + "Louisenstraße,5,01099,abc,13.75\nLouisenstraße,,01099,51.06,13.75\n"
    text += "Louisenstraße,7,01099,13.75,151.06\nLouisenstraße,8,01099,13.75,191.06\n"
    out, err = _import(_write(tmp_path, text), "--commit")
    assert "4 created" in out and "4 rows skipped" in out
    assert "line 6: latitude/longitude is not a number" in err
    assert "line 7: street or house number is empty" in err
    assert "line 8: (13.75, 151.06) lies in no district; lat/lon swapped?" in err
    assert "line 9: coordinates out of range" in err
    assert Address.objects.count() == 4


def test_missing_columns_or_file_are_clear_errors(tmp_path):
    with pytest.raises(CommandError, match="lacks the column.*lat.*Columns found: street"):
        _import(_write(tmp_path, "street,house_number,lon\nA,1,13.7\n"))
    with pytest.raises(CommandError, match="not found"):
        _import(tmp_path / "missing.csv")


def test_progress_is_printed(tmp_path):
    out, _ = _import(_write(tmp_path, CSV), "--progress-every", "2")
    assert "[2 rows] Alaunstraße 2" in out and "[4 rows] Altmarkt 1" in out


def test_search_by_street_prefix_abbreviation_and_house_number(tmp_path):
    _import(_write(tmp_path, CSV), "--commit")
    labels = lambda q: [str(a) for a in address_search(query=q)]  # noqa: E731
    assert labels("alaunstr") == [
        "Alaunstraße 1, 01099",
        "Alaunstraße 2, 01099",
        "Alaunstraße 10, 01099",
    ]
    assert labels("Alaunstr. 1") == ["Alaunstraße 1, 01099", "Alaunstraße 10, 01099"]
    assert labels("Alaunstraße 2") == ["Alaunstraße 2, 01099"]
    assert labels("Al") == []  # too short to search
    assert labels("Hauptstraße 1") == []


def test_district_choices_give_a_point_inside_each_district():
    choices = {c["code"]: c for c in district_choices()}
    assert len(choices) == 19
    neustadt = choices["neustadt"]
    inside = district_for_point(point=Point(neustadt["lon"], neustadt["lat"], srid=4326))
    assert inside.code == "neustadt"
