import hashlib

from django.db import models
from django.utils.translation import gettext_lazy as _


def key_digest(key: str) -> str:
    """Keys are long random strings, so an unsalted SHA-256 is enough to keep them unreadable."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Open311Client(models.Model):
    """An application allowed to submit Open311 service requests with its own API key.

    Only the key's digest is stored; the key itself is shown once, when it is created.
    """

    name = models.CharField(_("name"), max_length=200)
    contact = models.CharField(_("contact"), max_length=300, blank=True)
    key_prefix = models.CharField(
        _("key prefix"), max_length=12, editable=False, help_text=_("to recognise a key")
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("Open311 client")
        verbose_name_plural = _("Open311 clients")

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"
