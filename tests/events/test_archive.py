"""The event archive: events over for two days leave the indexes that search what is to come
(so that those stay the size of a year's calendar however many years are kept), and no search
finds anything different for it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from events.models import Event
from events.selectors import event_search
from events.services import events_archive, feed_import
from events.tasks import events_archive_task
from tests.events.helpers import calendar, local, make_event, vevent

pytestmark = pytest.mark.django_db

NOW = local(2026, 10, 1, 12)


def event(title, start, *, hours=2) -> Event:
    return make_event(title=title, start=start, hours=hours, category="music")


def archived_titles() -> list[str]:
    return sorted(Event.objects.filter(archived=True).values_list("title", flat=True))


def test_the_sweep_archives_what_is_over_for_two_days_and_nothing_else():
    event("Flohmarkt vor einer Woche", NOW - timedelta(days=7))
    event("Flohmarkt vor drei Tagen", NOW - timedelta(days=3))
    event("Flohmarkt gestern", NOW - timedelta(days=1))
    event("Flohmarkt läuft noch", NOW - timedelta(hours=1), hours=5)
    event("Flohmarkt morgen", NOW + timedelta(days=1))

    assert events_archive(now=NOW) == 2
    assert archived_titles() == ["Flohmarkt vor drei Tagen", "Flohmarkt vor einer Woche"]
    # Idempotent: a second sweep (a retried task, two beats at once) finds nothing.
    assert events_archive(now=NOW) == 0
    # Two days later, yesterday's market has been over for two days too.
    assert events_archive(now=NOW + timedelta(days=2)) == 1
    assert "Flohmarkt gestern" in archived_titles()


def test_the_sweep_works_in_batches_until_all_are_archived():
    for day in range(3, 10):
        event(f"Konzert {day}", NOW - timedelta(days=day))

    assert events_archive(now=NOW, batch=3) == 7
    assert Event.objects.filter(archived=False).count() == 0


def test_the_beat_task_runs_the_sweep():
    event("Konzert vor Monaten", local(2025, 1, 1, 20))

    assert events_archive_task() == 1
    assert archived_titles() == ["Konzert vor Monaten"]


def test_a_search_finds_the_same_events_before_and_after_the_sweep():
    event("Konzert vor einem Monat", NOW - timedelta(days=30))
    event("Konzert gestern Abend", NOW - timedelta(hours=20))
    event("Konzert morgen", NOW + timedelta(days=1))
    searches = [
        {"q": "Konzert", "now": NOW},
        {"q": "Konzert", "now": NOW, "ordering": "start"},
        # "today" and windows starting up to two days back: nothing archived ends in them.
        {"q": "Konzert", "start": NOW - timedelta(hours=30), "now": NOW},
        # Into the past: the archive is searched.
        {"q": "Konzert", "start": NOW - timedelta(days=40), "now": NOW},
        {"start": NOW - timedelta(days=40), "now": NOW},
    ]

    def results():
        return [[e.title for e in event_search(**search)] for search in searches]

    before = results()
    assert events_archive(now=NOW) == 1
    after = results()

    assert after == before
    assert after[0] == ["Konzert morgen"]
    assert after[2] == ["Konzert gestern Abend", "Konzert morgen"]
    assert "Konzert vor einem Monat" in after[3]


def plan_with_only_the_archive_free_index(queryset) -> str:
    """The plan when the index without the archive is the only way in but a full scan (the
    others dropped inside the test's transaction, which rolls back; whatever the table's
    statistics left by earlier tests)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'events_event'"
            " AND indexname <> 'event_search_current_gin' AND indexdef NOT LIKE '%UNIQUE%'"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
        for scan in ("seqscan", "indexscan", "indexonlyscan"):  # a walk of the whole primary key
            cursor.execute(f"SET LOCAL enable_{scan} = off")
        return queryset.explain()


def test_a_search_from_today_on_can_read_the_index_without_the_archive():
    event("Konzert vor einem Monat", NOW - timedelta(days=30))
    event("Konzert morgen", NOW + timedelta(days=1))
    events_archive(now=NOW)

    current = event_search(q="Konzert", now=NOW, ordering="start")
    past = event_search(q="Konzert", start=NOW - timedelta(days=40), now=NOW, ordering="start")

    current_plan = plan_with_only_the_archive_free_index(current)
    past_plan = plan_with_only_the_archive_free_index(past)
    assert "Bitmap Index Scan on event_search_current_gin" in current_plan, current_plan
    assert "event_search_current_gin" not in past_plan, past_plan


def test_an_archived_event_its_feed_moves_to_a_new_date_leaves_the_archive():
    """A feed only brings events still to come (events.ical): one it moves to a later date
    under the same UID must be searchable again, not stay in the archive."""
    first = calendar(vevent("l1", "Lesung", local(2026, 10, 2, 19), local(2026, 10, 2, 21)))
    moved = calendar(vevent("l1", "Lesung", local(2026, 10, 20, 19), local(2026, 10, 20, 21)))
    feed_import(source="t", data=first, now=NOW)
    later = NOW + timedelta(days=5)
    assert events_archive(now=later) == 1

    summary = feed_import(source="t", data=moved, now=later)

    assert summary.updated == 1
    assert archived_titles() == []
    assert [e.title for e in event_search(q="Lesung", now=later)] == ["Lesung"]


def test_an_archived_event_an_editor_moves_to_a_later_date_leaves_the_archive():
    from django.contrib import admin

    past = event("Lesung", timezone.now() - timedelta(days=10))
    events_archive()
    past.refresh_from_db()
    assert past.archived

    past.start = timezone.now() + timedelta(days=3)
    past.end = past.start + timedelta(hours=2)
    admin.site._registry[Event].save_model(None, past, None, True)

    assert [e.title for e in event_search(q="Lesung")] == ["Lesung"]
