import http.server
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from demo.loaders import FIXTURES
from events.models import Event, Feed, Venue
from events.selectors import event_search
from events.services import feed_import, feed_import_source, venues_import
from events.tasks import events_refresh_feeds_task
from tests.events.helpers import UTC, allday, calendar, local, vevent

pytestmark = pytest.mark.django_db

NOW = local(2026, 10, 1, 12)
KULTURPALAST = Point(13.73881, 51.05103, srid=4326)


@pytest.fixture
def venues():
    venues_import(path=FIXTURES / "dresden_venues.csv")


def feed_v1() -> bytes:
    return calendar(
        vevent(
            "konzert@t",
            "Konzert im Kulturpalast",
            local(2026, 10, 10, 19),
            local(2026, 10, 10, 21),
            geo="51.05103;13.73881",
            categories="Konzert",
        ),
        vevent(
            "markt@t",
            "Markt auf dem Neumarkt",
            local(2026, 10, 12, 9),
            local(2026, 10, 12, 14),
            location="Neumarkt",
            categories="Markt",
        ),
        vevent(
            "lesung@t",
            "Lesung",
            local(2026, 10, 20, 19),
            local(2026, 10, 20, 20),
            location="Japanisches Palais",
        ),
        vevent("vorbei@t", "Schon vorbei", local(2026, 9, 1, 10), local(2026, 9, 1, 12)),
    )


def rows() -> list[tuple]:
    return list(
        Event.objects.order_by("uid", "recurrence_key").values_list(
            "id", "uid", "recurrence_key", "title", "start", "end", "status", "retired_at"
        )
    )


def test_importing_the_same_feed_twice_gives_the_same_rows(venues):
    first = feed_import(source="t", data=feed_v1(), now=NOW)
    before = rows()
    second = feed_import(source="t", data=feed_v1(), now=NOW)
    assert (first.created, first.updated) == (3, 0)  # the past event is outside the window
    assert (second.created, second.updated, second.unchanged, second.retired) == (0, 0, 3, 0)
    assert rows() == before
    assert Event.objects.count() == 3


def test_an_updated_event_is_updated_and_a_cancelled_one_marked(venues):
    feed_import(source="t", data=feed_v1(), now=NOW)
    concert_id = Event.objects.get(uid="konzert@t").pk
    changed = calendar(
        vevent(
            "konzert@t",
            "Konzert im Kulturpalast (neue Zeit)",
            local(2026, 10, 10, 20),
            local(2026, 10, 10, 22),
            geo="51.05103;13.73881",
            categories="Konzert",
        ),
        vevent(
            "markt@t",
            "Markt auf dem Neumarkt",
            local(2026, 10, 12, 9),
            local(2026, 10, 12, 14),
            location="Neumarkt",
            categories="Markt",
            status="CANCELLED",
        ),
        vevent(
            "lesung@t",
            "Lesung",
            local(2026, 10, 20, 19),
            local(2026, 10, 20, 20),
            location="Japanisches Palais",
        ),
    )
    summary = feed_import(source="t", data=changed, now=NOW)
    assert (summary.updated, summary.unchanged, summary.cancelled) == (2, 1, 1)
    concert = Event.objects.get(uid="konzert@t")
    assert concert.pk == concert_id
    assert concert.title == "Konzert im Kulturpalast (neue Zeit)"
    assert concert.start == local(2026, 10, 10, 20)
    market = Event.objects.get(uid="markt@t")
    assert market.is_cancelled and market.retired_at is None
    # Still found (a resident should learn it is off), but marked.
    assert [e.is_cancelled for e in event_search(q="Markt", now=NOW)] == [True]


