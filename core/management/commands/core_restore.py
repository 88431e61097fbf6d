from pathlib import Path

import dj_database_url
import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from core.backup import Database
from core.restore import backup_restore


class Command(BaseCommand):
    help = (
        "Restore a core_backup archive into an empty database and photo folder, then check "
        "every row count and file checksum against its manifest. docs/operations.md"
    )
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="the .tar written by core_backup")
        parser.add_argument(
            "--database-url",
            help="restore into this database instead of DATABASE_URL (created if missing)",
        )
        parser.add_argument(
            "--media-root", type=Path, help="restore the photos here instead of MEDIA_ROOT"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace what the database and the photo folder already hold",
        )

    def handle(
        self,
        *args,
        archive: Path,
        database_url: str | None,
        media_root: Path | None,
        force: bool,
        **options,
    ) -> None:
        if not archive.is_file():
            raise CommandError(f"No such backup file: {archive}")
        settings_dict = (
            dj_database_url.parse(database_url)
            if database_url
            else connections[DEFAULT_DB_ALIAS].settings_dict
        )
        database = Database.from_settings(settings_dict)
        media = media_root or Path(settings.MEDIA_ROOT)
        try:
            result = backup_restore(path=archive, database=database, media_root=media, force=force)
        except (ValueError, RuntimeError, OSError, psycopg.Error) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored {archive.name} into the database {result.database} and {media}\n"
            f"  {len(result.tables)} tables, {sum(result.tables.values())} rows; "
            f"{result.files} files, {result.media_bytes / 1e6:.1f} MB; {result.seconds:.1f} s"
        )
        if result.problems:
            raise CommandError(
                "The restored data differs from the backup's manifest:\n  "
                + "\n  ".join(result.problems)
            )
        self.stdout.write(
            "  Every row count and every file checksum matches the manifest.\n"
            "  Work that was still pending at backup time (e.g. photos being processed) is "
            "queued again by the periodic sweep once Celery worker and beat run."
        )
