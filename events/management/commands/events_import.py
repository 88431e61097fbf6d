import logging
from datetime import datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from events.services import (
    FeedUnavailable,
    configured_feeds,
    feed_import_source,
    venues_import,
)

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Import iCalendar feeds (http(s) URLs or files): idempotent by feed + UID, recurring "
        "events expanded for the next 180 days, events gone from a feed retired. A broken feed "
        "is reported and leaves its earlier events untouched. Dry run unless --commit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sources", nargs="*", help="feed URLs or .ics files")
        parser.add_argument(
            "--configured", action="store_true", help="also every feed in EVENT_FEEDS"
        )
        parser.add_argument("--feed", default=None, help="name the feed (one source only)")
        parser.add_argument("--venues", type=Path, default=None, help="venue CSV to load first")
        parser.add_argument("--now", default=None, help="ISO datetime to import as of")
        parser.add_argument("--commit", action="store_true", help="write to the database")

    def handle(self, *args, **options) -> None:
        commit = options["commit"]
        sources = list(options["sources"])
        if options["configured"]:
            sources += configured_feeds()
        if options["feed"] and len(sources) != 1:
            raise CommandError("--feed names one feed; give exactly one source with it.")
        if not sources and not options["venues"]:
            raise CommandError("Nothing to import: give feeds, --configured or --venues.")
        now = self._now(options["now"])
        if options["venues"]:
            try:
                count = venues_import(path=options["venues"])
            except (OSError, ValidationError) as exc:
                raise CommandError(f"Venues not loaded: {exc}") from exc
            self.stdout.write(f"{count} venues loaded from {options['venues']}.")
        failed = []
        for number, source in enumerate(sources, start=1):
            self.stdout.write(f"[{number}/{len(sources)}] {source}")
            try:
                summary = feed_import_source(
                    source=source,
                    feed=options["feed"],
                    now=now,
                    commit=commit,
                    progress=lambda line: self.stdout.write(f"  {line}"),
                )
            except (ValidationError, FeedUnavailable) as exc:
                message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else exc
                self.stderr.write(self.style.ERROR(f"  FAILED: {message}"))
                failed.append(source)
                continue
            except Exception as exc:  # noqa: BLE001 - one feed never stops the others
                logger.exception("Feed %s failed", source)
                self.stderr.write(self.style.ERROR(f"  FAILED: {type(exc).__name__}: {exc}"))
                failed.append(source)
                continue
            self.stdout.write(self.style.SUCCESS(f"  {summary}"))
            for problem in summary.skipped:
                self.stdout.write(self.style.WARNING(f"  skipped: {problem}"))
            for note in summary.notes:
                self.stdout.write(self.style.WARNING(f"  note: {note}"))
        if not commit:
            self.stdout.write(self.style.WARNING("Dry run: nothing saved. Add --commit to save."))
        if failed:
            raise CommandError(f"{len(failed)} of {len(sources)} feeds failed: {', '.join(failed)}")

    def _now(self, value: str | None) -> datetime | None:
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise CommandError(f"--now: not an ISO datetime: {value}") from exc
        return timezone.make_aware(moment) if timezone.is_naive(moment) else moment