def test_an_event_gone_from_the_feed_is_retired_but_the_past_is_kept(venues):
    feed_import(source="t", data=feed_v1(), now=NOW)
    past = Event.objects.create(
        feed=Feed.objects.get(source="t"),
        uid="old@t",
        title="Altes Fest",
        start=local(2026, 8, 1, 10),
        end=local(2026, 8, 1, 12),
    )
    without_reading = calendar(
        vevent(
            "konzert@t",
            "Konzert im Kulturpalast",
            local(2026, 10, 10, 19),
            local(2026, 10, 10, 21),
            geo="51.05103;13.73881",
            categories="Konzert",
        ),
        vevent(
            "markt@t",
            "Markt auf dem Neumarkt",
            local(2026, 10, 12, 9),
            local(2026, 10, 12, 14),
            location="Neumarkt",
            categories="Markt",
        ),
    )
    summary = feed_import(source="t", data=without_reading, now=NOW)
    assert summary.retired == 1
    assert Event.objects.get(uid="lesung@t").retired_at == NOW
    assert "Lesung" not in [e.title for e in event_search(now=NOW)]
    past.refresh_from_db()
    assert past.retired_at is None
    # Back in the feed: back on the map.
    feed_import(source="t", data=feed_v1(), now=NOW)
    assert Event.objects.get(uid="lesung@t").retired_at is None


def test_the_same_uid_in_two_feeds_is_two_events(venues):
    feed_import(source="a", data=feed_v1(), now=NOW)
    feed_import(source="b", data=feed_v1(), now=NOW)
    assert Event.objects.filter(uid="konzert@t").count() == 2


@pytest.mark.parametrize("year", [2026, 2027])
def test_rrule_with_exdate_and_an_overridden_instance_across_the_switch_to_winter_time(year):
    # The last Sunday of October switches to winter time: 25 Oct 2026, 31 Oct 2027.
    switch = {2026: local(2026, 10, 25, 10), 2027: local(2027, 10, 31, 10)}[year]
    first = switch - timedelta(days=14)
    feed = calendar(
        vevent(
            "lauf@t",
            "Sonntagslauf im Großen Garten",
            first,
            first + timedelta(hours=2),
            rrule="FREQ=WEEKLY;COUNT=5",
            exdate=[first + timedelta(days=7)],
            geo="51.0377;13.7650",
            categories="Sport",
        ),
        vevent(
            "lauf@t",
            "Sonntagslauf (Stadtmeisterschaft)",
            switch + timedelta(hours=2),
            switch + timedelta(hours=5),
            recurrence_id=switch,
            geo="51.0377;13.7650",
            categories="Sport",
        ),
    )
    now = local(year, 10, 1, 12)
    summary = feed_import(source="t", data=feed, now=now)
    assert summary.created == 4  # 5 Sundays, one excluded
    occurrences = list(Event.objects.order_by("start"))
    local_starts = [e.start.astimezone(first.tzinfo) for e in occurrences]
    assert [s.date() for s in local_starts] == [
        (first + timedelta(days=d)).date() for d in (0, 14, 21, 28)
    ]
    # Wall-clock time stays 10:00 across the switch, so UTC moves from 08:00 to 09:00.
    assert [s.hour for s in local_starts] == [10, 12, 10, 10]
    assert [e.start.astimezone(UTC).hour for e in occurrences] == [8, 11, 9, 9]
    override = occurrences[1]
    assert override.title == "Sonntagslauf (Stadtmeisterschaft)"
    assert override.end - override.start == timedelta(hours=3)
    # The override is keyed by the start it replaces (10:00 local = 09:00 UTC, winter time).
    assert override.recurrence_key == switch.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    assert override.recurrence_key.endswith("T090000Z")
    assert len({e.recurrence_key for e in occurrences}) == 4
    # Importing again changes nothing.
    again = feed_import(source="t", data=feed, now=now)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_recurring_events_are_expanded_for_the_next_180_days_only():
    feed = calendar(
        vevent(
            "markt@t",
            "Wochenmarkt",
            local(2026, 1, 7, 8),
            local(2026, 1, 7, 16),
            rrule="FREQ=WEEKLY;BYDAY=WE",
        )
    )
    feed_import(source="t", data=feed, now=NOW)
    starts = list(Event.objects.order_by("start").values_list("start", flat=True))
    assert starts[0] == local(2026, 10, 7, 8)
    # 180 days after 1 Oct 2026 is 30 Mar 2027; the last Wednesday before it is 24 Mar.
    assert starts[-1] == local(2027, 3, 24, 8)
    assert len(starts) == 25


