"""Escalation, run by Celery beat every 5 minutes.

- Assignments that became late are marked, and their crew and the dispatchers get one email.
- Reports without a crew for longer than UNASSIGNED_NOTIFY_MINUTES: the dispatchers get one email.

Idempotent: what was notified is stored (`Assignment.late_notified_at`, `UnassignedNotice`) in
the same transaction that claims the rows, with `SKIP LOCKED`, so a second or concurrent run
notifies nobody twice. Mail goes out after the claim commits: a crash in between loses a
notice rather than sending it twice.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef

from crews.models import Assignment, UnassignedNotice
from crews.selectors import dispatcher_emails
from reports.models import Report, ReportEvent
from reports.services import event_record

logger = logging.getLogger(__name__)


@dataclass
class EscalationResult:
    late: list[int] = field(default_factory=list)
    unassigned: list[int] = field(default_factory=list)
    emails: int = 0


def _ticket_line(report: Report, due_at: datetime | None) -> str:
    due = f", due {due_at:%Y-%m-%d %H:%M %Z}" if due_at else ""
    where = report.district.name if report.district_id else "?"
    return (
        f"#{report.pk} {report.category.name_de} in {where}{due}: "
        f"{settings.SITE_URL}/dispatch/reports/{report.pk}/"
    )


def _claim_late(now: datetime) -> list[Assignment]:
    with transaction.atomic():
        rows = list(
            Assignment.objects.select_for_update(skip_locked=True, of=("self",))
            .late(now=now)
            .filter(late_notified_at__isnull=True)
            .select_related("crew", "report__category", "report__district")
            .order_by("due_at", "pk")
        )
        for assignment in rows:
            assignment.late_notified_at = now
            assignment.late_flagged_at = assignment.late_flagged_at or now
            assignment.save(update_fields=["late_notified_at", "late_flagged_at"])
            event_record(
                report=assignment.report,
                kind=ReportEvent.Kind.NOTE,
                public=False,
                note=f"Late: the deadline {assignment.due_at:%Y-%m-%d %H:%M} has passed.",
                data={"action": "late", "crew": assignment.crew.code},
            )
    return rows


def _claim_unassigned(now: datetime) -> list[Report]:
    since = now - timedelta(minutes=settings.UNASSIGNED_NOTIFY_MINUTES)
    with transaction.atomic():
        reports = list(
            Report.objects.select_for_update(skip_locked=True, of=("self",))
            .open()
            .filter(created_at__lt=since)
            .exclude(Exists(Assignment.objects.filter(report=OuterRef("pk"), active=True)))
            .exclude(Exists(UnassignedNotice.objects.filter(report=OuterRef("pk"))))
            .select_related("category", "district")
            .order_by("created_at", "pk")
        )
        UnassignedNotice.objects.bulk_create(
            [UnassignedNotice(report=report, notified_at=now) for report in reports],
            ignore_conflicts=True,
        )
    return reports


def escalation_run(*, now: datetime) -> EscalationResult:
    result = EscalationResult()
    late = _claim_late(now)
    unassigned = _claim_unassigned(now)
    result.late = [a.report_id for a in late]
    result.unassigned = [r.pk for r in unassigned]
    dispatchers = dispatcher_emails()

    by_crew: dict[int, list[Assignment]] = {}
    for assignment in late:
        by_crew.setdefault(assignment.crew_id, []).append(assignment)
    for assignments in by_crew.values():
        crew = assignments[0].crew
        recipients = [crew.email] if crew.email else []
        if not recipients:
            recipients = sorted({m.email for m in crew.members.all() if m.email})
        if not recipients:
            logger.warning("crew %s has no email address for late notices", crew.code)
            continue
        lines = [_ticket_line(a.report, a.due_at) for a in assignments]
        result.emails += _send(
            f"[civicmap] {len(lines)} ticket(s) late for {crew.name}", lines, recipients
        )
    if late and dispatchers:
        lines = [f"{_ticket_line(a.report, a.due_at)} ({a.crew.name})" for a in late]
        result.emails += _send(f"[civicmap] {len(lines)} ticket(s) became late", lines, dispatchers)
    if unassigned and dispatchers:
        lines = [_ticket_line(r, r.due_at) for r in unassigned]
        result.emails += _send(
            f"[civicmap] {len(lines)} ticket(s) without a crew for over "
            f"{settings.UNASSIGNED_NOTIFY_MINUTES} minutes",
            lines,
            dispatchers,
        )
    if result.late or result.unassigned:
        logger.info(
            "escalation: %d late, %d unassigned, %d emails",
            len(result.late),
            len(result.unassigned),
            result.emails,
        )
    return result


def _send(subject: str, lines: list[str], recipients: list[str]) -> int:
    body = "\n".join(lines) + "\n"
    try:
        return send_mail(subject, body, None, recipients)
    except OSError as exc:
        logger.error("escalation mail %r to %s failed: %s", subject, recipients, exc)
        return 0
