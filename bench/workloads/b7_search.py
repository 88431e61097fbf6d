"""B7 event search on the seeded events (German titles and descriptions), first page of 20,
ranked.

Ours is the events app's selector `events.selectors.event_search(q=...)` (stored search vector
in German and English, websearch syntax, SearchRank over the RANKED_MATCHES matches nearest in
time, found through a GiST index on start, end and the search vector for a common term and
through the GIN index for a rare one). The baselines: the textbook Django full-text query as
Linked Events (Helsinki) writes it -- a `websearch` SearchQuery and SearchRank over a
SearchVector of title and description built at query time -- and `ILIKE` on title and
description, every word, ordered by start. Same events, same time window (still to come, not
retired), same terms, same page size, interleaved rounds.

Common terms are in 1 of 16 events (thousands still to come): ILIKE with LIMIT 20 could stop
early on them, were it not for the start order over a window defined by the end (it walks the
past events first). Less common terms (a few hundred matches) are measured too, where no scan
can stop early."""

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db.models import F, Q
from django.utils import timezone

from bench import core, seed
from events.models import Event
from events.selectors import event_search

TERMS = ["Konzert", "Flohmarkt", "Weihnachtsmarkt Altstadt", "Kinderfest", "Radtour Elbufer"]
LESS_COMMON = [
    "Sommerlicher Tanzabend Pieschen",
    "Orgelkonzert Frauenkirche Anmeldung",
    "Bunter Filmvorführung Striesen",
]
PAGE = 20


def run(run: core.Run, config: dict) -> None:
    seeded = seed.events(config["scale"])
    if seeded:
        run.notes.append(f"B7: seeded {seeded:,} events")
    total = Event.objects.count()
    now = timezone.now()

    def ours(term):
        return [e.pk for e in event_search(q=term, now=now)[:PAGE]]

    def linked_events(term):
        vector = SearchVector("title", "description", config="german")
        query = SearchQuery(term, config="german", search_type="websearch")
        return [
            e.pk
            for e in Event.objects.annotate(search_text=vector)
            .filter(end__gte=now, retired_at__isnull=True, search_text=query)
            .annotate(rank=SearchRank(F("search_text"), query))
            .order_by("-rank", "start", "id")[:PAGE]
        ]

    def ilike(term):
        condition = Q()
        for word in term.split():
            condition &= Q(title__icontains=word) | Q(description__icontains=word)
        return [
            e.pk
            for e in Event.objects.filter(
                condition, end__gte=now, retired_at__isnull=True
            ).order_by("start", "id")[:PAGE]
        ]

    def matches(term):
        query = SearchQuery(term, config="german", search_type="websearch") | SearchQuery(
            term, config="english", search_type="websearch"
        )
        return Event.objects.current().filter(end__gte=now, search=query).count()

    for term in TERMS + LESS_COMMON:
        assert ours(term), f"no event found for {term!r}"
    counts = ", ".join(f"{t} {matches(t):,}" for t in TERMS + LESS_COMMON)
    run.notes.append(f"B7: matches still to come: {counts}")
    lat = []
    for _ in range(10 if config["quick"] else 20):
        for term in TERMS:
            lat += core.latencies(lambda t=term: ours(t), 1)
    size = f"{total:,} events, {len(TERMS)} common terms, page of {PAGE}"
    core.limit_row(
        run,
        "B7 search",
        size,
        "p95 ms",
        core.percentile(lat, 95) * 1000,
        limit=20,
        note=f"p50 {core.percentile(lat, 50) * 1000:.1f} ms",
    )
    medians = core.interleaved(
        {
            "ours": lambda: [ours(t) for t in TERMS],
            "linked": lambda: [linked_events(t) for t in TERMS],
            "ilike": lambda: [ilike(t) for t in TERMS],
        }
    )
    rate = {k: len(TERMS) / v for k, v in medians.items()}
    core.ratio_row(
        run,
        "B7 search",
        size,
        "searches/s",
        rate["ours"],
        rate["linked"],
        goal=4,
        versus="websearch+SearchRank (Linked Events)",
    )
    core.ratio_row(
        run, "B7 search", size, "searches/s", rate["ours"], rate["ilike"], goal=100, versus="ILIKE"
    )
    rare = core.interleaved(
        {
            "ours": lambda: [ours(t) for t in LESS_COMMON],
            "ilike": lambda: [ilike(t) for t in LESS_COMMON],
        }
    )
    rare_rate = {k: len(LESS_COMMON) / v for k, v in rare.items()}
    core.ratio_row(
        run,
        "B7 search",
        f"{total:,} events, {len(LESS_COMMON)} less common terms, page of {PAGE}",
        "searches/s",
        rare_rate["ours"],
        rare_rate["ilike"],
        goal=100,
        versus="ILIKE",
        note=f"ours {rare['ours'] / len(LESS_COMMON) * 1000:.1f} ms a search",
    )
