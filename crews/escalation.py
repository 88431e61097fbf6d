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
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, override

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


# Crews and dispatchers read German (settings.LANGUAGE_CODE); times in the city's zone.
def _ticket_line(report: Report, due_at: datetime | None) -> str:
    where = report.place_name or (report.district.name if report.district_id else "–")
    line = _("#%(id)s %(category)s, %(place)s") % {
        "id": report.pk,
        "category": report.category.name,
        "place": where,
    }
    if due_at:
        due = date_format(timezone.localtime(due_at), "SHORT_DATETIME_FORMAT")
        line += ", " + _("due %(due)s") % {"due": due}
    return f"{line}: {settings.SITE_URL.rstrip('/')}/dispatch/reports/{report.pk}/"


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
                # Shown translated from `data` (frontend.templatetags.wording.event_note).
                data={
                    "action": "late",
                    "crew": assignment.crew.code,
                    "due_at": assignment.due_at.isoformat() if assignment.due_at else None,
                },
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
    with override(settings.LANGUAGE_CODE):
        return _escalation_run(now=now)


def _escalation_run(*, now: datetime) -> EscalationResult:
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
        subject = ngettext(
            "%(n)s ticket late for %(crew)s", "%(n)s tickets late for %(crew)s", len(lines)
        ) % {"n": len(lines), "crew": crew.name}
        result.emails += _send(f"[civicmap] {subject}", lines, recipients)
    if late and dispatchers:
        lines = [f"{_ticket_line(a.report, a.due_at)} ({a.crew.name})" for a in late]
        subject = ngettext("%(n)s ticket became late", "%(n)s tickets became late", len(lines)) % {
            "n": len(lines)
        }
        result.emails += _send(f"[civicmap] {subject}", lines, dispatchers)
    if unassigned and dispatchers:
        lines = [_ticket_line(r, r.due_at) for r in unassigned]
        subject = ngettext(
            "%(n)s ticket without a crew for over %(minutes)s minutes",
            "%(n)s tickets without a crew for over %(minutes)s minutes",
            len(lines),
        ) % {"n": len(lines), "minutes": settings.UNASSIGNED_NOTIFY_MINUTES}
        result.emails += _send(f"[civicmap] {subject}", lines, dispatchers)
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
