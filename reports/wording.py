"""Codes stored, words shown: history notes, status names and durations in the reader's
language (pages through `frontend.templatetags.wording`, and the residents' mails).

Services store what happened as codes (`ReportEvent.data["action"]`, status codes, category
codes). Older rows and a few services also wrote an English sentence into `note`; the known
sentences are recognised here and shown translated, so a German page never shows them.
"""

import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from reports.models import Report, ReportEvent

_STATUS = dict(Report.Status.choices)

# Why a crew closed a ticket without clearing it (`ReportEvent.data["reason"]`).
REJECT_REASONS = {
    "not_found": gettext_lazy("not found"),
    "not_responsible": gettext_lazy("not our responsibility"),
    "private_ground": gettext_lazy("private ground"),
}

_MERGED_INTO = re.compile(r"^Merged into #(\d+)\.$")
_MERGED_HERE = re.compile(r"^Report #(\d+) was merged into this one\.$")
_PRIORITY = re.compile(r"^Priority (\d+) → (\d+)\.$")
_LATE = re.compile(r"^Late: the deadline (\d{4}-\d\d-\d\d \d\d:\d\d) has passed\.$")
_NO_CREW = "No crew serves this district and category."
_PREVENTIVE = re.compile(r"^Preventive round: (.*)$")


def status_name(code: str) -> str:
    """ "cleared" -> "beseitigt"; an empty code is a dash."""
    if not code:
        return "–"
    return str(_STATUS.get(code, code))


def status_change(event: ReportEvent) -> str:
    """ "neu → zugewiesen" for a status event, "" otherwise."""
    if not event.to_status:
        return ""
    return f"{status_name(event.from_status)} → {status_name(event.to_status)}"


def _when(value: datetime) -> str:
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def _late_note(event: ReportEvent) -> str:
    due = event.data.get("due_at")
    moment = None
    if due:
        moment = datetime.fromisoformat(due)
    else:
        found = _LATE.match(event.note or "")
        if found:  # written as UTC wall time before the due date was kept in `data`
            moment = datetime.fromisoformat(found[1]).replace(tzinfo=UTC)
    if moment is None:
        return _("Late: the deadline has passed.")
    return _("Late: the deadline %(due)s has passed.") % {"due": _when(moment)}


def event_note(event: ReportEvent) -> str:
    """The note of a history entry in the reader's language (free text stays as written)."""
    data = event.data or {}
    note = (event.note or "").strip()
    action = data.get("action")
    if action == "merge" or _MERGED_HERE.match(note):
        merged = data.get("merged") or _MERGED_HERE.match(note)[1]
        return _("Report #%(id)s was merged into this one.") % {"id": merged}
    if _MERGED_INTO.match(note) or (event.to_status == Report.Status.DUPLICATE and not note):
        target = data.get("duplicate_of") or (_MERGED_INTO.match(note) or [None, "?"])[1]
        return _("Merged into report #%(id)s.") % {"id": target}
    if action == "priority" or _PRIORITY.match(note):
        found = _PRIORITY.match(note)
        old = data.get("from_priority", found[1] if found else "?")
        new = data.get("priority", found[2] if found else "?")
        return _("Priority changed from %(old)s to %(new)s.") % {"old": old, "new": new}
    if action == "late" or _LATE.match(note):
        return _late_note(event)
    if note == _NO_CREW:
        return _("No crew serves this district and category.")
    reason = data.get("reason")
    if event.to_status == Report.Status.REJECTED and reason in REJECT_REASONS:
        label = str(REJECT_REASONS[reason])
        extra = "" if note == str(REJECT_REASONS[reason]) or _is_label(note, reason) else note
        return f"{label}: {extra}" if extra else label
    found = _PREVENTIVE.match(note)
    if found:
        return _("Preventive round: %(what)s") % {"what": found[1]}
    return note


def _is_label(note: str, reason: str) -> bool:
    """The note is the reason's label in some language (written when no words were added)."""
    from django.utils import translation

    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            if note == str(REJECT_REASONS[reason]):
                return True
    return False


def duration(hours: float | None) -> str:
    """Up to two days in hours ("5,5 Std."), longer in days ("19,4 Tage")."""
    if hours is None:
        return "–"
    hours = float(hours)
    if hours <= 48:
        value = formats.number_format(round(hours, 1), 1)
        return ngettext("%(n)s hour", "%(n)s hours", 1 if hours == 1 else 2) % {"n": value}
    days = hours / 24
    value = formats.number_format(round(days, 1), 1)
    return ngettext("%(n)s day", "%(n)s days", 2) % {"n": value}


def as_duration(delta: timedelta | None) -> str:
    return duration(None if delta is None else delta.total_seconds() / 3600)
