from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from rest_framework.test import APIClient

from demo.loaders import FIXTURES
from events.models import Event
from events.selectors import event_search
from events.services import feed_import, venues_import
from reports.models import Report, ReportFlag
from tests.conftest import jpeg_bytes, upload
from tests.events.helpers import local, make_event, north_of

pytestmark = pytest.mark.django_db

NOW = local(2026, 11, 27, 15)
ALAUNPARK = Point(13.75735, 51.06835, srid=4326)
URL = "/api/v1/events/"


@pytest.fixture
def client():
    return APIClient(headers={"Accept-Language": "en"})


@pytest.fixture
def demo():
    venues_import(path=FIXTURES / "dresden_venues.csv")
    feed_import(source="dresden-demo", data=(FIXTURES / "dresden_events.ics").read_bytes(), now=NOW)


def test_search_near_alaunpark_this_weekend_finds_the_flea_market(client, demo):
    response = client.get(
        URL,
        {
            "q": "Flohmarkt",
            "near": "51.06835,13.75735",
            "radius": 500,
            "start": "2026-11-28",
            "end": "2026-11-29",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["count"] == 1
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "Point"
    props = feature["properties"]
    assert props["title"] == "Flohmarkt im Alaunpark"
    assert props["start"] == "2026-11-28T09:00:00+01:00"
    assert props["district"] == "neustadt" and props["category"] == "market"
    assert props["distance_m"] < 50 and props["cancelled"] is False
    assert props["page_url"].endswith(f"/events/{feature['id']}/")
    assert props["ics_url"].endswith(f"/events/{feature['id']}.ics")


def test_filters_bbox_district_category_ordering_and_pages(client, demo):
    params = {"start": "2026-12-01", "end": "2026-12-31"}
    everything = client.get(URL, {**params, "page_size": 500}).json()
    bulky = client.get(URL, {**params, "category": "bulky_waste"}).json()
    assert 0 < bulky["count"] < everything["count"]
    assert {f["properties"]["category"] for f in bulky["features"]} == {"bulky_waste"}
    neustadt = client.get(URL, {**params, "district": "neustadt"}).json()
    assert {f["properties"]["district"] for f in neustadt["features"]} == {"neustadt"}
    box = client.get(URL, {**params, "bbox": "13.73,51.045,13.745,51.055"}).json()
    for feature in box["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert 13.73 <= lon <= 13.745 and 51.045 <= lat <= 51.055
    assert 0 < box["count"] < everything["count"]
    latest_first = client.get(URL, {**params, "ordering": "-start"}).json()
    starts = [f["properties"]["start"] for f in latest_first["features"]]
    assert starts == sorted(starts, reverse=True)
    first_page = client.get(URL, {**params, "page_size": 10}).json()
    assert len(first_page["features"]) == 10 and first_page["next"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"near": "51.06"}, "near"),
        ({"near": "91,13"}, "near"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"start": "next friday"}, "start"),
        ({"start": "2026-12-10", "end": "2026-12-01"}, "end"),
        ({"ordering": "random"}, "ordering"),
        ({"near": "51.06,13.75", "radius": "-5"}, "radius"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(client, params, field):
    response = client.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_list_needs_a_fixed_number_of_queries(client, demo, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = client.get(URL, {"start": "2026-11-27", "page_size": 200})
    assert len(response.json()["features"]) == 200


def test_the_ics_export_reimported_equals_the_search_result(client, demo):
    params = {"q": "Markt OR Weihnachtsmarkt", "start": "2026-11-27", "end": "2027-01-31"}
    response = client.get(URL + "calendar.ics", params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.content.startswith(b"BEGIN:VCALENDAR")

    def shape(events):
        return sorted(
            (
                e.title,
                e.start,
                e.end,
                e.all_day,
                e.venue_name,
                e.category,
                e.status,
                e.description,
                e.url,
                (round(e.location.x, 6), round(e.location.y, 6)),
            )
            for e in events
        )

    searched = list(event_search(q=params["q"], start=local(2026, 11, 27), end=local(2027, 2, 1)))
    assert len(searched) > 10
    assert any(e.all_day for e in searched) and any(e.recurrence_key for e in searched)
    summary = feed_import(source="reimport", data=response.content, now=local(2026, 11, 27))
    assert summary.created == len(searched) and not summary.skipped
    assert shape(Event.objects.filter(feed__source="reimport")) == shape(searched)


def test_event_detail_and_unknown_event(client, demo):
    event = Event.objects.filter(title="Flohmarkt im Alaunpark").first()
    response = client.get(f"{URL}{event.pk}/")
    assert response.status_code == 200
    assert response.json()["properties"]["venue_name"] == "Alaunpark, Dresden-Neustadt"
    assert client.get(f"{URL}999999/").status_code == 404


def test_events_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    parameters = {p["name"] for p in schema["paths"]["/api/v1/events/"]["get"]["parameters"]}
    assert {
        "q",
        "start",
        "end",
        "near",
        "radius",
        "bbox",
        "district",
        "category",
        "ordering",
        "page",
    } <= parameters
    assert "/api/v1/events/calendar.ics" in schema["paths"]
    assert "/api/v1/events/pickups/" in schema["paths"]


# --- reports meet events: a scheduled bulky-waste collection nearby ------------------------


def test_pickup_check_tells_the_resident_before_sending(client):
    make_event(start=local(2026, 12, 7, 7), location=ALAUNPARK)
    near = client.get(
        URL + "pickups/", {"lat": ALAUNPARK.y, "lon": ALAUNPARK.x, "date": "2026-12-05"}
    )
    assert near.status_code == 200
    body = near.json()
    assert body["probable_pickup"] is True and body["date"] == "2026-12-07"
    assert body["message"] == "This is probably a booked pickup on 12/07/2026."
    assert body["collection"]["properties"]["category"] == "bulky_waste"
    far = north_of(ALAUNPARK, 60)
    body = client.get(URL + "pickups/", {"lat": far.y, "lon": far.x, "date": "2026-12-05"}).json()
    assert body == {"probable_pickup": False, "date": None, "message": "", "collection": None}
    assert client.get(URL + "pickups/", {"lat": "x", "lon": "13"}).status_code == 400


def _post_report(client, point, category="bulky_waste"):
    return client.post(
        "/api/v1/reports/",
        {
            "category": category,
            "lat": f"{point.y:.7f}",
            "lon": f"{point.x:.7f}",
            "description": "Sofa",
            "photo": upload(jpeg_bytes()),
        },
        format="multipart",
    )


def test_bulky_waste_report_next_to_a_collection_is_flagged_for_the_dispatcher(client):
    tomorrow = timezone.localtime() + timedelta(days=1)
    collection = make_event(start=tomorrow.replace(hour=7, minute=0), location=ALAUNPARK)
    response = _post_report(client, north_of(ALAUNPARK, 20))
    assert response.status_code == 201, response.content
    report = Report.objects.get(pk=response.json()["id"])
    flag = report.flags.get()
    assert flag.kind == ReportFlag.Kind.BOOKED_PICKUP
    assert flag.reason.startswith(
        f"Probably a booked pickup on {timezone.localtime(collection.start).date().isoformat()}"
    )
    assert flag.data["event"] == collection.pk
    # Shown to dispatchers only: the public report carries no flag text.
    assert "booked pickup" not in response.content.decode()


def test_reports_away_from_a_collection_or_of_another_kind_are_not_flagged(client):
    tomorrow = timezone.localtime() + timedelta(days=1)
    make_event(start=tomorrow.replace(hour=7, minute=0), location=ALAUNPARK)
    assert _post_report(client, north_of(ALAUNPARK, 80)).status_code == 201
    assert _post_report(client, north_of(ALAUNPARK, 10), category="litter").status_code == 201
    assert not ReportFlag.objects.exists()
