"""Blur faces and number plates on photos stored before automatic redaction existed."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from reports.models import ReportPhoto
from reports.tasks import report_photo_process_task


class Command(BaseCommand):
    help = (
        "Queue the photo task for every photo never redacted (redacted_at empty) whose original "
        "is still there; --sync processes them here instead of in the Celery worker. Dry run "
        "(counts them) unless --commit."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--sync", action="store_true", help="process in this process")
        parser.add_argument("--commit", action="store_true", help="queue or process the photos")

    def handle(self, *args, sync: bool = False, commit: bool = False, **options) -> None:
        photos = (
            ReportPhoto.objects.filter(redacted_at__isnull=True)
            .exclude(original="")
            .values_list("pk", flat=True)
        )
        if not commit:
            self.stdout.write(f"{photos.count()} photo(s) would be redacted.")
            self.stdout.write(self.style.WARNING("Dry run: nothing done. Add --commit to do it."))
            return
        # The work is a row: pending photos are processed (and swept again if a message is lost);
        # until then they are not public, as their copies were made without redaction.
        ids = list(photos)
        ReportPhoto.objects.filter(pk__in=ids).update(
            state=ReportPhoto.State.PENDING, queued_at=timezone.now()
        )
        count = 0
        for photo_id in ids:
            if sync:
                report_photo_process_task(photo_id)
            else:
                report_photo_process_task.delay(photo_id)
            count += 1
        self.stdout.write(f"{count} photo(s) {'processed' if sync else 'queued'} for redaction.")