def test_an_all_day_event_spans_whole_local_days():
    feed_import(
        source="t",
        data=calendar(
            allday("striezel@t", "Striezelmarkt", "20261126", "20261225", location="Altmarkt")
        ),
        now=NOW,
    )
    event = Event.objects.get()
    assert event.all_day
    assert event.start == local(2026, 11, 26, 0)
    assert event.end == local(2026, 12, 25, 0)


def test_geo_is_used_else_the_venue_table_else_no_location(venues):
    feed = calendar(
        vevent(
            "geo@t",
            "Mit GEO",
            local(2026, 10, 10, 19),
            local(2026, 10, 10, 21),
            geo="51.0683;13.7573",
            location="Kulturpalast",
        ),
        vevent(
            "venue@t",
            "Nur Ort",
            local(2026, 10, 11, 19),
            local(2026, 10, 11, 21),
            location="Kulturpalast Dresden\\, Schloßstraße 2\\, 01067 Dresden",
        ),
        vevent(
            "nowhere@t",
            "Unbekannter Ort",
            local(2026, 10, 12, 19),
            local(2026, 10, 12, 21),
            location="Irgendwo im Nirgendwo",
        ),
    )
    summary = feed_import(source="t", data=feed, now=NOW)
    assert summary.without_location == 1
    with_geo = Event.objects.get(uid="geo@t")
    assert with_geo.location.coords == pytest.approx((13.7573, 51.0683))
    assert with_geo.district.name == "Neustadt"
    by_name = Event.objects.get(uid="venue@t")
    assert by_name.location.coords == pytest.approx(KULTURPALAST.coords)
    assert by_name.district.name == "Altstadt"
    assert Event.objects.get(uid="nowhere@t").location is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "not an iCalendar feed"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:kaputt\r\n", "could not be"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\x00\r\nEND:VCALENDAR\r\n", "NUL byte"),
    ],
)
def test_a_broken_feed_is_reported_and_leaves_the_old_events_intact(venues, data, reason):
    feed_import(source="t", data=feed_v1(), now=NOW)
    before = rows()
    with pytest.raises(ValidationError) as caught:
        feed_import(source="t", data=data, now=NOW + timedelta(days=1))
    message = caught.value.messages[0]
    assert "Feed 't' is broken" in message and reason in message
    assert "previously imported events are kept" in message
    assert rows() == before
    feed = Feed.objects.get(source="t")
    assert feed.last_error == message
    assert feed.last_success_at == NOW


def test_entries_without_uid_or_start_are_skipped_and_listed():
    feed = calendar(
        vevent("ok@t", "In Ordnung", local(2026, 10, 10, 9), local(2026, 10, 10, 10)),
        vevent("nostart@t", "Ohne Beginn", None),
        vevent("x" * 501, "Riesen-UID", local(2026, 10, 10, 9), local(2026, 10, 10, 10)),
    )
    summary = feed_import(source="t", data=feed, now=NOW)
    assert summary.created == 1
    assert summary.skipped == [
        "event nostart@t has no DTSTART",
        "an event with a UID longer than 500 characters",
    ]


def test_a_dry_run_saves_nothing(venues):
    summary = feed_import(source="t", data=feed_v1(), now=NOW, commit=False)
    assert summary.created == 3 and not summary.committed
    assert not Event.objects.exists()
    assert not Feed.objects.exists()


