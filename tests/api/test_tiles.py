"""Vector tiles of reports and events, decoded with mapbox-vector-tile; tile keys of a point;
exact invalidation of cached tiles when a report changes."""

from datetime import timedelta

import mapbox_vector_tile
import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import timezone

from api.tiles import MVT_CONTENT_TYPE, tile_for_point, tile_keys_for_point
from events.models import Event, Feed
from reports.models import Category, Report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_tiles_cache")]

NEUSTADT = (13.7535, 51.0655)


def _report(lon, lat, status=Report.Status.NEW, code="bulky_waste"):
    return Report.objects.create(
        location=Point(lon, lat, srid=4326),
        category=Category.objects.get(code=code),
        status=status,
        reporter_email="anwohner@example.org",
    )


def _tile(client, z, lon, lat, layer="reports", **headers):
    _, x, y = tile_for_point(lon, lat, z)
    return client.get(f"/api/v1/tiles/{layer}/{z}/{x}/{y}.pbf", headers=headers)


def _decode(response, layer="reports"):
    assert response.status_code == 200
    assert response["Content-Type"] == MVT_CONTENT_TYPE
    return mapbox_vector_tile.decode(response.content)[layer]["features"]


def test_z16_tile_has_each_report_with_its_properties(client):
    a = _report(*NEUSTADT)
    b = _report(NEUSTADT[0] + 0.0004, NEUSTADT[1], status=Report.Status.CLEARED)
    far = _report(13.80, 51.03)
    features = _decode(_tile(client, 16, *NEUSTADT))
    by_id = {f["id"]: f for f in features}
    assert set(by_id) == {a.pk, b.pk}
    assert by_id[a.pk]["properties"] == {"category": "bulky_waste", "status": "new", "count": 1}
    assert by_id[b.pk]["properties"]["status"] == "cleared"
    assert far.pk not in by_id
    # b lies east of a: a larger x in tile coordinates.
    (ax, _), (bx, _) = (by_id[i]["geometry"]["coordinates"] for i in (a.pk, b.pk))
    assert bx > ax


def test_z12_tile_merges_close_reports_into_one_feature_with_a_count(client):
    _report(*NEUSTADT)
    _report(NEUSTADT[0] + 0.00005, NEUSTADT[1] + 0.00005)
    _report(NEUSTADT[0] + 0.02, NEUSTADT[1] - 0.01)
    features = _decode(_tile(client, 12, *NEUSTADT))
    assert sorted(f["properties"]["count"] for f in features) == [1, 2]
    assert "category" not in features[0]["properties"]


def test_tiles_show_only_published_reports(client):
    shown = _report(*NEUSTADT)
    pending = _report(NEUSTADT[0] + 0.0002, NEUSTADT[1])
    pending.moderation = Report.Moderation.PENDING
    pending.save()
    assert [f["id"] for f in _decode(_tile(client, 16, *NEUSTADT))] == [shown.pk]


def test_an_empty_tile_is_204_with_the_tile_content_type(client):
    _report(*NEUSTADT)
    response = client.get("/api/v1/tiles/reports/16/0/0.pbf")
    assert response.status_code == 204
    assert response["Content-Type"] == MVT_CONTENT_TYPE
    assert response.content == b""


def test_a_tile_outside_the_grid_is_400(client):
    assert client.get("/api/v1/tiles/reports/3/8/0.pbf").status_code == 400


def test_etag_and_304(client):
    _report(*NEUSTADT)
    first = _tile(client, 15, *NEUSTADT)
    assert "max-age" in first["Cache-Control"]
    second = _tile(client, 15, *NEUSTADT, **{"If-None-Match": first["ETag"]})
    assert second.status_code == 304
    assert second["ETag"] == first["ETag"]


def test_filters_by_status(client):
    _report(*NEUSTADT)
    cleared = _report(NEUSTADT[0] + 0.0003, NEUSTADT[1], status=Report.Status.CLEARED)
    _, x, y = tile_for_point(*NEUSTADT, 16)
    response = client.get(f"/api/v1/tiles/reports/16/{x}/{y}.pbf", {"status": "cleared"})
    assert [f["id"] for f in _decode(response)] == [cleared.pk]


