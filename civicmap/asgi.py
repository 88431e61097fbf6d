import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicmap.settings")
application = get_asgi_application()

from django.conf import settings  # noqa: E402 - needs the settings that Django just loaded

if settings.MAP_FAST_PATH:
    from api.fastpath import MapReads  # noqa: E402

    application = MapReads(fallback=application)
