from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point

from districts.models import District
from districts.selectors import district_for_point
from events.models import Event
from events.selectors import bulky_waste_collections_near, event_search, events_nearby
from events.services import feed_import
from tests.events.helpers import calendar, local, make_event, north_of, vevent

pytestmark = pytest.mark.django_db

NOW = local(2026, 10, 1, 12)
CENTRE = Point(13.7573, 51.0683, srid=4326)  # Alaunpark


def titles(events) -> list[str]:
    return [e.title for e in events]


@pytest.fixture
def texts():
    feed_import(
        source="t",
        now=NOW,
        data=calendar(
            vevent(
                "markt@t",
                "Markt am Schillerplatz",
                local(2026, 10, 7, 8),
                local(2026, 10, 7, 16),
                description="Obst und Gemüse",
            ),
            vevent(
                "konzert@t",
                "Konzert im Kulturpalast",
                local(2026, 10, 8, 19),
                local(2026, 10, 8, 21),
                description="Nach dem Konzert ist ein kleiner Markt im Foyer.",
            ),
            vevent(
                "christmas@t",
                "Christmas market tour",
                local(2026, 10, 9, 15),
                local(2026, 10, 9, 17),
                description="A guided walk in English",
            ),
            vevent(
                "lauf@t",
                "Stadtlauf",
                local(2026, 10, 10, 9),
                local(2026, 10, 10, 12),
                description="Läufer aller Altersgruppen",
            ),
        ),
    )


def test_german_stemming_finds_markt_for_maerkte(texts):
    assert set(titles(event_search(q="Märkte", now=NOW))) == {
        "Markt am Schillerplatz",
        "Konzert im Kulturpalast",
    }


def test_title_weighs_more_than_description(texts):
    assert titles(event_search(q="Markt", now=NOW)) == [
        "Markt am Schillerplatz",  # in the title
        "Konzert im Kulturpalast",  # only in the description
    ]


def test_english_words_are_stemmed_too(texts):
    assert titles(event_search(q="markets", now=NOW)) == ["Christmas market tour"]
    assert titles(event_search(q="guided walks", now=NOW)) == ["Christmas market tour"]


def test_search_syntax_is_forgiving(texts):
    assert titles(event_search(q="Markt -Obst", now=NOW)) == ["Konzert im Kulturpalast"]
    assert titles(event_search(q="Konzert OR Stadtlauf", ordering="start", now=NOW)) == [
        "Konzert im Kulturpalast",
        "Stadtlauf",
    ]
    assert titles(event_search(q="&|!(", now=NOW)) == []


def test_date_range_defaults_to_from_now_and_includes_what_is_running(texts):
    assert len(event_search(now=NOW)) == 4
    # During the concert it is still listed; after its end it is not.
    assert "Konzert im Kulturpalast" in titles(event_search(now=local(2026, 10, 8, 20)))
    assert "Konzert im Kulturpalast" not in titles(event_search(now=local(2026, 10, 8, 21, 1)))
    window = event_search(start=local(2026, 10, 8), end=local(2026, 10, 10), now=NOW)
    assert titles(window) == ["Konzert im Kulturpalast", "Christmas market tour"]


def test_distance_filter_against_points_at_known_distances():
    for meters in (0, 450, 550, 990, 1010, 4000):
        make_event(
            title=f"{meters} m",
            start=local(2026, 10, 5, 10),
            category="market",
            location=north_of(CENTRE, meters),
        )
    near = event_search(near=CENTRE, radius=1000, ordering="distance", now=NOW)
    assert titles(near) == ["0 m", "450 m", "550 m", "990 m"]
    assert [round(e.distance.m) for e in near] == [0, 450, 550, 990]
    assert titles(event_search(near=CENTRE, radius=500, now=NOW)) == ["0 m", "450 m"]
    # East-west distances shrink with latitude; the degree prefilter must not cut them off.
    east = Point(CENTRE.x + 990 / (111_195 * 0.6288), CENTRE.y, srid=4326)
    make_event(title="990 m east", start=local(2026, 10, 5, 10), location=east)
    assert "990 m east" in titles(event_search(near=CENTRE, radius=1000, now=NOW))


def test_bbox_filter_keeps_points_inside_the_box():
    inside = make_event(title="inside", start=local(2026, 10, 5, 10), location=CENTRE)
    make_event(title="outside", start=local(2026, 10, 5, 10), location=north_of(CENTRE, 2000))
    make_event(title="no place", start=local(2026, 10, 5, 10), location=None)
    box = (CENTRE.x - 0.01, CENTRE.y - 0.01, CENTRE.x + 0.01, CENTRE.y + 0.01)
    assert list(event_search(bbox=box, now=NOW)) == [inside]


