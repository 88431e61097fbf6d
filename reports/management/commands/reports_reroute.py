"""Route every report again to the district that covers it (after new district boundaries)."""

from django.core.management.base import BaseCommand

from reports.services import reports_reroute


class Command(BaseCommand):
    help = (
        "Give every report the district that covers its point now (run after importing new "
        "district boundaries). Deadlines and crews stay as they are."
    )

    def handle(self, *args, **options) -> None:
        changed = reports_reroute()
        self.stdout.write(f"{len(changed)} reports moved to another district.")
