"""Issuing, checking and revoking the API keys of Open311 clients."""

import logging
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from api.models import Open311Client, key_digest
from core.validation import model_validate

logger = logging.getLogger(__name__)

KEY_TOO_SHORT = "An API key must be at least {limit} characters long."
KEY_EXISTS = "This API key is already issued (to '{name}')."
MIN_KEY_LENGTH = 16


def client_create(
    *, name: str, contact: str = "", key: str | None = None
) -> tuple[Open311Client, str]:
    """Issue a key to a client. Returns (client, key); the key is not stored and cannot be
    shown again. `key` lets an operator choose one (e.g. the fixed demo key)."""
    key = key or secrets.token_urlsafe(32)
    if len(key) < MIN_KEY_LENGTH:
        raise ValidationError({"key": KEY_TOO_SHORT.format(limit=MIN_KEY_LENGTH)})
    digest = key_digest(key)
    with transaction.atomic():
        existing = Open311Client.objects.filter(key_hash=digest).first()
        if existing is not None:
            raise ValidationError({"key": KEY_EXISTS.format(name=existing.name)})
        client = Open311Client(name=name.strip(), contact=contact.strip(), key_prefix=key[:8])
        client.key_hash = digest
        model_validate(client)
        client.save()
    logger.info("Open311 key %s… issued to %s", client.key_prefix, client.name)
    return client, key


def client_ensure(*, name: str, key: str, contact: str = "") -> tuple[Open311Client, bool]:
    """The client holding exactly this key, created (and re-activated) if needed. Idempotent."""
    client = Open311Client.objects.filter(key_hash=key_digest(key)).first()
    if client is None:
        client, _ = client_create(name=name, contact=contact, key=key)
        return client, True
    if not client.active:
        client.active, client.revoked_at = True, None
        client.save(update_fields=["active", "revoked_at"])
    return client, False


@transaction.atomic
def client_revoke(*, client: Open311Client) -> Open311Client:
    if client.active:
        client.active = False
        client.revoked_at = timezone.now()
        client.save(update_fields=["active", "revoked_at"])
        logger.info("Open311 key %s… of %s revoked", client.key_prefix, client.name)
    return client


def client_for_key(*, key: str) -> Open311Client | None:
    """The active client holding `key`, or None for a missing, unknown or revoked key."""
    if not key:
        return None
    return Open311Client.objects.filter(key_hash=key_digest(key), active=True).first()


def client_touch(*, client: Open311Client) -> None:
    Open311Client.objects.filter(pk=client.pk).update(last_used_at=timezone.now())
