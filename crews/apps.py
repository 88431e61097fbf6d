from django.apps import AppConfig


class CrewsConfig(AppConfig):
    name = "crews"
    verbose_name = "Crews"

    def ready(self) -> None:
        # Every process (web, worker, beat) must know the outbox handlers.
        from crews import handlers  # noqa: F401
