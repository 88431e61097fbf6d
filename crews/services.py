import logging
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.validation import model_validate
from crews.models import Assignment, Crew
from crews.selectors import Route, route_compute
from events.models import BULKY_WASTE
from events.selectors import pickup_check
from reports.models import Report, ReportEvent, ReportFlag
from reports.services import event_record, report_create, report_flag_add, report_route_set

logger = logging.getLogger(__name__)

ASSIGNMENT_REPORT_CLOSED = gettext_lazy("Report #{id} is closed and cannot be assigned.")
REASSIGN_NEEDS_REASON = gettext_lazy("Reassigning a ticket needs a reason.")
REASSIGN_SAME_CREW = gettext_lazy("The ticket is already assigned to {crew}.")


@transaction.atomic
def assignment_create(
    *,
    report: Report,
    crew: Crew,
    due_at: datetime,
    actor: AbstractBaseUser | None = None,
    reason: str = "",
) -> Assignment:
    """Hand a report to a crew; an earlier active assignment is ended and kept as history."""
    report = Report.objects.select_for_update().get(pk=report.pk)
    if not report.is_open:
        raise ValidationError(ASSIGNMENT_REPORT_CLOSED.format(id=report.pk))
    previous = report.assignments.filter(active=True).select_related("crew").first()
    if previous is not None:
        previous.active = False
        previous.ended_at = timezone.now()
        previous.save(update_fields=["active", "ended_at"])
    assignment = Assignment(
        report=report,
        crew=crew,
        due_at=due_at,
        assigned_by=actor if actor is not None and actor.is_authenticated else None,
        reason=reason,
    )
    model_validate(assignment)
    assignment.save()
    report_route_set(report=report, due_at=due_at, status=Report.Status.ASSIGNED)
    event_record(
        report=report,
        kind=ReportEvent.Kind.REASSIGNED if previous else ReportEvent.Kind.ASSIGNED,
        actor=actor,
        note=reason,
        public=previous is None,
        data={
            "crew": crew.code,
            "from_crew": previous.crew.code if previous else None,
            "due_at": due_at.isoformat(),
        },
    )
    return assignment


@transaction.atomic
def report_dispatch(*, report: Report, now: datetime | None = None) -> Route:
    """Route a new report: district → crew → deadline. No crew: kept unassigned, never dropped."""
    now = now or report.created_at or timezone.now()
    route = route_compute(
        point=report.location, category=report.category, now=now, district=report.district
    )
    if route.crew is not None:
        assignment_create(report=report, crew=route.crew, due_at=route.due_at)
    else:
        report_route_set(report=report, due_at=route.due_at, status=Report.Status.NEW)
        event_record(
            report=report,
            kind=ReportEvent.Kind.UNASSIGNED,
            public=False,
            note="No crew serves this district and category.",
            data={"district": route.district.code if route.district else None},
        )
        logger.warning("report %s left unassigned: no crew for its district", report.pk)
    return route


@transaction.atomic
def assignment_reassign(
    *, report: Report, crew: Crew, actor: AbstractBaseUser | None, reason: str
) -> Assignment:
    if not reason.strip():
        raise ValidationError(REASSIGN_NEEDS_REASON)
    current = report.assignments.filter(active=True).first()
    if current is not None and current.crew_id == crew.pk:
        raise ValidationError(REASSIGN_SAME_CREW.format(crew=crew))
    due_at = current.due_at if current else report.due_at
    return assignment_create(
        report=report, crew=crew, due_at=due_at, actor=actor, reason=reason.strip()
    )


def report_flag_probable_pickup(*, report: Report) -> ReportFlag | None:
    """A new bulky-waste report next to a scheduled public collection is probably furniture
    put out for it: flag it for the dispatcher. (Lives here because it pairs events with
    reports; `report_submit` calls it for every entry point.)"""
    if report.category.code != BULKY_WASTE or report.location is None:
        return None
    check = pickup_check(point=report.location, day=timezone.localdate(report.created_at))
    if not check.probable:
        return None
    return report_flag_add(
        report=report,
        kind=ReportFlag.Kind.BOOKED_PICKUP,
        reason=check.flag_reason,
        data=check.flag_data,
    )


ROUTED_KINDS = (ReportEvent.Kind.ASSIGNED, ReportEvent.Kind.UNASSIGNED)


def report_submit(*, idempotency_key: str | None = None, **fields) -> tuple[Report, bool]:
    """The one way a report comes in (API, form, Open311): stored with its photos, routed to
    its crew with its deadline, and flagged (near a booked bulky-waste pickup) -- all in one
    transaction, so a report that is stored is routed. Returns (report, created).

    Takes the arguments of `reports.services.report_create`. A repeated `idempotency_key`
    returns the report the first call stored; should that one not be routed (stored before
    submissions were one transaction), the retry routes it now.
    """
    with transaction.atomic():
        report, created = report_create(idempotency_key=idempotency_key, **fields)
        if created:
            report_dispatch(report=report)
            report_flag_probable_pickup(report=report)
        elif report.is_open and not report.events.filter(kind__in=ROUTED_KINDS).exists():
            report = Report.objects.select_for_update().get(pk=report.pk)
            if not report.events.filter(kind__in=ROUTED_KINDS).exists():
                report_dispatch(report=report)
                report_flag_probable_pickup(report=report)
                logger.info("report %s routed on the retry of its submission", report.pk)
    report.refresh_from_db()
    return report, created
