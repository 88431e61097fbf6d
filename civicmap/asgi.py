import multiprocessing
import os

from django.core.asgi import get_asgi_application

from core.process import exit_with_parent

if (parent := multiprocessing.parent_process()) is not None and parent.pid:
    # A worker process of `uvicorn --workers N`: end with the master, never outlive it holding
    # the port (a supervisor restarts the master, which then starts new workers).
    exit_with_parent(parent_pid=parent.pid)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicmap.settings")
application = get_asgi_application()

from django.conf import settings  # noqa: E402 - needs the settings that Django just loaded

if settings.MAP_FAST_PATH:
    from api.fastpath import MapReads  # noqa: E402

    application = MapReads(fallback=application)
