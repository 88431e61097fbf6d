import secrets

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from api.models import Open311Client, key_digest
from api.open311.keys import client_revoke


@admin.register(Open311Client)
class Open311ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "key_prefix", "active", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["active"]
    search_fields = ["name", "contact", "key_prefix"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "contact", "active", *readonly_fields]
    actions = ["revoke"]

    def save_model(self, request, obj: Open311Client, form, change: bool) -> None:
        if not change:
            key = secrets.token_urlsafe(32)
            obj.key_prefix, obj.key_hash = key[:8], key_digest(key)
            super().save_model(request, obj, form, change)
            messages.warning(
                request,
                _("The API key for %(name)s is: %(key)s — copy it now, it is not shown again.")
                % {"name": obj.name, "key": key},
            )
            return
        if not obj.active and obj.revoked_at is None:
            obj.revoked_at = timezone.now()
        elif obj.active:
            obj.revoked_at = None
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset) -> None:
        for client in queryset:
            client_revoke(client=client)
        self.message_user(request, _("%(count)s key(s) revoked.") % {"count": len(queryset)})
