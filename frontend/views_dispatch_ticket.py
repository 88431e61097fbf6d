"""One ticket for the dispatcher: facts, what needs attention and what to do about it, a map
with the open tickets around it (to merge with one of them), and the actions."""

from datetime import datetime
from functools import wraps

import folium
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crews import dispatch
from crews.models import Crew
from crews.queue import duplicate_candidates
from crews.selectors import (
    assignment_active,
    assignment_history,
    crews_serving,
    deadline_state,
    open_ticket_feature,
)
from frontend.auth import safe_next
from frontend.maps import base_map, map_parts
from frontend.views_dispatch import STATE_COLOURS, _context, _state_labels, dispatcher_required
from reports.models import Report, ReportFlag
from reports.selectors import category_list
from reports.services import ReportChangedMeanwhile, category_by_code

# Open tickets this close may be the same problem: the merge offers exactly these.
MERGE_METERS = 50

# What a dispatcher does about each kind of flag (shown next to the flag on the ticket page).
FLAG_ADVICE = {
    ReportFlag.Kind.REOPENED: gettext_lazy(
        "The resident says it is not fixed. Read the note and look at the new photo, tell the "
        "crew or hand the ticket to another one, then clear the flag."
    ),
    ReportFlag.Kind.AFTER_PHOTO: gettext_lazy(
        "Compare the after-photo with the resident's photo. If it shows another place or an "
        "older state, reopen the ticket; otherwise clear the flag."
    ),
    ReportFlag.Kind.PHOTO_LOCATION: gettext_lazy(
        "Check that the photo shows this place (the pin may be wrong); hide the photo in "
        "moderation if it does not, then clear the flag."
    ),
    ReportFlag.Kind.PHOTO_AGE: gettext_lazy(
        "The photo is older than the report: check whether the problem still exists before "
        "the crew drives out, then clear the flag."
    ),
    ReportFlag.Kind.BOOKED_PICKUP: gettext_lazy(
        "Probably waste put out for a booked pickup: check the pickup date. If so, close the "
        "ticket as a duplicate or have the crew reject it; otherwise clear the flag."
    ),
    ReportFlag.Kind.CREW_ANSWER: gettext_lazy(
        "The crew rejected the ticket. Accept that by clearing the flag, or reopen the ticket "
        "and hand it to the crew responsible."
    ),
    ReportFlag.Kind.PHOTO_MISSING: gettext_lazy(
        "The client sent only a link instead of a photo. Open the link yourself (it is not "
        "fetched) or have the crew look on site, then clear the flag."
    ),
    ReportFlag.Kind.PUBLIC_FLAG: gettext_lazy(
        "Someone finds this report inappropriate: approve or hide it in moderation (that clears "
        "the flag)."
    ),
    ReportFlag.Kind.OTHER: gettext_lazy("Read the reason, act on it, then clear the flag."),
}
NEW_ADVICE = gettext_lazy(
    "New ticket: check the category, the place on the map and the crew, merge it if it "
    "duplicates a ticket nearby, then mark it as seen."
)


def _history(report: Report) -> list:
    """The ticket's events, a flag's clearing and "seen" said in words (their note may be
    empty)."""
    labels = dict(ReportFlag.Kind.choices)
    events = list(report.events.select_related("actor").order_by("created_at", "id"))
    for event in events:
        if event.data.get("flag_cleared"):
            kind = labels.get(event.data["flag_cleared"], event.data["flag_cleared"])
            event.action_text = _("flag cleared: %(kind)s") % {"kind": kind}
        elif event.data.get("action") == dispatch.SEEN:
            event.action_text = _("marked as seen")
        elif event.data.get("flag"):
            kind = labels.get(event.data["flag"], event.data["flag"])
            event.action_text = _("flagged: %(kind)s") % {"kind": kind}
    return events


def _ticket_map(report: Report, nearby: list[Report]):
    """The ticket (large, dark ring) and the open tickets within MERGE_METERS (numbered in the
    merge list), at street level."""
    fmap = base_map(zoom=18, height="100%")
    fmap.location = [report.location.y, report.location.x]
    for other in nearby:
        folium.CircleMarker(
            location=[other.location.y, other.location.x],
            radius=9,
            color="#1e3a8a",
            weight=2,
            fill=True,
            fill_color="#93c5fd",
            fill_opacity=0.9,
            class_name=f"nearby-marker nearby-{other.pk}",
            tooltip=f"#{other.pk} {other.category.name} ({other.distance.m:.0f} m)",
        ).add_to(fmap)
    folium.CircleMarker(
        location=[report.location.y, report.location.x],
        radius=12,
        color="#111827",
        weight=4,
        fill=True,
        fill_color="#f59e0b",
        fill_opacity=1,
        class_name="this-ticket-marker",
        tooltip=_("This ticket: #%(id)s") % {"id": report.pk},
    ).add_to(fmap)
    return map_parts(fmap)


def _reassign_suggestion(report: Report, current: Crew | None) -> Crew | None:
    return next((c for c in crews_serving(report=report) if current is None or c != current), None)


