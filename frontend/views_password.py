"""The password change pages (the site's and the admin's) with the throttled old-password
check (`frontend.auth.ThrottledPasswordChangeForm`); Django's views otherwise."""

from django.contrib import admin
from django.contrib.auth.views import PasswordChangeView
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from frontend.auth import ThrottledPasswordChangeForm


class PasswordChange(PasswordChangeView):
    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "request": self.request}


def admin_password_change(request: HttpRequest) -> HttpResponse:
    """The admin's own password change (its template and context), with the same form."""
    request.current_app = admin.site.name
    return PasswordChange.as_view(
        success_url=reverse("admin:password_change_done", current_app=admin.site.name),
        extra_context=admin.site.each_context(request),
    )(request)
