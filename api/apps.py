from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"

    def ready(self) -> None:
        # Every process that changes reports (web and Celery workers) drops the cached tiles
        # that contain them.
        from api import tiles

        tiles.connect_signals()
