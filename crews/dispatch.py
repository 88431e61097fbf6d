"""What a dispatcher does to a ticket. Every action is recorded as a ReportEvent."""

import logging
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from crews.deadlines import compute_due_at
from crews.models import Assignment, Crew
from crews.selectors import crew_for
from crews.services import assignment_create, assignment_reassign
from reports.models import Category, Report, ReportEvent, ReportFlag, ReportPhoto
from reports.publish import report_publish
from reports.services import (
    event_record,
    report_flag_resolve,
    report_public_location_refresh,
    report_route_set,
    report_transition,
)

logger = logging.getLogger(__name__)

S = Report.Status

CATEGORY_UNCHANGED = gettext_lazy("The ticket already has the category '{code}'.")
DEADLINE_NEEDS_REASON = gettext_lazy("Setting a deadline by hand needs a reason.")
PRIORITY_INVALID = gettext_lazy("Priority must be between 0 (normal) and {max}.")
MERGE_SAME = gettext_lazy("A ticket cannot be merged into itself.")
MERGE_TARGET_CLOSED = gettext_lazy("Ticket #{id} is closed; merge into an open ticket.")
MERGE_SOURCE_CLOSED = gettext_lazy("Ticket #{id} is already closed and cannot be merged.")
REOPEN_NOT_CLEARED = gettext_lazy(
    "Only a cleared or rejected ticket can be reopened here (ticket #{id} is '{status}')."
)
FLAG_NOT_OPEN = gettext_lazy("This flag was cleared already.")
REOPEN_NEEDS_REASON = gettext_lazy("Reopening a ticket needs a reason.")
TICKET_CLOSED = gettext_lazy("Ticket #{id} is closed.")
RELEASE_NOT_ASSIGNED = gettext_lazy("Ticket #{id} has no crew.")
RELEASE_NEEDS_REASON = gettext_lazy("Taking a ticket away from its crew needs a reason.")
MAX_PRIORITY = 3
SEEN = "seen"


def _lock(report: Report) -> Report:
    return Report.objects.select_for_update().select_related("category").get(pk=report.pk)


