"""B7 event search on the seeded events (German titles and descriptions), first page of 20,
ranked.

Ours is the events app's selector `events.selectors.event_search(q=...)` (stored, GIN-indexed
`search` vector in German and English, websearch syntax, SearchRank). The baselines: the
textbook Django full-text query as Linked Events (Helsinki) writes it -- a `websearch`
SearchQuery and SearchRank over a SearchVector of title and description built at query time --
and `ILIKE` on title and description. Same events, same time window (still to come), same
terms, same page size, interleaved rounds."""

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db.models import F, Q
from django.utils import timezone

from bench import core, seed
from events.models import Event
from events.selectors import event_search

TERMS = ["Konzert", "Flohmarkt", "Weihnachtsmarkt Altstadt", "Kinderfest", "Radtour Elbufer"]
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

    for term in TERMS:
        assert ours(term), f"no event found for {term!r}"
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
