"""GeoReport v2 errors: an array of {code, description} (XML: <errors><error>...)."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext as _

from api.open311.render import Document


class Open311Error(Exception):
    """An error answered in the spec's form. `status` is the HTTP status; each entry's code is
    the same number (the spec allows more specific codes, clients compare with the status)."""

    def __init__(self, status: int, *descriptions: str) -> None:
        self.status = status
        self.descriptions = [str(d) for d in descriptions]
        super().__init__("; ".join(self.descriptions))

    def document(self) -> Document:
        return Document(
            "errors", [{"code": self.status, "description": d} for d in self.descriptions]
        )


class BadRequest(Open311Error):
    def __init__(self, *descriptions: str) -> None:
        super().__init__(400, *descriptions)


class NotFound(Open311Error):
    def __init__(self, *descriptions: str) -> None:
        super().__init__(404, *descriptions)


class Forbidden(Open311Error):
    def __init__(self, *descriptions: str) -> None:
        super().__init__(403, *descriptions)


# Our field names -> the Open311 parameter a client sent.
PARAMETER_NAMES = {
    "category": "service_code",
    "location": "lat/long",
    "photo": "media",
    "description": "description",
    "reporter_email": "email",
    "reporter_name": "first_name/last_name",
    "reporter_phone": "phone",
    "address": "address_string",
    "zipcode": "zipcode",
    "attributes": "attribute",
}


def from_validation_error(exc: ValidationError) -> BadRequest:
    """A domain ValidationError as a 400, each message prefixed with the parameter it is about."""
    if not hasattr(exc, "error_dict"):
        return BadRequest(*exc.messages)
    descriptions = []
    for field, messages in exc.message_dict.items():
        if field == NON_FIELD_ERRORS:
            descriptions += messages
            continue
        name = PARAMETER_NAMES.get(field, field)
        descriptions += [f"{name}: {message}" for message in messages]
    return BadRequest(*descriptions) if descriptions else BadRequest(_("The request is invalid."))
