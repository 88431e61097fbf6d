from django.apps import AppConfig


class CrewsConfig(AppConfig):
    name = "crews"
    verbose_name = "Crews"
