"""Route every report again to the district that covers it (after new district boundaries)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from reports.services import reports_reroute


class Command(BaseCommand):
    help = (
        "Give every report the district that covers its point now (run after importing new "
        "district boundaries). Deadlines and crews stay as they are. Dry run unless --commit."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--commit", action="store_true", help="write to the database")

    def handle(self, *args, commit: bool = False, **options) -> None:
        # The dry run does the real work and rolls it back: what it reports is exactly what
        # --commit would change (on-commit work is dropped with the transaction).
        with transaction.atomic():
            changed = reports_reroute()
            if not commit:
                transaction.set_rollback(True)
        if commit:
            self.stdout.write(f"{len(changed)} reports moved to another district.")
        else:
            self.stdout.write(f"{len(changed)} reports would move to another district.")
            self.stdout.write(self.style.WARNING("Dry run: nothing saved. Add --commit to save."))
