from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from frontend.views_password import PasswordChange, admin_password_change

urlpatterns = [
    # Both password changes check the old password like a login (throttled); before the
    # admin's and auth's own routes of the same paths.
    path("admin/password_change/", admin.site.admin_view(admin_password_change)),
    path("accounts/password_change/", PasswordChange.as_view(), name="password_change"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("api.urls")),
    path("open311/", include("api.open311.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        # Our template adds the Content-Security-Policy nonce to the page's inline blocks.
        SpectacularSwaggerView.as_view(url_name="schema", template_name="civicmap/swagger_ui.html"),
        name="api-docs",
    ),
    path("", include("frontend.urls")),
]

# JSON errors under /api/, Open311's error document under /open311/, pages elsewhere.
handler400 = "core.errors.bad_request"
handler403 = "core.errors.permission_denied"
handler404 = "core.errors.page_not_found"
handler500 = "core.errors.server_error"

if settings.SERVE_MEDIA:
    # Only the public storage (metadata-free copies) is served; originals live elsewhere.
    urlpatterns += [
        re_path(
            r"^media/(?P<path>.*)$",
            serve,
            {"document_root": settings.STORAGES["default"]["OPTIONS"]["location"]},
        )
    ]
