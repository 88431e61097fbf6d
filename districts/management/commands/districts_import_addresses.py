from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from districts.services import address_import

MAX_ERRORS_SHOWN = 50


class Command(BaseCommand):
    help = (
        "Import the city's address list (street, house number, postcode and WGS 84 coordinates) "
        "from a CSV file (comma, semicolon or tab separated; columns street, house_number, "
        "postcode, lat, lon or strasse, hausnummer, plz, breite, laenge). Each address gets the "
        "district covering it. Idempotent by street + house number + postcode. "
        "Dry run unless --commit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--commit", action="store_true", help="write to the database")
        parser.add_argument(
            "--progress-every", type=int, default=1000, help="print progress every N rows"
        )

    def handle(self, *args, **options) -> None:
        commit = options["commit"]
        try:
            result = address_import(
                path=options["path"],
                commit=commit,
                progress=self._progress,
                progress_every=max(1, options["progress_every"]),
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged, "
            f"{len(result.errors)} rows skipped."
        )
        for error in result.errors[:MAX_ERRORS_SHOWN]:
            self.stderr.write(f"  skipped {error}")
        if len(result.errors) > MAX_ERRORS_SHOWN:
            self.stderr.write(f"  … and {len(result.errors) - MAX_ERRORS_SHOWN} more")
        if not commit:
            self.stdout.write(self.style.WARNING("Dry run: nothing saved. Add --commit to save."))

    def _progress(self, rows: int, last: str) -> None:
        self.stdout.write(f"[{rows} rows] {last}")
