"""Resident pages on the server side: the public map and its GeoJSON, the report form, the
tracking page with its "not fixed" rule and the public report page."""

import re
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from crews.services import report_dispatch
from reports.models import Report, ReportFlag
from reports.photos import PHOTO_NOT_AN_IMAGE
from reports.services import report_create, report_transition
from tests.conftest import NEUSTADT_POINT, jpeg_bytes, upload

pytestmark = pytest.mark.django_db
S = Report.Status
CONTACT = ("anwohnerin@example.org", "Erika Muster", "0351 123456")


def _report(category="litter", point=NEUSTADT_POINT, **fields) -> Report:
    report, _ = report_create(
        category=category,
        location=point,
        description="Müll am Eck",
        email=CONTACT[0],
        reporter_name=CONTACT[1],
        reporter_phone=CONTACT[2],
        **fields,
    )
    report_dispatch(report=report)
    report.refresh_from_db()
    return report


def _clear(report: Report, days_ago: float = 0) -> Report:
    report = report_transition(report=report, to=S.CLEARED, note="Beseitigt.")
    Report.objects.filter(pk=report.pk).update(closed_at=timezone.now() - timedelta(days=days_ago))
    report.refresh_from_db()
    return report


def _ids(client) -> set[int]:
    body = client.get("/map/reports.geojson").json()
    return {feature["properties"]["id"] for feature in body["features"]}


def test_map_data_has_open_and_recently_cleared_reports_only(client):
    open_report = _report()
    recent = _clear(_report(), days_ago=29)
    old = _clear(_report(), days_ago=31)
    rejected = report_transition(report=_report(), to=S.REJECTED, note="Privatgrund")
    ids = _ids(client)
    assert open_report.pk in ids and recent.pk in ids
    assert old.pk not in ids and rejected.pk not in ids


def test_map_data_is_geojson_with_popup_fields_and_no_contact_data(client):
    report = _report()
    response = client.get("/map/reports.geojson", headers={"Accept-Language": "de"})
    assert response.status_code == 200
    feature = response.json()["features"][0]
    assert feature["geometry"]["coordinates"] == pytest.approx([NEUSTADT_POINT.x, NEUSTADT_POINT.y])
    props = feature["properties"]
    assert props["id"] == report.pk and props["url"] == f"/reports/{report.pk}/"
    assert props["category"] == "Vermüllte Stelle" and props["status_label"] == "zugewiesen"
    assert props["district"] == "Neustadt" and props["due"]
    text = response.content.decode()
    assert not any(value in text for value in (*CONTACT, report.tracking_token))
    english = client.get("/map/reports.geojson", headers={"Accept-Language": "en"}).json()
    assert english["features"][0]["properties"]["category"] == "Littered place"


def test_map_data_is_one_query_however_many_reports(client, django_assert_max_num_queries):
    for _ in range(5):
        _report()
    with django_assert_max_num_queries(4):  # session/auth may add some; the reports are one
        assert len(_ids(client)) == 5


def test_home_lists_reports_below_the_map_with_local_assets_only(client):
    report = _report()
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"#{report.pk}" in html and f'href="/reports/{report.pk}/"' in html
    # Every script and stylesheet is served by the app (folium's CDN URLs replaced).
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert assets and all(url.startswith("/") for url in assets), assets
    assert "leaflet.markercluster-1.5.3/leaflet.markercluster.js" in html
    assert "user-scalable=no" not in html
    assert "opendata.dresden.de" in html and "Datenlizenz Deutschland" in html
    assert CONTACT[0] not in html


def test_home_page_size_does_not_grow_with_the_number_of_reports(client):
    for _ in range(3):
        _report()
    small = len(client.get("/").content)
    for number in range(60):
        _report(point=Point(13.70 + number * 0.001, 51.05, srid=4326))
    big = client.get("/")
    assert big.context["page"].paginator.count == 63
    assert len(big.context["page"].object_list) == 50  # the list is paged
    assert len(big.content) < small + 50 * 1500
    second = client.get("/?page=2")
    assert len(second.context["page"].object_list) == 13


def test_pages_are_german_by_default_and_english_on_request(client, settings):
    settings.LANGUAGE_CODE = "de"
    german = client.get("/report/new/").content.decode()
    assert '<html lang="de">' in german and "Problem melden" in german
    assert "Vermüllte Stelle" in german
    english = client.get("/report/new/", headers={"Accept-Language": "en"}).content.decode()
    assert '<html lang="en">' in english and "Report a problem" in english
    assert "Littered place" in english
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Report a problem" in client.get("/report/new/").content.decode()