def test_the_demo_calendar_has_the_flea_market_on_any_coming_weekend(venues):
    for now in (local(2026, 11, 27, 15), local(2027, 3, 3, 9)):
        summary = feed_import(
            source="dresden-demo", data=(FIXTURES / "dresden_events.ics").read_bytes(), now=now
        )
        assert summary.without_location == 0 and not summary.skipped
        saturday = now.date() + timedelta(days=(5 - now.weekday()) % 7)
        found = event_search(
            q="Flohmarkt",
            near=Point(13.75735, 51.06835, srid=4326),
            radius=500,
            start=local(saturday.year, saturday.month, saturday.day),
            end=local(saturday.year, saturday.month, saturday.day) + timedelta(days=2),
            now=now,
        )
        assert [e.title for e in found] == ["Flohmarkt im Alaunpark"]
    current = Event.objects.current()
    assert current.values("uid").distinct().count() >= 40
    assert current.filter(all_day=True).exists()
    assert current.filter(status=Event.Status.CANCELLED).exists()
    assert current.filter(category="bulky_waste", status=Event.Status.CONFIRMED).count() >= 4
    assert current.exclude(recurrence_key="").values("uid").distinct().count() >= 5


# --- command and task: the remote feed is a real HTTP server on localhost ------------------


@pytest.fixture
def feed_server():
    served = {"body": feed_v1(), "status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(served["status"])
            self.send_header("Content-Type", "text/calendar")
            self.end_headers()
            self.wfile.write(served["body"])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served["url"] = f"http://127.0.0.1:{server.server_address[1]}/events.ics"
    yield served
    server.shutdown()
    server.server_close()


def test_command_imports_a_file_with_progress_and_summary(tmp_path):
    path = tmp_path / "feed.ics"
    path.write_bytes(feed_v1())
    out = StringIO()
    call_command(
        "events_import",
        str(path),
        "--venues",
        str(FIXTURES / "dresden_venues.csv"),
        "--now",
        NOW.isoformat(),
        "--commit",
        stdout=out,
    )
    text = out.getvalue()
    assert "venues loaded" in text and "[1/1]" in text and "Parsed 3 events" in text
    assert "3 events: 3 created, 0 updated, 0 unchanged, 0 retired" in text
    assert Event.objects.filter(feed__source="feed.ics").count() == 3
    assert Venue.objects.filter(name="Alaunpark").exists()


def test_command_is_a_dry_run_without_commit(tmp_path):
    path = tmp_path / "feed.ics"
    path.write_bytes(feed_v1())
    out = StringIO()
    call_command("events_import", str(path), "--now", NOW.isoformat(), stdout=out)
    assert "Dry run" in out.getvalue()
    assert not Event.objects.exists()


def test_command_fetches_a_url_and_reports_a_broken_one_clearly(feed_server):
    out = StringIO()
    call_command(
        "events_import", feed_server["url"], "--now", NOW.isoformat(), "--commit", stdout=out
    )
    assert Event.objects.filter(feed__source=feed_server["url"]).count() == 3
    feed_server["body"] = b"<html>Wartungsarbeiten</html>"
    err = StringIO()
    with pytest.raises(CommandError, match="1 of 1 feeds failed"):
        call_command(
            "events_import",
            feed_server["url"],
            "--now",
            NOW.isoformat(),
            "--commit",
            stdout=StringIO(),
            stderr=err,
        )
    assert "FAILED" in err.getvalue() and "not an iCalendar feed" in err.getvalue()
    assert Event.objects.filter(feed__source=feed_server["url"], retired_at=None).count() == 3
    feed_server["status"] = 404
    with pytest.raises(ValidationError, match="could not be fetched"):
        feed_import_source(source=feed_server["url"], now=NOW)


def test_beat_task_refreshes_every_configured_feed(feed_server, settings):
    soon = timezone.localtime() + timedelta(days=3)
    feed_server["body"] = calendar(
        vevent("soon@t", "Bald", soon, soon + timedelta(hours=2), location="Altmarkt")
    )
    settings.EVENT_FEEDS = [feed_server["url"]]
    assert events_refresh_feeds_task.delay().get() == 1
    feed = Feed.objects.get(source=feed_server["url"])
    assert feed.last_error == "" and feed.last_success_at is not None
    assert [e.title for e in feed.events.all()] == ["Bald"]
