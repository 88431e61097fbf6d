"""Reading what an Open311 client sends: dates, coordinates, attribute[code] values, photos."""

import math
import re
from datetime import datetime, time
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from api.open311.errors import BadRequest
from reports.models import Category

ATTRIBUTE_FIELD = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
# Photo uploads: the widespread extension's `media`/`media[]`, FixMyStreet's photo1, photo2, ...
PHOTO_FIELD = re.compile(r"^(media|media\[\]|photo|photo\d+)$")
# "+01:00" arrives as " 01:00" when a client forgets to encode the plus sign.
_UNENCODED_PLUS = re.compile(r" (\d\d:?\d\d)$")
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}


def parse_w3c_datetime(value: str, *, name: str) -> datetime:
    """A W3C/ISO 8601 date or date-time; without an offset it is taken as local time."""
    text = _UNENCODED_PLUS.sub(r"+\1", value.strip())
    try:
        parsed = parse_datetime(text)
        if parsed is None:
            day = parse_date(text)
            if day is not None:
                parsed = datetime.combine(day, time.min)
    except ValueError:
        parsed = None
    if parsed is None:
        raise BadRequest(
            _("%(name)s '%(value)s' is not a valid date; use W3C format, e.g. %(example)s.")
            % {"name": name, "value": value, "example": "2026-01-31T00:00:00Z"}
        )
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def parse_coordinate(value: str, *, name: str, limit: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRequest(
            _("%(name)s '%(value)s' is not a number.") % {"name": name, "value": value}
        ) from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise BadRequest(
            _("%(name)s must be between -%(limit)s and %(limit)s (WGS84 degrees).")
            % {"name": name, "limit": int(limit)}
        )
    return number


def parse_media_url(value: str) -> str:
    value = value.strip()
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise BadRequest(_("media_url must be an http or https URL.")) from None
    return value


def submitted_attributes(data) -> dict[str, list[str]]:
    """`attribute[code]=v` and `attribute[code][]=v1&attribute[code][]=v2` as {code: [values]}."""
    found: dict[str, list[str]] = {}
    for field in data:
        match = ATTRIBUTE_FIELD.match(field)
        if match:
            values = [v for v in data.getlist(field) if v.strip() != ""]
            found.setdefault(match.group(1), []).extend(values)
    return found


def photo_uploads(files) -> list:
    """Uploaded photos in a stable order: media, media[], photo, photo1, photo2, ..."""

    def order(name: str) -> tuple[int, int]:
        if name.startswith("photo") and name[5:].isdigit():
            return (2, int(name[5:]))
        return ({"media": 0, "media[]": 0, "photo": 1}.get(name, 3), 0)

    uploads = []
    for name in sorted((n for n in files if PHOTO_FIELD.match(n)), key=order):
        uploads.extend(files.getlist(name))
    return uploads


def _number(value: str) -> str:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError from None
    if not number.is_finite():
        raise ValueError
    return value.strip()


def attributes_validate(*, category: Category, submitted: dict[str, list[str]]) -> dict:
    """Check submitted attribute values against the service definition; return what to store.

    Codes the definition does not know are ignored (clients such as FixMyStreet send extra
    attributes of their own). Every problem is reported at once.
    """
    errors: list[str] = []
    cleaned: dict = {}
    for attribute in category.attributes or []:
        if attribute.get("variable", True) is False:
            continue
        code = attribute["code"]
        datatype = attribute.get("datatype", "string")
        values = submitted.get(code, [])
        label = f"attribute[{code}]"
        if not values:
            if attribute.get("required"):
                errors.append(
                    _("%(label)s is required: %(description)s")
                    % {"label": label, "description": attribute.get("description", code)}
                )
            continue
        keys = [str(v["key"]) for v in attribute.get("values", [])]
        if datatype == "multivaluelist":
            wrong = [v for v in values if v not in keys]
            if wrong:
                errors.append(_choice_error(label, wrong[0], keys))
            else:
                cleaned[code] = values
            continue
        if len(values) > 1:
            errors.append(_("%(label)s takes one value.") % {"label": label})
            continue
        value = values[0]
        if datatype == "singlevaluelist":
            if value not in keys:
                errors.append(_choice_error(label, value, keys))
                continue
        elif datatype == "number":
            try:
                value = _number(value)
            except ValueError:
                errors.append(_("%(label)s must be a number.") % {"label": label})
                continue
        elif datatype == "datetime":
            try:
                value = parse_w3c_datetime(value, name=label).isoformat()
            except BadRequest as exc:
                errors.extend(exc.descriptions)
                continue
        elif datatype == "string" and ("\n" in value or "\r" in value):
            errors.append(_("%(label)s must be a single line.") % {"label": label})
            continue
        cleaned[code] = value
    if errors:
        raise BadRequest(*errors)
    return cleaned


def _choice_error(label: str, value: str, keys: list[str]) -> str:
    return _("%(label)s: '%(value)s' is not one of: %(keys)s.") % {
        "label": label,
        "value": value,
        "keys": ", ".join(keys),
    }