def test_tile_keys_for_a_point_are_the_tiles_postgis_says_contain_it():
    keys = tile_keys_for_point(*NEUSTADT)
    assert [z for z, _, _ in keys] == list(range(23))
    with connection.cursor() as cursor:
        for z, x, y in keys:
            cursor.execute(
                "SELECT ST_Contains(ST_TileEnvelope(%s, %s, %s),"
                " ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), 3857))",
                [z, x, y, *NEUSTADT],
            )
            assert cursor.fetchone()[0], (z, x, y)


def test_a_changed_report_refreshes_exactly_its_cached_tiles(
    client, django_capture_on_commit_callbacks
):
    from reports.services import report_public_location_refresh, report_transition

    report = _report(*NEUSTADT)
    elsewhere = (13.80, 51.03)
    _report(*elsewhere)
    assert _decode(_tile(client, 16, *NEUSTADT))[0]["properties"]["status"] == "new"
    before_elsewhere = _tile(client, 16, *elsewhere)
    # A row changed behind the services' back stays cached: proof the cache is used.
    Report.objects.filter(pk=report.pk).update(status=Report.Status.ASSIGNED)
    assert _decode(_tile(client, 16, *NEUSTADT))[0]["properties"]["status"] == "new"
    # A change through a service drops the tiles containing the report, at every zoom, once
    # the change is committed.
    with django_capture_on_commit_callbacks(execute=True):
        report_transition(report=report, to=Report.Status.IN_PROGRESS)
        assert _decode(_tile(client, 16, *NEUSTADT))[0]["properties"]["status"] == "new"
    assert _decode(_tile(client, 16, *NEUSTADT))[0]["properties"]["status"] == "in_progress"
    # Moving it drops the tiles of the old and of the new position.
    Report.objects.filter(pk=report.pk).update(location=Point(*elsewhere, srid=4326))
    with django_capture_on_commit_callbacks(execute=True):
        report_public_location_refresh(report=report)
    assert _tile(client, 16, *NEUSTADT).status_code == 204
    moved = _decode(_tile(client, 16, *elsewhere))
    assert report.pk in {f["id"] for f in moved}
    assert before_elsewhere.content != _tile(client, 16, *elsewhere).content


def test_a_changed_category_by_update_refreshes_the_tiles(
    client, django_capture_on_commit_callbacks, dispatcher
):
    """The dispatcher's category change writes with QuerySet.update(): it publishes anyway."""
    from crews.dispatch import dispatch_change_category

    report = _report(*NEUSTADT)
    assert _decode(_tile(client, 16, *NEUSTADT))[0]["properties"]["category"] == "bulky_waste"
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_change_category(
            report=report, category=Category.objects.get(code="litter"), actor=dispatcher
        )
    assert _decode(_tile(client, 16, *NEUSTADT))[0]["properties"]["category"] == "litter"


def test_tiles_are_served_uncached_while_the_cache_is_down(client, settings):
    from django.core.cache import caches

    from reports import tilecache

    settings.CACHES = {
        **settings.CACHES,
        "tiles": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        },
    }
    caches["tiles"].close()
    tilecache._state["down_until"] = 0.0
    try:
        report = _report(*NEUSTADT)
        assert {f["id"] for f in _decode(_tile(client, 16, *NEUSTADT))} == {report.pk}
        assert {f["id"] for f in _decode(_tile(client, 16, *NEUSTADT))} == {report.pk}
    finally:
        tilecache._state["down_until"] = 0.0


def test_events_tile_has_current_events_with_a_place(client):
    feed = Feed.objects.create(source="test://feed")
    start = timezone.now() + timedelta(days=1)
    common = {"feed": feed, "start": start, "end": start + timedelta(hours=2)}
    market = Event.objects.create(
        uid="a", title="Flohmarkt", location=Point(*NEUSTADT, srid=4326), **common
    )
    Event.objects.create(uid="b", title="Ohne Ort", **common)
    past = timezone.now() - timedelta(days=3)
    Event.objects.create(
        uid="c",
        title="Vorbei",
        location=Point(*NEUSTADT, srid=4326),
        feed=feed,
        start=past,
        end=past + timedelta(hours=1),
    )
    features = _decode(_tile(client, 16, *NEUSTADT, layer="events"), layer="events")
    assert [f["id"] for f in features] == [market.pk]
    assert features[0]["properties"]["title"] == "Flohmarkt"
