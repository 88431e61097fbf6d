"""Feeds that must not break the import: a byte-order mark, NUL bytes, runaway recurrences,
one broken series among good ones, and valid calendars from icalendar's own test suite."""

import time
from io import StringIO
from pathlib import Path

import icalendar
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from events import ical
from events.ical import FeedBroken, feed_parse
from events.models import Event, Feed
from events.services import feed_import
from tests.events.helpers import calendar, local, vevent

pytestmark = pytest.mark.django_db

NOW = local(2026, 10, 1, 12)
ICALENDAR_CALENDARS = Path(icalendar.__file__).parent / "tests" / "calendars"


def good_feed() -> bytes:
    return calendar(
        vevent("gut@t", "Gutes Fest", local(2026, 10, 10, 10), local(2026, 10, 10, 12)),
    )


def test_a_byte_order_mark_is_accepted():
    summary = feed_import(source="bom", data=b"\xef\xbb\xbf" + good_feed(), now=NOW)
    assert summary.created == 1
    assert Event.objects.get(feed__source="bom").title == "Gutes Fest"


def test_a_nul_byte_fails_that_feed_readably_and_the_next_feed_is_still_imported(tmp_path):
    broken = tmp_path / "kaputt.ics"
    broken.write_bytes(good_feed().replace(b"Gutes Fest", b"Gutes\x00Fest"))
    good = tmp_path / "gut.ics"
    good.write_bytes(good_feed())
    err = StringIO()
    with pytest.raises(CommandError, match="1 of 2 feeds failed: .*kaputt.ics"):
        call_command(
            "events_import",
            str(broken),
            str(good),
            "--now",
            NOW.isoformat(),
            "--commit",
            stdout=StringIO(),
            stderr=err,
        )
    assert "NUL byte" in err.getvalue() and "Traceback" not in err.getvalue()
    assert "NUL byte" in Feed.objects.get(source="kaputt.ics").last_error
    assert Event.objects.filter(feed__source="gut.ics").count() == 1


def _runaway(start: str) -> bytes:
    lines = [
        "BEGIN:VEVENT",
        "UID:sekunden@t",
        f"DTSTART:{start}",
        "DURATION:PT1S",
        "RRULE:FREQ=SECONDLY",
        "SUMMARY:Jede Sekunde",
        "END:VEVENT",
    ]
    return calendar(
        "\n".join(lines),
        vevent("gut@t", "Gutes Fest", local(2026, 10, 10, 10), local(2026, 10, 10, 12)),
    )


def test_an_unbounded_secondly_rule_is_cut_at_the_cap_and_the_rest_imported():
    began = time.monotonic()
    summary = feed_import(source="runaway", data=_runaway("20261001T100000Z"), now=NOW)
    assert time.monotonic() - began < 30
    assert summary.created == ical.MAX_OCCURRENCES_PER_SERIES + 1
    assert any("sekunden@t repeats more often than" in note for note in summary.notes)
    assert Event.objects.filter(feed__source="runaway", uid="gut@t").exists()


def test_a_secondly_rule_from_years_ago_is_skipped_with_its_reason():
    began = time.monotonic()
    summary = feed_import(source="old", data=_runaway("20200101T000000Z"), now=NOW)
    assert time.monotonic() - began < 10
    assert summary.created == 1
    assert summary.skipped == [
        "event sekunden@t repeats every 1 second(s) since 2020-01-01: more than 100000 "
        "repetitions before the import window; skipped"
    ]


def test_the_time_limit_per_feed_fails_the_feed_with_its_reason(monkeypatch):
    # A clock that moves a second each time it is read: the feed is over its limit at the
    # first check, however fast this machine parses (a real clock made this depend on speed).
    ticks = iter(range(0, 10_000))
    monkeypatch.setattr(ical, "time_monotonic", lambda: float(next(ticks)))
    with pytest.raises(FeedBroken, match="longer than 0.05 seconds"):
        feed_parse(_runaway("20261001T100000Z"), now=NOW, seconds=0.05)


def test_one_broken_series_is_skipped_and_the_others_are_kept():
    feed = calendar(
        vevent("kaputt@t", "X", local(2026, 10, 3, 9), rrule="FREQ=SOMETIMES"),
        vevent("gut@t", "Gutes Fest", local(2026, 10, 10, 10), local(2026, 10, 10, 12)),
    )
    summary = feed_import(source="t", data=feed, now=NOW)
    assert summary.created == 1
    assert len(summary.skipped) == 1
    assert summary.skipped[0].startswith("event kaputt@t could not be read and was skipped")


@pytest.mark.parametrize(
    ("name", "now", "expected"),
    [
        # DTSTART twice in one event: the first counts (08:00 New York, 08:00 Fiji).
        (
            "america_new_york_forward_reference.ics",
            local(2014, 8, 1),
            {("noend123", local(2014, 8, 29, 14))},
        ),
        ("pacific_fiji.ics", local(2014, 8, 1), {("noend123", local(2014, 8, 28, 22))}),
        # Two VCALENDARs in one stream (RFC 5545 3.4): both calendars' events.
        (
            "multiple_calendar_components.ics",
            local(2003, 12, 1),
            {("956630271", local(2003, 12, 25)), ("wh4t3v3r", local(2003, 12, 25))},
        ),
    ],
)
def test_valid_calendars_from_icalendars_test_suite_are_imported(name, now, expected):
    data = (ICALENDAR_CALENDARS / name).read_bytes()
    summary = feed_import(source=name, data=data, now=now)
    assert not summary.skipped
    found = set(Event.objects.filter(feed__source=name).values_list("uid", "start"))
    assert found == expected
    if "noend123" in {uid for uid, _ in expected}:
        assert any("DTSTART 2 times; the first one counts" in n for n in summary.notes)


def test_icalendars_bom_calendar_is_read():
    data = (ICALENDAR_CALENDARS / "bom_calendar.ics").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    summary = feed_import(source="bom", data=data, now=NOW)
    assert summary.created == 0 and not summary.skipped
    assert Feed.objects.get(source="bom").last_error == ""


def test_a_feed_with_a_runaway_rule_does_not_stop_a_broken_one_from_being_reported():
    with pytest.raises(ValidationError, match="NUL byte"):
        feed_import(source="nul", data=b"BEGIN:VCALENDAR\x00", now=NOW)
    assert Feed.objects.get(source="nul").last_success_at is None