def test_district_and_category_filters():
    make_event(
        title="Neustadt market", start=local(2026, 10, 5, 10), location=CENTRE, category="market"
    )
    make_event(
        title="Neustadt concert", start=local(2026, 10, 5, 11), location=CENTRE, category="music"
    )
    make_event(
        title="Altstadt market",
        start=local(2026, 10, 5, 12),
        location=Point(13.7384, 51.0493, srid=4326),
        category="market",
    )
    for event in Event.objects.all():
        event.district = district_for_point(point=event.location)
        event.save()
    assert District.objects.filter(code="neustadt").exists()
    assert titles(event_search(district="neustadt", category="market", now=NOW)) == [
        "Neustadt market"
    ]
    assert titles(event_search(category=["market", "music"], ordering="-start", now=NOW)) == [
        "Altstadt market",
        "Neustadt concert",
        "Neustadt market",
    ]


def test_events_nearby_lists_upcoming_events_around_a_point():
    make_event(
        title="near",
        start=local(2026, 10, 5, 10),
        location=north_of(CENTRE, 100),
        category="market",
    )
    make_event(
        title="far", start=local(2026, 10, 5, 10), location=north_of(CENTRE, 900), category="market"
    )
    make_event(
        title="cancelled",
        start=local(2026, 10, 5, 10),
        location=CENTRE,
        category="market",
        status=Event.Status.CANCELLED,
    )
    make_event(title="next year", start=local(2027, 10, 5, 10), location=CENTRE, category="market")
    assert titles(events_nearby(point=CENTRE, meters=500, now=NOW)) == ["near"]


# --- bulky-waste pickups: "the same or the next two days", "within 50 m" ------------------


@pytest.mark.parametrize(
    ("report_day", "matches"),
    [
        (local(2026, 11, 10), True),  # the collection's day
        (local(2026, 11, 9), True),  # the day before
        (local(2026, 11, 8), True),  # two days before
        (local(2026, 11, 7), False),  # three days before
        (local(2026, 11, 11), False),  # the day after
    ],
)
def test_pickup_matches_on_the_same_or_the_next_two_days(report_day, matches):
    make_event(start=local(2026, 11, 10, 7), hours=7, location=CENTRE)
    found = bulky_waste_collections_near(point=CENTRE, day=report_day.date())
    assert found.exists() is matches


def test_pickup_window_uses_local_days_for_early_and_late_collections():
    make_event(title="late", start=local(2026, 11, 10, 23, 30), hours=0.5, location=CENTRE)
    make_event(title="early", start=local(2026, 11, 13, 0, 0), hours=1, location=CENTRE)
    assert titles(bulky_waste_collections_near(point=CENTRE, day=local(2026, 11, 10).date())) == [
        "late"
    ]
    # Ending at midnight, "late" is over before the 11th begins.
    eleventh = local(2026, 11, 11).date()
    assert titles(bulky_waste_collections_near(point=CENTRE, day=eleventh)) == ["early"]


@pytest.mark.parametrize(("meters", "matches"), [(0, True), (49, True), (51, False)])
def test_pickup_matches_within_50_metres(meters, matches):
    make_event(start=local(2026, 11, 10, 7), location=north_of(CENTRE, meters))
    assert bulky_waste_collections_near(point=CENTRE, day=local(2026, 11, 10).date()).exists() is (
        matches
    )


def test_pickup_ignores_other_categories_and_cancelled_collections():
    make_event(title="market", start=local(2026, 11, 10, 7), location=CENTRE, category="market")
    make_event(start=local(2026, 11, 10, 7), location=CENTRE, status=Event.Status.CANCELLED)
    assert not bulky_waste_collections_near(point=CENTRE, day=local(2026, 11, 10).date()).exists()


def test_pickup_window_spans_the_switch_to_winter_time():
    # 25 Oct 2026 has 25 hours; a collection early on the 27th is still "two days after".
    make_event(start=local(2026, 10, 27, 0, 30), hours=1, location=CENTRE)
    day = local(2026, 10, 25).date()
    assert bulky_waste_collections_near(point=CENTRE, day=day).exists()
    assert not bulky_waste_collections_near(point=CENTRE, day=day - timedelta(days=1)).exists()
