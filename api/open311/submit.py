"""POST requests: what an Open311 client sends, mapped onto `crews.services.report_submit`."""

import logging

from django.contrib.gis.geos import Point
from django.utils.translation import gettext as _

from api.open311 import inputs, mappers
from api.open311.base import category_for_code
from api.open311.errors import BadRequest, Forbidden
from api.open311.keys import client_for_key, client_touch
from core.idempotency import idempotency_for
from crews.services import report_submit
from reports.models import Report

logger = logging.getLogger(__name__)

MAX_DESCRIPTION = 4000  # the spec's limit for description
IDEMPOTENCY_NAMESPACE = "open311:"


def request_submit(request) -> tuple[Report, bool]:
    """Check the key, map the fields, create and route the report. Returns (report, created);
    a repeated Idempotency-Key answers the first report with created False."""
    data = request.data
    key = data.get("api_key") or request.query_params.get("api_key") or ""
    if not key:
        raise Forbidden(_("api_key is missing -- can't proceed with create_request."))
    client = client_for_key(key=key)
    if client is None:
        raise Forbidden(_("Invalid api_key received -- can't proceed with create_request."))
    client_touch(client=client)

    code = data.get("service_code", "").strip()
    if not code:
        raise BadRequest(_("service_code was not provided."))
    category = category_for_code(code)

    photos = inputs.photo_uploads(request.FILES)
    location = _location(data, has_photos=bool(photos))
    description = data.get("description", "")
    if len(description) > MAX_DESCRIPTION:
        raise BadRequest(
            _("description is longer than %(limit)s characters.") % {"limit": MAX_DESCRIPTION}
        )
    attributes = inputs.attributes_validate(
        category=category, submitted=inputs.submitted_attributes(data)
    )
    media_urls = [u for u in data.getlist("media_url") if u.strip()]
    media_url = inputs.parse_media_url(media_urls[0]) if media_urls else ""
    if media_url and not photos:
        # Never fetched (no outbound requests); kept to echo back as the request's media_url.
        attributes[mappers.MEDIA_URL_ATTRIBUTE] = media_url
    if category.photo_required and not photos and not media_url:
        raise BadRequest(
            _(
                "media: a photo is required for service_code '%(code)s'. Upload it in the "
                "multipart field 'media', or send its address as media_url."
            )
            % {"code": category.code}
        )
    name = " ".join(
        part.strip() for part in (data.get("first_name", ""), data.get("last_name", ""))
    ).strip()
    # Scoped to this API key and bound to this request (core.idempotency); 400 if malformed.
    idempotency = idempotency_for(
        request,
        request.headers.get("Idempotency-Key"),
        namespace=IDEMPOTENCY_NAMESPACE,
        api_client_id=client.pk,
    )
    report, created = report_submit(
        category=category,
        location=location,
        description=description,
        photos=photos,
        email=data.get("email", ""),
        reporter_name=name,
        reporter_phone=data.get("phone", ""),
        address=data.get("address_string", ""),
        attributes=attributes,
        source=Report.Source.OPEN311,
        **idempotency,
        photo_url="" if photos else media_url,
    )
    if created:
        logger.info("Open311 request %s from client %s", report.pk, client.pk)
    return report, created


def _location(data, *, has_photos: bool) -> Point | None:
    lat, lon = data.get("lat", "").strip(), data.get("long", "").strip()
    if lat or lon:
        if not (lat and lon):
            raise BadRequest(_("lat and long must both be sent."))
        return Point(
            inputs.parse_coordinate(lon, name="long", limit=180),
            inputs.parse_coordinate(lat, name="lat", limit=90),
            srid=4326,
        )
    if has_photos:
        return None  # the photo's GPS position may place it; report_create decides
    if data.get("address_string", "").strip() or data.get("address_id", "").strip():
        raise BadRequest(
            _(
                "address_string and address_id cannot be placed on the map here (no "
                "geocoder); please send lat and long."
            )
        )
    raise BadRequest(_("A location is required: send lat and long."))
