"""Resident pages: the report form, the tracking page and the public report page (the public
map: frontend/views_map.py).

Views only translate HTTP: they call selectors and services and hand plain values to templates.
"""

import logging
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from rest_framework.throttling import SimpleRateThrottle

from core.abuse import SubmitEmailThrottle, SubmitIPThrottle, honeypot_filled, too_many
from core.idempotency import idempotency_for
from crews.services import report_submit
from districts.selectors import addresses_exist, district_choices
from events.selectors import events_nearby
from frontend.maps import report_map
from frontend.views_map import page_in_english
from reports.idempotency import IdempotencyKeyReused
from reports.models import Report
from reports.selectors import (
    category_list,
    report_by_token,
    report_get,
    report_photos_own_public,
    report_public_events,
    report_tracking_events,
)
from reports.services import (
    LOCATION_INVALID,
    REOPEN_WINDOW_DAYS,
    report_reopen_by_resident,
    report_reopen_until,
    report_reopen_window_open,
)

logger = logging.getLogger(__name__)


class _SubmitThrottle(SimpleRateThrottle):
    """The API's submission limit (same scope and cache key), for the form without JavaScript."""

    scope = "report_submit"

    def get_cache_key(self, request, view) -> str:
        user = getattr(request, "user", None)
        ident = user.pk if user is not None and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


def report_new(request: HttpRequest) -> HttpResponse:
    """The report form. With JavaScript it sends to the API (progress, retry, previews); without
    it, the same form posts here and the same services store and route the report."""
    districts = district_choices()
    errors: dict[str, list[str]] = {}
    values = {"idempotency_key": uuid.uuid4().hex}
    if request.method == "POST":
        values = {key: request.POST.get(key, "").strip() for key in FORM_FIELDS}
        # The API's limits per network and per e-mail address (core.abuse), then its overall rate.
        limited = next(
            (
                t
                for t in (SubmitIPThrottle(), SubmitEmailThrottle())
                if not t.allow_request(request, None)
            ),
            None,
        )
        if limited is not None:
            errors = {"__all__": [str(too_many(limited, limited.wait()).detail)]}
        elif not _SubmitThrottle().allow_request(request, None):
            errors = {"__all__": [_form_texts()["too_many_requests"]]}
        elif honeypot_filled(request.POST):
            # The honeypot field, invisible to people: only bots fill it in.
            errors = {"__all__": [_("This submission was refused.")]}
        else:
            report, errors = _report_from_form(request, values, districts)
            if report is not None:
                return redirect(reverse("frontend:track", args=[report.tracking_token]) + "?new=1")
    english = page_in_english()
    categories = [
        {
            "code": c.code,
            "name": c.name_en if english else c.name_de,
            "description": (c.description_en if english else c.description_de) or "",
            "icon": c.icon,
            "photo_required": c.photo_required,
        }
        for c in category_list()
    ]
    config = {
        "api": {
            "submit": reverse("api:report-list"),
            "route": reverse("api:route-preview"),
            "nearby": reverse("api:report-nearby"),
            "confirm": reverse("api:report-confirm", args=[0]),
            "addresses": reverse("api:address-search"),
            "pickup": reverse("api:event-pickups"),
            "openReports": reverse("api:map-reports-geojson"),
        },
        "track": reverse("frontend:track", args=["TOKEN"]),
        "center": settings.MAP_CENTER,
        "tiles": settings.MAP_TILE_URL,
        "attribution": settings.MAP_TILE_ATTRIBUTION,
        "language": get_language() or settings.LANGUAGE_CODE,
        "timeZone": settings.TIME_ZONE,
        "text": _form_texts(),
    }
    return render(
        request,
        "frontend/report_new.html",
        {
            "categories": categories,
            "districts": districts,
            "addresses_enabled": addresses_exist(),
            "config": config,
            "values": values,
            "errors": errors,
            "general_errors": errors.get("__all__", []) + errors.get("detail", []),
        },
        status=400 if errors else 200,
    )


FORM_FIELDS = ("category", "lat", "lon", "district", "place", "description", "email")
FORM_FIELDS += ("idempotency_key",)


def _report_from_form(
    request: HttpRequest, values: dict[str, str], districts: list[dict]
) -> tuple[Report | None, dict[str, list[str]]]:
    texts = _form_texts()
    errors: dict[str, list[str]] = {}
    if not values["category"]:
        errors["category"] = [texts["need_category"]]
    location = None
    if values["lat"] and values["lon"]:
        try:
            location = Point(float(values["lon"]), float(values["lat"]), srid=4326)
        except ValueError:
            errors["location"] = [str(LOCATION_INVALID)]
    elif values["district"]:
        chosen = next((d for d in districts if d["code"] == values["district"]), None)
        if chosen is not None:
            location = Point(chosen["lon"], chosen["lat"], srid=4326)
    photos = [f for f in request.FILES.getlist("photo") if f.size or f.name]
    if location is None and not photos and "location" not in errors:
        errors["location"] = [texts["need_location"]]
    if values["email"]:
        try:
            validate_email(values["email"])
        except ValidationError as exc:
            errors["email"] = exc.messages
    if errors:
        return None, errors
    place = f"{texts['place_prefix']}: {values['place']}" if values["place"] else ""
    try:
        report, _created = report_submit(
            category=values["category"],
            location=location,
            description="\n".join(part for part in (place, values["description"]) if part),
            photos=photos,
            email=values["email"],
            address=values["place"][:300],
            **idempotency_for(request, values["idempotency_key"]),
            actor=request.user,
        )
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        # The key is a hidden field: a broken one is the form's problem, not a field's.
        if "idempotency_key" in errors:
            errors.setdefault("__all__", []).extend(errors.pop("idempotency_key"))
        return None, errors
    except IdempotencyKeyReused as exc:
        return None, {"__all__": [_(str(exc))]}
    return report, {}


