from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        # Every process (web, worker, beat) must know the outbox handlers.
        from reports import handlers  # noqa: F401
