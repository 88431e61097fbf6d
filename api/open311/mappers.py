"""Our categories and reports in the GeoReport v2 vocabulary."""

from datetime import datetime

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crews.models import Assignment
from crews.selectors import assignment_active
from reports.models import Category, Report, ReportEvent

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ["text/xml", "application/json"]
# Events whose note explains the current status (`status_notes`).
STATUS_NOTE_KINDS = (ReportEvent.Kind.STATUS, ReportEvent.Kind.REOPENED, ReportEvent.Kind.NOTE)
# Where a client's media_url is kept when it sent no photo (Report has no field of its own).
MEDIA_URL_ATTRIBUTE = "_open311_media_url"


def w3c(value: datetime | None) -> str | None:
    """ISO 8601 in local time with its offset, whole seconds: 2026-11-27T14:05:09+01:00."""
    if value is None:
        return None
    return timezone.localtime(value).replace(microsecond=0).isoformat()


def open311_status(report: Report) -> str:
    return "open" if report.status in Report.OPEN_STATUSES else "closed"


def discovery_body(*, endpoint_url: str, changeset: datetime) -> dict:
    stamp = w3c(changeset)
    return {
        "changeset": stamp,
        "contact": settings.OPEN311_CONTACT,
        "key_service": settings.OPEN311_KEY_SERVICE,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint_url,
                "changeset": stamp,
                "type": "production",
                "formats": FORMATS,
            }
        ],
    }


def service_entry(category: Category) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        "metadata": bool(category.attributes),
        "type": "realtime",
        "keywords": ", ".join(k.strip() for k in category.keywords.split(",") if k.strip()),
        "group": category.group,
    }


def service_definition(category: Category) -> dict:
    attributes = sorted(
        enumerate(category.attributes or []), key=lambda pair: (pair[1].get("order", 0), pair[0])
    )
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": attribute.get("variable", True),
                "code": attribute["code"],
                "datatype": attribute.get("datatype", "string"),
                "required": bool(attribute.get("required", False)),
                "datatype_description": attribute.get("datatype_description"),
                "order": attribute.get("order", position + 1),
                "description": attribute.get("description", ""),
                "values": [
                    {"key": str(value["key"]), "name": value.get("name", str(value["key"]))}
                    for value in attribute.get("values", [])
                ],
            }
            for position, (_index, attribute) in enumerate(attributes)
        ],
    }


def with_open311_related(reports: QuerySet[Report]) -> QuerySet[Report]:
    """What a list of requests needs, in a fixed number of queries."""
    return reports.prefetch_related(
        Prefetch(
            "assignments",
            queryset=Assignment.objects.filter(active=True).select_related("crew"),
            to_attr="active_assignments",
        ),
        Prefetch(
            "events",
            queryset=ReportEvent.objects.filter(public=True, kind__in=STATUS_NOTE_KINDS).order_by(
                "-created_at", "-id"
            ),
            to_attr="open311_status_events",
        ),
    )


def _crew_name(report: Report) -> str | None:
    active = getattr(report, "active_assignments", None)
    if active is None:
        assignment = assignment_active(report=report)
        return assignment.crew.name if assignment else None
    return active[0].crew.name if active else None


def _status_notes(report: Report) -> str | None:
    events = getattr(report, "open311_status_events", None)
    if events is None:
        events = report.events.filter(public=True, kind__in=STATUS_NOTE_KINDS).order_by(
            "-created_at", "-id"
        )[:1]
    latest = next(iter(events), None)
    return (latest.note or None) if latest is not None else None


def service_notice(report: Report) -> str | None:
    if report.status not in Report.OPEN_STATUSES:
        return None
    crew = _crew_name(report)
    due = timezone.localtime(report.due_at).strftime("%Y-%m-%d %H:%M") if report.due_at else None
    if crew and due:
        return _("Handed to %(crew)s; to be cleared by %(due)s.") % {"crew": crew, "due": due}
    if due:
        return _("Received; a dispatcher will assign it. To be cleared by %(due)s.") % {"due": due}
    return _("Received; a dispatcher will assign it.")


def _media_url(report: Report, build_absolute_uri) -> str | None:
    photos = getattr(report, "public_photos", None)
    if photos is None:
        photos = report.photos.filter(state="ready", kind="before", hidden_reason="")
    for photo in photos:
        if photo.public_image:
            return build_absolute_uri(photo.public_image.url)
    return (report.attributes or {}).get(MEDIA_URL_ATTRIBUTE) or None


def _updated(report: Report) -> datetime:
    closed = report.status not in Report.OPEN_STATUSES
    return report.closed_at if closed and report.closed_at else report.updated_at


def moderation_notice(report: Report) -> str:
    if report.moderation == Report.Moderation.PENDING:
        return _("Received; it is published once the city has checked it.")
    return _("Hidden by the city.")


def request_entry(report: Report, *, build_absolute_uri) -> dict:
    """One <request> of GET requests: public data only, never the reporter's contact.

    A report waiting for approval (or hidden by staff) keeps its id answerable, but shows only
    its status and service: no text, place or photo."""
    if not report.is_published:
        return {
            "service_request_id": report.pk,
            "status": open311_status(report),
            "status_notes": moderation_notice(report),
            "service_name": report.category.name,
            "service_code": report.category.code,
            "description": None,
            "agency_responsible": None,
            "service_notice": None,
            "requested_datetime": w3c(report.created_at),
            "updated_datetime": w3c(_updated(report)),
            "expected_datetime": None,
            "address": None,
            "address_id": None,
            "zipcode": None,
            "lat": None,
            "long": None,
            "media_url": None,
        }
    updated = _updated(report)
    return {
        "service_request_id": report.pk,
        "status": open311_status(report),
        "status_notes": _status_notes(report),
        "service_name": report.category.name,
        "service_code": report.category.code,
        # Staff may hide the text (`public_description` is then empty).
        "description": report.public_description,
        "agency_responsible": _crew_name(report),
        "service_notice": service_notice(report),
        "requested_datetime": w3c(report.created_at),
        "updated_datetime": w3c(updated),
        "expected_datetime": w3c(report.due_at),
        "address": report.public_place,
        "address_id": None,
        "zipcode": report.zipcode,
        # The public point: a grid-cell centre for sensitive categories, never the exact one.
        "lat": round(report.public_location.y, 7),
        "long": round(report.public_location.x, 7),
        "media_url": _media_url(report, build_absolute_uri),
    }