def _form_texts() -> dict[str, str]:
    """Messages the form's script shows, translated here so the script has no strings."""
    return {
        "locating": _("Finding your position…"),
        "located": _("Position found. You can drag the pin to the exact spot."),
        "locate_failed": _(
            "Your position could not be found. Tap the map, search an address or choose the "
            "part of town instead."
        ),
        "photo_gps": _("The photo contains its position; the pin has been placed there."),
        "photo_no_gps": _("The photo has no position in it. Please mark the place on the map."),
        "pin_set": _("Place marked on the map."),
        "district_set": _(
            "The middle of the chosen part of town is used; please describe the place."
        ),
        "route": _("District: {district}. Expected to be cleared by {due}."),
        "route_unassigned": _(
            "District: {district}. No crew is set for this yet; the city will assign one."
        ),
        "nearby_title": _("Already reported nearby – is it the same?"),
        "nearby_item": _("{distance} m away, reported {date} ({status})"),
        "confirm": _("This is the same – confirm it instead"),
        "confirmed": _("Thank you! Your confirmation was added to report #{id}."),
        "view_report": _("View report"),
        "sending": _("Sending… {percent} %"),
        "sent": _("Sent."),
        "network_error": _(
            "The connection broke off. Nothing is lost: press “Try again” to send the same report."
        ),
        "retry": _("Try again"),
        "server_error": _("Something went wrong on our side. Please try again in a moment."),
        "fix_errors": _("Please check the marked fields."),
        "need_location": _("Please mark the place: on the map, by address or by part of town."),
        "need_category": _("Please choose what you want to report."),
        "no_addresses": _("No address found. Try the street name only."),
        "address_chosen": _("Address chosen: {label}"),
        "place_prefix": _("Place"),
        "photo_chosen": _("Photo chosen: {name}"),
        "too_many_requests": _("Too many reports from this connection. Please wait a little."),
        "pickup_hint": _(
            "Things put out for it are collected then. If this is something else, please send "
            "the report anyway."
        ),
        "open_report": _("Open report #{id}: {category}"),
        "offer": _(
            "Already reported {distance} m from your pin: #{id} {category}. Is it this one?"
        ),
        "offer_show": _("Show it"),
        "offer_send": _(
            "Before you send: #{id} {category}, {distance} m away, may be the same problem."
        ),
    }


def _track_context(report: Report) -> dict:
    now = timezone.now()
    photos = list(report_photos_own_public(report=report))
    return {
        "report": report,
        "events": list(report_tracking_events(report=report).select_related("photo")),
        "before_photos": [p for p in photos if p.kind == "before"],
        "after_photos": [p for p in photos if p.kind == "after"],
        "can_reopen": report_reopen_window_open(report=report, now=now),
        "reopen_until": report_reopen_until(report=report),
        "reopen_days": REOPEN_WINDOW_DAYS,
        "map": report_map(report=report),
    }


def track(request: HttpRequest, token: str) -> HttpResponse:
    report = report_by_token(token=token)
    if report is None:
        raise Http404
    errors: dict[str, list[str]] = {}
    note = ""
    if request.method == "POST":
        note = request.POST.get("note", "")
        try:
            report_reopen_by_resident(report=report, note=note, photo=request.FILES.get("photo"))
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        else:
            messages.success(
                request, _("Thank you. The report is open again and the city has been told.")
            )
            return redirect("frontend:track", token=token)
        report = report_by_token(token=token)
    context = _track_context(report)
    context.update(
        {
            "errors": errors,
            "general_errors": errors.get("__all__", []),
            "note": note,
            "just_sent": request.GET.get("new") == "1",
            "track_url": request.build_absolute_uri(reverse("frontend:track", args=[token])),
        }
    )
    response = render(request, "frontend/track.html", context, status=400 if errors else 200)
    # The address is a secret: keep it out of shared caches (the site-wide same-origin referrer
    # policy keeps it from other sites).
    response["Cache-Control"] = "no-store"
    return response


def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = report_get(report_id=pk)
    if report is None:
        raise Http404
    return render(
        request,
        "frontend/report_detail.html",
        {
            "report": report,
            "events": list(report_public_events(report=report)),
            "photos": list(report_photos_own_public(report=report)),
            "map": report_map(report=report),
            "nearby_events": _events_near(report),
        },
    )


NEARBY_EVENTS_METERS = 500


def _events_near(report: Report) -> list:
    """Upcoming events around a report, measured from its public (possibly coarsened) point."""
    point = getattr(report, "public_location", None) or report.location
    if point is None:
        return []
    return list(events_nearby(point=point, meters=NEARBY_EVENTS_METERS)[:10])
