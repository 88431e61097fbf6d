"""Idempotency keys as HTTP sends them: checked, scoped to their client, bound to the request.

A key is the client's own string (the `Idempotency-Key` header or the form's hidden field). It
is stored as `<client>:<key>`, where the client is an Open311 API key (`k<id>`), a logged-in
user or crew token (`u<id>`), or `anon`; so the same string from two clients names two
different submissions, and never returns the other's report or tracking token. The stored row
also keeps a fingerprint of the request (form fields and uploaded files): a key sent again
with a different body is refused (422, as in the IETF Idempotency-Key draft), so an anonymous
client cannot borrow another's key unless it sends that very submission again.
"""

import hashlib
import json
import re

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _

MAX_KEY_LENGTH = 128
# Printable ASCII without spaces: what UUIDs, ULIDs and random tokens are made of.
_KEY = re.compile(r"[\x21-\x7e]+")
# Fields that are not part of what is submitted.
_NOT_CONTENT = {"csrfmiddlewaretoken", "idempotency_key", "api_key"}


def key_checked(raw: str | None) -> str | None:
    """The key, or None when none was sent; ValidationError (400) when it is malformed."""
    if raw is None:
        return None
    key = raw.strip()
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise ValidationError(
            {
                "idempotency_key": _(
                    "An Idempotency-Key has 1 to %(limit)s characters: letters, digits and "
                    "printable ASCII signs, no spaces or control characters."
                )
                % {"limit": MAX_KEY_LENGTH}
            }
        )
    return key


def client_ident(request: HttpRequest, *, api_client_id: int | None = None) -> str:
    if api_client_id is not None:
        return f"k{api_client_id}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"u{user.pk}"
    return "anon"


def request_fingerprint(request: HttpRequest) -> str:
    """SHA-256 over the submitted fields (sorted) and the bytes of every uploaded file."""
    digest = hashlib.sha256()
    data = getattr(request, "data", None)
    if data is None:
        data = request.POST
    if hasattr(data, "lists"):
        fields = sorted(
            (key, [str(v) for v in values])
            for key, values in data.lists()
            if key not in _NOT_CONTENT and not hasattr(values[0] if values else "", "read")
        )
    else:
        fields = sorted(
            (str(k), json.dumps(v, sort_keys=True, default=str))
            for k, v in dict(data).items()
            if k not in _NOT_CONTENT
        )
    digest.update(json.dumps(fields, ensure_ascii=False).encode("utf-8"))
    files = request.FILES
    for name in sorted(files.keys()):
        for upload in files.getlist(name):
            digest.update(f"\0file:{name}:{upload.size}\0".encode())
            upload.seek(0)
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return digest.hexdigest()


def idempotency_for(
    request: HttpRequest,
    raw: str | None,
    *,
    namespace: str = "",
    api_client_id: int | None = None,
) -> dict:
    """Keyword arguments for `report_create` and the crew actions: the scoped key and the
    request's fingerprint."""
    key = key_checked(raw)
    if key is None:
        return {"idempotency_key": None}
    client = client_ident(request, api_client_id=api_client_id)
    return {
        "idempotency_key": f"{namespace}{client}:{key}",
        "idempotency_fingerprint": request_fingerprint(request),
    }
