"""The one place that tells the world outside PostgreSQL that a report changed.

Every change of a report (each `event_record`, and a moved public point) calls
`report_publish` inside its transaction. That records an outbox item (one per report and
transaction: later calls merge into it); right after the commit, in the same process, the
report's cached map tiles (old and new position) are dropped and open dispatcher maps are told.
When Redis is down the item stays pending and the sweep retries it; the change itself never
fails because of it. No model signals: a `QuerySet.update()` publishes by calling this too.
"""

from django.contrib.gis.geos import Point

from reports.models import OutboxItem, Report
from reports.outbox import outbox_enqueue, outbox_handler

PUBLISH = "report_published"


def report_publish(*, report: Report, kind: str = "", moved_from: Point | None = None) -> None:
    points = [[p.x, p.y] for p in (report.public_location, moved_from) if p is not None]
    outbox_enqueue(
        kind=PUBLISH,
        report=report,
        payload={"id": report.pk, "kind": kind, "points": points},
        coalesce=True,
    )


@outbox_handler(PUBLISH, inline=True)
def _published(item: OutboxItem) -> None:
    from reports import live
    from reports.tilecache import reports_tiles_invalidate

    report_id = item.payload.get("id") or item.report_id
    points = [tuple(p) for p in item.payload.get("points", [])]
    now_at = Report.objects.filter(pk=report_id).values_list("public_location", flat=True).first()
    reports_tiles_invalidate(points=[*points, now_at])
    if report_id:
        live.report_changed(report_id=report_id, kind=item.payload.get("kind", ""), strict=True)