@dispatcher_required
def ticket(request, pk: int):
    report = get_object_or_404(
        Report.objects.select_related("category", "district", "duplicate_of"), pk=pk
    )
    active = assignment_active(report=report)
    now = timezone.now()
    feature = open_ticket_feature(report_id=report.pk, now=now)
    flags = list(report.flags.filter(resolved_at__isnull=True).order_by("created_at", "id"))
    for flag in flags:
        flag.advice = FLAG_ADVICE.get(flag.kind, FLAG_ADVICE[ReportFlag.Kind.OTHER])
    nearby = (
        list(duplicate_candidates(report=report, meters=MERGE_METERS)[:20])
        if report.is_open
        else []
    )
    return render(
        request,
        "frontend/dispatch/ticket.html",
        _context(
            report=report,
            active=active,
            state=deadline_state(due_at=report.due_at, assigned=active is not None, now=now)
            if report.is_open
            else None,
            labels=_state_labels(),
            colours=STATE_COLOURS,
            flags=flags,
            is_new=bool(feature and feature["properties"]["new"]),
            new_advice=NEW_ADVICE,
            nearby=nearby,
            merge_meters=MERGE_METERS,
            map=_ticket_map(report, nearby),
            history=assignment_history(report=report),
            events=_history(report),
            photos=report.photos.all(),
            crews=crews_serving(report=report),
            suggested=_reassign_suggestion(report, active.crew if active else None),
            categories=category_list(),
            priorities=range(dispatch.MAX_PRIORITY + 1),
        ),
    )


def _ticket_action(action):
    @wraps(action)
    @require_POST
    @dispatcher_required
    def wrapper(request, pk: int):
        report = get_object_or_404(Report, pk=pk)
        try:
            message = action(request, report)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except ReportChangedMeanwhile as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, message)
        return redirect(safe_next(request, reverse("frontend:dispatch:ticket", args=[report.pk])))

    return wrapper


def _due_at(request) -> datetime | None:
    raw = request.POST.get("due_at", "").strip()
    if not raw:
        return None
    value = parse_datetime(raw)
    if value is None:
        raise ValidationError(_("The deadline is not a valid date and time."))
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@_ticket_action
def ticket_reassign(request, report: Report) -> str:
    crew = Crew.objects.filter(code=request.POST.get("crew", ""), active=True).first()
    if crew is None:
        raise ValidationError(_("Choose a crew."))
    dispatch.dispatch_reassign(
        report=report, crew=crew, actor=request.user, reason=request.POST.get("reason", "")
    )
    return _("Ticket #%(id)s reassigned to %(crew)s.") % {"id": report.pk, "crew": crew.name}


@_ticket_action
def ticket_category(request, report: Report) -> str:
    category = category_by_code(request.POST.get("category", ""))
    dispatch.dispatch_change_category(
        report=report,
        category=category,
        actor=request.user,
        due_at=_due_at(request),
        reason=request.POST.get("reason", ""),
    )
    return _("Category changed to %(name)s; the ticket was routed again.") % {"name": category.name}


@_ticket_action
def ticket_priority(request, report: Report) -> str:
    try:
        priority = int(request.POST.get("priority", ""))
    except ValueError as exc:
        raise ValidationError(_("Choose a priority.")) from exc
    dispatch.dispatch_set_priority(report=report, priority=priority, actor=request.user)
    return _("Priority set to %(p)s.") % {"p": priority}


@_ticket_action
def ticket_merge(request, report: Report) -> str:
    try:
        keep = Report.objects.get(pk=int(request.POST.get("into", "")))
    except (ValueError, Report.DoesNotExist) as exc:
        raise ValidationError(_("Choose the ticket to keep.")) from exc
    dispatch.dispatch_merge(
        duplicate=report, keep=keep, actor=request.user, note=request.POST.get("note", "")
    )
    return _("Ticket #%(dup)s merged into #%(keep)s.") % {"dup": report.pk, "keep": keep.pk}


@_ticket_action
def ticket_reopen(request, report: Report) -> str:
    dispatch.dispatch_reopen(
        report=report,
        actor=request.user,
        reason=request.POST.get("reason", ""),
        due_at=_due_at(request),
    )
    return _("Ticket #%(id)s reopened.") % {"id": report.pk}


@_ticket_action
def ticket_release(request, report: Report) -> str:
    dispatch.dispatch_release(
        report=report, actor=request.user, reason=request.POST.get("reason", "")
    )
    return _("Ticket #%(id)s is unassigned now.") % {"id": report.pk}


@_ticket_action
def ticket_flag_clear(request, report: Report) -> str:
    try:
        flag_id = int(request.POST.get("flag", ""))
    except ValueError as exc:
        raise ValidationError(_("Choose the flag to clear.")) from exc
    flag = dispatch.dispatch_flag_clear(
        report=report, flag_id=flag_id, actor=request.user, note=request.POST.get("note", "")
    )
    return _("Flag “%(kind)s” cleared.") % {"kind": flag.get_kind_display()}


@_ticket_action
def ticket_seen(request, report: Report) -> str:
    dispatch.dispatch_mark_seen(report=report, actor=request.user)
    return _("Ticket #%(id)s marked as seen.") % {"id": report.pk}
