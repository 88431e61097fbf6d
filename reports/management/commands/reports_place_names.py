"""Name every report's place again from the address list (after importing addresses)."""

from django.core.management.base import BaseCommand

from reports.services import reports_place_names_refresh


class Command(BaseCommand):
    help = (
        "Give every report the name of its place again: the nearest address within 50 m, else "
        "its street, else the district (run after importing the address list)."
    )

    def handle(self, *args, **options) -> None:
        changed = reports_place_names_refresh()
        self.stdout.write(f"{len(changed)} reports got a new place name.")
