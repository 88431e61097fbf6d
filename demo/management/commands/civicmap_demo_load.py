from django.core.management.base import BaseCommand

from demo.loaders import demo_load


class Command(BaseCommand):
    help = (
        "Load the Dresden demo data (districts, categories, crews, users, sample reports). "
        "Safe to repeat."
    )

    def handle(self, *args, **options) -> None:
        result = demo_load()
        if result["reports"]:
            self.stdout.write(f"Loaded {result['reports']} sample reports.")
        else:
            self.stdout.write(
                "Demo data already present; districts, categories and crews refreshed."
            )
