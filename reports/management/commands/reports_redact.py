"""Blur faces and number plates on photos stored before automatic redaction existed."""

from django.core.management.base import BaseCommand

from reports.models import ReportPhoto
from reports.tasks import report_photo_process_task


class Command(BaseCommand):
    help = (
        "Queue the photo task for every photo never redacted (redacted_at empty) whose original "
        "is still there; --sync processes them here instead of in the Celery worker."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--sync", action="store_true", help="process in this process")

    def handle(self, *args, sync: bool = False, **options) -> None:
        photos = (
            ReportPhoto.objects.filter(redacted_at__isnull=True)
            .exclude(original="")
            .values_list("pk", flat=True)
        )
        count = 0
        for photo_id in photos.iterator():
            if sync:
                report_photo_process_task(photo_id)
            else:
                report_photo_process_task.delay(photo_id)
            count += 1
        self.stdout.write(f"{count} photo(s) {'processed' if sync else 'queued'} for redaction.")
