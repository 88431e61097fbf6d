"""Place names: the nearest address within about 50 m (KNN), else its street, else the
district; stored on the report when it is made; typo-tolerant street search (pg_trgm)."""

import pytest
from django.contrib.gis.geos import Point
from django.utils import translation

from districts.models import Address
from districts.selectors import address_search, place_for_point, streets_similar
from reports.models import Report
from reports.services import report_create, reports_place_names_refresh

pytestmark = pytest.mark.django_db

# Alaunstraße 36 (Äußere Neustadt) and a neighbour 60 m further north along the street.
HOUSE = (51.06670, 13.75260)
# About 1 m north of one degree of latitude: 111 km, so 0.00018° ≈ 20 m.
M = 1 / 111_000


def _address(street: str, number: str, lat: float, lon: float) -> Address:
    return Address.objects.create(
        street=street, house_number=number, postcode="01099", location=Point(lon, lat, srid=4326)
    )


@pytest.fixture
def alaunstrasse():
    _address("Alaunstraße", "36", *HOUSE)
    _address("Alaunstraße", "42", HOUSE[0] + 60 * M, HOUSE[1])
    _address("Königsbrücker Straße", "12", 51.0690, 13.7500)


def test_nearest_address_within_50_m_names_the_place(alaunstrasse):
    place = place_for_point(point=Point(HOUSE[1], HOUSE[0] - 20 * M, srid=4326))
    assert (place.name, place.kind) == ("Alaunstraße 36", "address")
    assert place.meters == pytest.approx(20, abs=1)
    # Between the two houses, nearer the second: the second one.
    place = place_for_point(point=Point(HOUSE[1], HOUSE[0] + 40 * M, srid=4326))
    assert place.name == "Alaunstraße 42"


def test_beyond_50_m_the_street_and_beyond_150_m_the_district(alaunstrasse):
    place = place_for_point(point=Point(HOUSE[1], HOUSE[0] - 100 * M, srid=4326))
    assert (place.name, place.kind) == ("Alaunstraße", "street")
    far = place_for_point(point=Point(HOUSE[1], HOUSE[0] - 400 * M, srid=4326))
    assert (far.name, far.kind) == ("Neustadt", "district")


def test_without_any_address_the_district_names_the_place():
    assert place_for_point(point=Point(13.7383, 51.0505, srid=4326)).name == "Altstadt"


def test_a_new_report_stores_its_place_and_the_residents_language(alaunstrasse):
    with translation.override("en"):
        report, _ = report_create(
            category="litter", location=Point(HOUSE[1], HOUSE[0] + 5 * M, srid=4326)
        )
    report.refresh_from_db()
    assert report.place_name == "Alaunstraße 36"
    assert report.language == "en"
    with translation.override("de"):
        german, _ = report_create(category="litter", location=Point(13.7383, 51.0505, srid=4326))
    assert (german.place_name, german.language) == ("Altstadt", "de")


def test_refresh_names_older_reports_after_the_address_import():
    report, _ = report_create(category="litter", location=Point(HOUSE[1], HOUSE[0], srid=4326))
    assert report.place_name == "Neustadt"
    _address("Alaunstraße", "36", *HOUSE)
    assert reports_place_names_refresh() == [report.pk]
    assert Report.objects.get(pk=report.pk).place_name == "Alaunstraße 36"
    assert reports_place_names_refresh() == []  # idempotent


def test_place_names_command_writes_only_with_commit():
    from io import StringIO

    from django.core.management import call_command

    report, _ = report_create(category="litter", location=Point(HOUSE[1], HOUSE[0], srid=4326))
    _address("Alaunstraße", "36", *HOUSE)
    out = StringIO()
    call_command("reports_place_names", stdout=out)
    assert out.getvalue().startswith("1 reports would get a new place name.")
    assert Report.objects.get(pk=report.pk).place_name == "Neustadt"
    out = StringIO()
    call_command("reports_place_names", "--commit", stdout=out)
    assert out.getvalue().strip() == "1 reports got a new place name."
    assert Report.objects.get(pk=report.pk).place_name == "Alaunstraße 36"


def test_street_search_tolerates_typos(alaunstrasse):
    assert streets_similar(query="Königsbrüker Strase") == ["Königsbrücker Straße"]
    found = list(address_search(query="Alaunstrase 36"))
    assert [str(a) for a in found] == ["Alaunstraße 36, 01099"]
    # The exact prefix search still answers first.
    assert [a.house_number for a in address_search(query="Alaunstr.")] == ["36", "42"]
    assert list(address_search(query="Xyzzy 1")) == []