def _actor(actor: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return actor if actor is not None and actor.is_authenticated else None


@transaction.atomic
def dispatch_reassign(
    *, report: Report, crew: Crew, actor: AbstractBaseUser | None, reason: str
) -> Assignment:
    """Hand the ticket to another crew; the old assignment stays as history."""
    current = _lock(report)
    if not current.is_open:
        raise ValidationError(TICKET_CLOSED.format(id=current.pk))
    return assignment_reassign(report=current, crew=crew, actor=actor, reason=reason)


@transaction.atomic
def dispatch_change_category(
    *,
    report: Report,
    category: Category,
    actor: AbstractBaseUser | None,
    due_at: datetime | None = None,
    reason: str = "",
) -> Report:
    """New category: route again (the crew may change) and recompute the deadline from the time
    of receipt under the new category's policy, unless the dispatcher sets one with a reason."""
    current = _lock(report)
    if not current.is_open:
        raise ValidationError(TICKET_CLOSED.format(id=current.pk))
    if current.category_id == category.pk:
        raise ValidationError(CATEGORY_UNCHANGED.format(code=category.code))
    if due_at is not None and not reason.strip():
        raise ValidationError(DEADLINE_NEEDS_REASON)
    old_category = current.category
    if due_at is None:
        due_at = compute_due_at(
            start=current.created_at,
            unit=category.deadline_unit,
            amount=category.deadline_amount,
        )
    Report.objects.filter(pk=current.pk).update(
        category=category, version=F("version") + 1, updated_at=timezone.now()
    )
    report_publish(report=current, kind="category")  # the tiles show the category
    # A sensitive category shows only a coarse point to the public: recompute it now.
    report_public_location_refresh(report=current)
    current.refresh_from_db()
    active = current.assignments.filter(active=True).select_related("crew").first()
    crew = crew_for(district=current.district, category=category) if current.district else None
    note = reason.strip() or f"Category changed from {old_category.code} to {category.code}."
    if crew is not None and (active is None or active.crew_id != crew.pk):
        assignment_create(report=current, crew=crew, due_at=due_at, actor=actor, reason=note)
    elif crew is not None:
        Assignment.objects.filter(pk=active.pk).update(
            due_at=due_at, late_flagged_at=None, late_notified_at=None
        )
        report_route_set(report=current, due_at=due_at, status=current.status)
    else:
        if active is not None:
            _end_assignment(active)
        report_route_set(report=current, due_at=due_at, status=S.NEW)
    current.refresh_from_db()
    event_record(
        report=current,
        kind=ReportEvent.Kind.NOTE,
        actor=actor,
        note=note,
        public=False,
        data={
            "action": "category",
            "from_category": old_category.code,
            "category": category.code,
            "crew": crew.code if crew else None,
            "due_at": due_at.isoformat(),
            "due_at_manual": bool(reason.strip()) and due_at is not None,
        },
    )
    return current


def _end_assignment(assignment: Assignment) -> None:
    assignment.active = False
    assignment.ended_at = timezone.now()
    assignment.save(update_fields=["active", "ended_at"])


@transaction.atomic
def dispatch_set_priority(
    *, report: Report, priority: int, actor: AbstractBaseUser | None
) -> Report:
    if not 0 <= priority <= MAX_PRIORITY:
        raise ValidationError(PRIORITY_INVALID.format(max=MAX_PRIORITY))
    current = _lock(report)
    old = current.priority
    Report.objects.filter(pk=current.pk).update(
        priority=priority, version=F("version") + 1, updated_at=timezone.now()
    )
    current.refresh_from_db()
    event_record(
        report=current,
        kind=ReportEvent.Kind.NOTE,
        actor=actor,
        public=False,
        note=f"Priority {old} → {priority}.",
        data={"action": "priority", "from_priority": old, "priority": priority},
    )
    return current


@transaction.atomic
def dispatch_merge(
    *, duplicate: Report, keep: Report, actor: AbstractBaseUser | None, note: str = ""
) -> Report:
    """Close `duplicate` as a duplicate of `keep`; its photos and its confirmations move to
    `keep`, and its reporter counts as one more confirmation of `keep`."""
    if duplicate.pk == keep.pk:
        raise ValidationError(MERGE_SAME)
    # Lock both rows in id order so two merges of the same pair cannot deadlock.
    locked = {
        r.pk: r for r in Report.objects.select_for_update().filter(pk__in=[duplicate.pk, keep.pk])
    }
    dup, kept = locked[duplicate.pk], locked[keep.pk]
    if not kept.is_open:
        raise ValidationError(MERGE_TARGET_CLOSED.format(id=kept.pk))
    if not dup.is_open:
        raise ValidationError(MERGE_SOURCE_CLOSED.format(id=dup.pk))
    photo_ids = list(dup.photos.values_list("pk", flat=True))
    moved_confirmations = dup.confirmations_count + 1
    report_transition(
        report=dup,
        to=S.DUPLICATE,
        actor=actor,
        note=note.strip() or f"Merged into #{kept.pk}.",
        duplicate_of=kept,
    )
    ReportPhoto.objects.filter(pk__in=photo_ids).update(report=kept)
    Report.objects.filter(pk=dup.pk).update(confirmations_count=0)
    Report.objects.filter(pk=kept.pk).update(
        confirmations_count=F("confirmations_count") + moved_confirmations,
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    for assignment in dup.assignments.filter(active=True):
        _end_assignment(assignment)
    kept.refresh_from_db()
    event_record(
        report=kept,
        kind=ReportEvent.Kind.NOTE,
        actor=actor,
        public=True,
        note=f"Report #{dup.pk} was merged into this one.",
        data={
            "action": "merge",
            "merged": dup.pk,
            "photos": photo_ids,
            "confirmations": moved_confirmations,
        },
    )
    return kept


@transaction.atomic
def dispatch_reopen(
    *,
    report: Report,
    actor: AbstractBaseUser | None,
    reason: str,
    due_at: datetime | None = None,
) -> Report:
    """Reopen a ticket that was cleared by mistake, or rejected by a crew that should not have
    (or that the dispatcher wants to hand elsewhere): back to its crew (or to the pool).
    The deadline stays as it was unless the dispatcher sets a new one."""
    if not reason.strip():
        raise ValidationError(REOPEN_NEEDS_REASON)
    current = _lock(report)
    if current.status not in (S.CLEARED, S.REJECTED):
        raise ValidationError(REOPEN_NOT_CLEARED.format(id=current.pk, status=current.status))
    active = current.assignments.filter(active=True).first()
    current = report_transition(
        report=current,
        to=S.ASSIGNED if active else S.NEW,
        actor=actor,
        note=reason.strip(),
    )
    if due_at is not None:
        if active is not None:
            Assignment.objects.filter(pk=active.pk).update(
                due_at=due_at, late_flagged_at=None, late_notified_at=None
            )
        current = report_route_set(report=current, due_at=due_at, status=current.status)
    return current


@transaction.atomic
def dispatch_release(*, report: Report, actor: AbstractBaseUser | None, reason: str) -> Report:
    """Take the ticket away from its crew without giving it to another (back to the pool)."""
    if not reason.strip():
        raise ValidationError(RELEASE_NEEDS_REASON)
    current = _lock(report)
    active = current.assignments.filter(active=True).select_related("crew").first()
    if active is None:
        raise ValidationError(RELEASE_NOT_ASSIGNED.format(id=current.pk))
    _end_assignment(active)
    if current.status == S.ASSIGNED:
        current = report_transition(report=current, to=S.NEW, actor=actor, note=reason.strip())
    event_record(
        report=current,
        kind=ReportEvent.Kind.UNASSIGNED,
        actor=actor,
        public=False,
        note=reason.strip(),
        data={"action": "release", "from_crew": active.crew.code},
    )
    return current


@transaction.atomic
def dispatch_flag_clear(
    *, report: Report, flag_id: int, actor: AbstractBaseUser | None, note: str = ""
) -> ReportFlag:
    """The dispatcher dealt with a flag: it leaves the "needs attention" list, with a history
    entry saying who cleared it and why."""
    flag = ReportFlag.objects.filter(pk=flag_id, report=report, resolved_at__isnull=True).first()
    if flag is None:
        raise ValidationError(FLAG_NOT_OPEN)
    return report_flag_resolve(flag=flag, actor=_actor(actor), note=note)


@transaction.atomic
def dispatch_mark_seen(*, report: Report, actor: AbstractBaseUser | None) -> Report:
    """A dispatcher looked at a new ticket (category, place, crew): it is no longer "new" on the
    live map. Seen twice is recorded once."""
    current = _lock(report)
    if not current.events.filter(data__action=SEEN).exists():
        event_record(
            report=current,
            kind=ReportEvent.Kind.NOTE,
            actor=_actor(actor),
            public=False,
            data={"action": SEEN},
        )
    return current