def test_report_form_lists_categories_districts_and_the_api_it_uses(client):
    response = client.get("/report/new/")
    assert response.status_code == 200
    html = response.content.decode()
    for code in ("litter", "bulky_waste", "glass", "graffiti"):
        assert f'value="{code}"' in html
    assert 'capture="environment"' in html
    assert 'value="neustadt"' in html  # the part-of-town choice
    config = response.context["config"]
    assert config["api"]["submit"] == "/api/v1/reports/"
    assert config["api"]["route"] == "/api/v1/route/"
    assert 'id="address-q"' not in html  # no address list loaded: no address search


def test_public_report_page_has_no_contact_data_and_only_public_photo_copies(client):
    report = _report(photos=[upload(jpeg_bytes())])
    from reports.services import report_photo_process

    photo = report.photos.get()
    report_photo_process(photo_id=photo.pk)
    photo.refresh_from_db()
    html = client.get(f"/reports/{report.pk}/").content.decode()
    assert "Müll am Eck" in html and "Neustadt" in html
    assert not any(value in html for value in (*CONTACT, report.tracking_token))
    assert photo.thumbnail.url in html and photo.public_image.url in html
    assert photo.original.name not in html
    assert client.get("/reports/999999/").status_code == 404


def test_tracking_page_shows_history_and_due_date(client):
    report = _report()
    response = client.get(f"/r/{report.tracking_token}/?new=1")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert report.tracking_token in html  # the link to keep
    assert response.context["report"].due_at
    assert [e.kind for e in response.context["events"]] == ["created", "assigned"]
    assert 'name="note"' not in html  # nothing to reopen while it is open
    assert client.get("/r/not-a-token/").status_code == 404


def test_not_fixed_button_only_within_14_days_of_clearing(client):
    fresh = _clear(_report(), days_ago=13.9)
    stale = _clear(_report(), days_ago=14.1)
    assert 'name="note"' in client.get(f"/r/{fresh.tracking_token}/").content.decode()
    assert 'name="note"' not in client.get(f"/r/{stale.tracking_token}/").content.decode()
    refused = client.post(f"/r/{stale.tracking_token}/", {"note": "Noch da"})
    assert refused.status_code == 400
    stale.refresh_from_db()
    assert stale.status == S.CLEARED


def test_not_fixed_reopens_and_flags_for_the_dispatchers(client):
    report = _clear(_report())
    url = f"/r/{report.tracking_token}/"
    empty = client.post(url, {"note": ""})
    assert empty.status_code == 400
    assert "what is still wrong" in empty.content.decode()
    response = client.post(
        url, {"note": "Liegt immer noch da", "photo": upload(jpeg_bytes(), "noch.jpg")}
    )
    assert response.status_code == 302 and response["Location"] == url
    report.refresh_from_db()
    assert report.status == S.ASSIGNED
    assert report.flags.get().kind == ReportFlag.Kind.REOPENED
    assert report.photos.count() == 1
    page = client.get(url).content.decode()
    assert "open again" in page
    # The resident's note is not shown on the public page.
    assert "Liegt immer noch da" not in client.get(f"/reports/{report.pk}/").content.decode()


def test_form_without_javascript_reports_by_part_of_town(client, settings):
    settings.LANGUAGE_CODE = "de"
    form = client.get("/report/new/")
    key = form.context["values"]["idempotency_key"]
    data = {
        "category": "litter",
        "district": "pieschen",
        "place": "Elbradweg unter der Brücke",
        "description": "Viel Müll",
        "email": "a@example.org",
        "idempotency_key": key,
    }
    response = client.post("/report/new/", data)
    report = Report.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/r/{report.tracking_token}/?new=1"
    assert report.district.code == "pieschen" and report.status == S.ASSIGNED
    assert report.description == "Ort: Elbradweg unter der Brücke\nViel Müll"
    assert report.address == "Elbradweg unter der Brücke"
    # Sending the same form again (a reload after a lost answer) makes no second report.
    again = client.post("/report/new/", data)
    assert again["Location"] == response["Location"] and Report.objects.count() == 1


def test_form_without_javascript_shows_errors_next_to_fields_and_keeps_input(client):
    response = client.post(
        "/report/new/",
        {
            "category": "litter",
            "lat": "51.0655",
            "lon": "13.7535",
            "description": "Scherben",
            "email": "kaputt",
            "photo": upload(b"kein Foto", "x.jpg"),
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid email address." in html
    assert "Scherben</textarea>" in html and 'value="kaputt"' in html
    assert 'value="litter" data-photo-required="0" checked' in html
    photo = client.post(
        "/report/new/",
        {"category": "litter", "district": "neustadt", "photo": upload(b"kein Foto", "x.jpg")},
    )
    assert photo.context["errors"] == {"photo": [PHOTO_NOT_AN_IMAGE]}
    assert "not a photo we can read" in photo.content.decode()
    missing = client.post("/report/new/", {"description": "Wo?"})
    assert missing.status_code == 400
    assert set(missing.context["errors"]) == {"category", "location"}
    assert not Report.objects.exists()
