from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from core.backup import Database, backup_create, backup_path, backups_prune


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump -Fc) and the photo storage (MEDIA_ROOT) into one tar "
        "archive with a manifest (row counts, sha256 of every file). docs/operations.md"
    )
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            help="archive file to write (default: a dated file in BACKUP_DIR)",
        )
        parser.add_argument(
            "--keep",
            type=int,
            default=0,
            help="afterwards delete all but the newest KEEP archives in BACKUP_DIR (0: keep all)",
        )

    def handle(self, *args, output: Path | None, keep: int, **options) -> None:
        if settings.STORAGES["default"]["BACKEND"].startswith("storages."):
            raise CommandError(
                "Photos are on S3-compatible object storage: back the buckets up there "
                "(versioning, replication); this command covers local MEDIA_ROOT only."
            )
        directory = Path(settings.BACKUP_DIR)
        path = output or backup_path(directory=directory)
        database = Database.from_settings(connections[DEFAULT_DB_ALIAS].settings_dict)
        try:
            result = backup_create(
                database=database, media_root=Path(settings.MEDIA_ROOT), path=path
            )
        except (RuntimeError, OSError, psycopg.Error) as exc:
            raise CommandError(str(exc)) from exc
        size = result.path.stat().st_size
        self.stdout.write(
            f"Backup written: {result.path}\n"
            f"  database {database.name}: {len(result.tables)} tables, "
            f"{sum(result.tables.values())} rows, dump {result.dump_bytes / 1e6:.1f} MB\n"
            f"  photos: {result.files} files, {result.media_bytes / 1e6:.1f} MB\n"
            f"  archive {size / 1e6:.1f} MB in {result.seconds:.1f} s"
        )
        for old in backups_prune(directory=directory, keep=keep) if output is None else []:
            self.stdout.write(f"  deleted the older backup {old.name}")
