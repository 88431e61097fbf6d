"""Name every report's place again from the address list (after importing addresses)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from reports.services import reports_place_names_refresh


class Command(BaseCommand):
    help = (
        "Give every report the name of its place again: the nearest address within 50 m, else "
        "its street, else the district (run after importing the address list). Dry run unless "
        "--commit."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--commit", action="store_true", help="write to the database")

    def handle(self, *args, commit: bool = False, **options) -> None:
        # The dry run does the real work and rolls it back, so its count is what --commit does.
        with transaction.atomic():
            changed = reports_place_names_refresh()
            if not commit:
                transaction.set_rollback(True)
        if commit:
            self.stdout.write(f"{len(changed)} reports got a new place name.")
        else:
            self.stdout.write(f"{len(changed)} reports would get a new place name.")
            self.stdout.write(self.style.WARNING("Dry run: nothing saved. Add --commit to save."))
