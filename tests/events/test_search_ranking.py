"""Relevance ordering of the event search: the best match first, among the matches nearest in
time (events.selectors.RANKED_MATCHES), the same whichever index finds them."""

from datetime import timedelta

import pytest
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import F, Value

from events import selectors
from events.models import Event, Feed, search_lexemes
from events.selectors import event_search
from tests.events.helpers import local

pytestmark = pytest.mark.django_db

NOW = local(2026, 10, 1, 12)


@pytest.fixture(params=["gin", "gist"])
def path(request, monkeypatch):
    """Both ways to find the nearest matches: the GIN index (few matches) and the GiST index
    in time order (many; forced here by a threshold of 0)."""
    if request.param == "gist":
        monkeypatch.setattr(selectors, "KNN_ABOVE_MATCHES", -1)
    else:
        monkeypatch.setattr(selectors, "KNN_ABOVE_MATCHES", 10**9)
    return request.param


def event(title, start, *, description="", hours=2, **extra) -> Event:
    feed, _ = Feed.objects.get_or_create(source="ranking")
    return Event.objects.create(
        feed=feed,
        uid=f"{title}-{start.isoformat()}",
        title=title,
        description=description,
        start=start,
        end=start + timedelta(hours=hours),
        **extra,
    )


def titles(events) -> list[str]:
    return [e.title for e in events]


def test_best_match_ranks_first_ahead_of_sooner_weaker_ones(path):
    for day in range(2, 12):
        event(f"Lesung {day}", local(2026, 10, day, 19), description="Danach ein kleines Konzert.")
    event("Konzert im Kulturpalast", local(2026, 10, 20, 19), description="Ein Konzert.")
    found = titles(event_search(q="Konzert", now=NOW))
    assert found[0] == "Konzert im Kulturpalast"
    # The weaker matches follow, soonest first.
    assert found[1:] == [f"Lesung {day}" for day in range(2, 12)]


def test_only_the_matches_nearest_in_time_are_ranked(path, monkeypatch):
    monkeypatch.setattr(selectors, "RANKED_MATCHES", 3)
    for day in (2, 3, 4, 5):
        event(f"Lesung {day}", local(2026, 10, day, 19), description="Mit Konzert.")
    event("Konzert im Kulturpalast", local(2026, 12, 20, 19))
    event("Markt", local(2026, 10, 2, 9))
    # The three matches nearest to now, ranked (equal here, so soonest first); the title
    # match in December is beyond them.
    assert titles(event_search(q="Konzert", now=NOW)) == ["Lesung 2", "Lesung 3", "Lesung 4"]
    # Listed by time, every match is there.
    assert len(event_search(q="Konzert", ordering="start", now=NOW)) == 5
    # A later window brings December's concert in, and ranks it first.
    december = event_search(q="Konzert", now=local(2026, 12, 1))
    assert titles(december) == ["Konzert im Kulturpalast"]


def test_running_events_count_past_and_retired_ones_do_not(path):
    event("Konzertreihe läuft", local(2026, 9, 30, 10), hours=72, description="Konzert")
    event("Konzert vorbei", local(2026, 9, 30, 10), hours=2)
    event("Konzert gestrichen", local(2026, 10, 3, 10), retired_at=local(2026, 9, 1))
    event("Konzert", local(2026, 10, 5, 10))
    assert titles(event_search(q="Konzert", now=NOW)) == ["Konzert", "Konzertreihe läuft"]


def test_filters_and_search_syntax_hold_on_both_paths(path):
    event("Großer Garten Konzert", local(2026, 10, 3, 19), category="music")
    event("Konzert im Garten", local(2026, 10, 4, 19), category="music")
    event("Konzert am Elbufer", local(2026, 10, 5, 19), category="market")
    assert titles(event_search(q='"Großer Garten"', now=NOW)) == ["Großer Garten Konzert"]
    assert titles(event_search(q="Konzert -Elbufer", category="music", now=NOW)) == [
        "Großer Garten Konzert",
        "Konzert im Garten",
    ]
    window = event_search(q="Konzert", start=local(2026, 10, 4), end=local(2026, 10, 6), now=NOW)
    assert titles(window) == ["Konzert im Garten", "Konzert am Elbufer"]
    assert list(event_search(q="Zirkus", now=NOW)) == []


def test_the_gist_index_hands_over_the_nearest_matches_in_time_order():
    """The candidate query and the index spell the same expression: the planner can walk the
    index in `start <-> t` order with the text checked inside it (no sort, no GIN)."""
    event("Konzert", local(2026, 10, 5, 10))
    query = SearchQuery("Konzert", config="german", search_type="websearch")
    nearest = (
        Event.objects.current()
        .unarchived()
        .filter(end__gte=NOW)
        .alias(lexemes=search_lexemes())
        .filter(lexemes=query)
        .order_by(selectors.TimeGap(F("start"), Value(NOW)))[:10]
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        plan = nearest.explain()
    assert "Index Scan using event_start_end_search_gist" in plan
    assert "Order By: (start <-> " in plan
    assert "Sort" not in plan.replace("Order By", "")
