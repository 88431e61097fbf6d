"""Restore of a backup made by `core.backup` (the archive format and the shared checks live
there): refuses a database that has tables, restores in a single transaction (pg_restore exits 0
or nothing is changed), then checks every count and checksum."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import psycopg
from psycopg import sql

from core.backup import (
    BACKUP_NOT_AN_ARCHIVE,
    CHUNK,
    DUMP,
    MANIFEST,
    MEDIA_PREFIX,
    Database,
    backup_manifest,
    media_files,
    pg_tool,
    sha256_file,
    table_counts,
    user_tables,
)

logger = logging.getLogger(__name__)

RESTORE_DATABASE_NOT_EMPTY = (
    "The database {name} is not empty ({count} tables, e.g. {example}). Restore into an empty "
    "database, or replace its contents with --force (FORCE=1 for make restore)."
)
RESTORE_MEDIA_NOT_EMPTY = (
    "The photo folder {path} already holds {count} files. Restore into an empty folder, or "
    "overwrite with --force (FORCE=1 for make restore)."
)
RESTORE_PG_RESTORE_FAILED = "pg_restore failed (exit code {code}); nothing was restored:\n{stderr}"
RESTORE_DUMP_CHECKSUM = "The database dump in {path} is damaged (sha256 differs from manifest)."
RESTORE_UNSAFE_MEMBER = "Refusing the archive member {name!r}: not a plain file inside media/."


@dataclass
class RestoreResult:
    database: str
    tables: dict[str, int]
    files: int
    media_bytes: int
    seconds: float
    problems: list[str]


def _ensure_database(database: Database) -> None:
    """Create the target database when it does not exist yet (needs CREATEDB)."""
    try:
        database.connect(connect_timeout=10).close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    with database.with_name("postgres").connect(autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database.name)))
    logger.info("created the database %s", database.name)


def _safe_member(member: tarfile.TarInfo) -> str | None:
    """The media-relative path of an archive member, or None for the dump and the manifest."""
    if member.name in (DUMP, MANIFEST):
        return None
    rel = PurePosixPath(member.name)
    if (
        not member.isfile()
        or not member.name.startswith(MEDIA_PREFIX)
        or rel.is_absolute()
        or ".." in rel.parts
    ):
        raise ValueError(RESTORE_UNSAFE_MEMBER.format(name=member.name))
    return member.name[len(MEDIA_PREFIX) :]


def backup_restore(
    *, path: Path, database: Database, media_root: Path, force: bool = False
) -> RestoreResult:
    """Restore the archive at `path` into `database` and `media_root`, then check it.

    Refuses a database with tables and a photo folder with files unless `force`: then the
    database's schema public is dropped and recreated, and files of the same name are replaced.
    """
    started = time.monotonic()
    manifest = backup_manifest(path=path)
    _ensure_database(database)
    existing_files = sum(1 for _ in media_files(media_root))
    with database.connect(autocommit=True) as conn, conn.cursor() as cursor:
        tables = user_tables(cursor)
        if tables and not force:
            example = ", ".join(f"{s}.{n}" for s, n in tables[:3])
            raise ValueError(
                RESTORE_DATABASE_NOT_EMPTY.format(
                    name=database.name, count=len(tables), example=example
                )
            )
        if existing_files and not force:
            raise ValueError(RESTORE_MEDIA_NOT_EMPTY.format(path=media_root, count=existing_files))
        if tables:
            # Also drops PostGIS (its objects live in public); the dump creates it again.
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
            logger.warning("dropped the %d tables of %s (--force)", len(tables), database.name)

    problems: list[str] = []
    files = 0
    media_bytes = 0
    with tarfile.open(path, "r:") as archive, tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / DUMP
        source = archive.extractfile(DUMP)
        if source is None:
            raise ValueError(BACKUP_NOT_AN_ARCHIVE.format(path=path, manifest=DUMP))
        with dump.open("wb") as target:
            shutil.copyfileobj(source, target, CHUNK)
        if sha256_file(dump) != manifest["database"]["sha256"]:
            raise ValueError(RESTORE_DUMP_CHECKSUM.format(path=path))
        # One transaction: pg_restore either restores everything and exits 0, or nothing.
        run = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            [
                pg_tool("pg_restore"),
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                "--no-privileges",
                f"--dbname={database.name}",
                str(dump),
            ],
            env=database.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            raise RuntimeError(
                RESTORE_PG_RESTORE_FAILED.format(code=run.returncode, stderr=run.stderr.strip())
            )

        expected_files = manifest["media"]["files"]
        seen: set[str] = set()
        for member in archive:
            rel = _safe_member(member)
            if rel is None:
                continue
            seen.add(rel)
            target_path = media_root / rel
            target_path.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            source = archive.extractfile(member)
            partial = target_path.with_name(target_path.name + ".restoring")
            with partial.open("wb") as target:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    target.write(chunk)
            partial.replace(target_path)
            os.utime(target_path, (member.mtime, member.mtime))
            files += 1
            media_bytes += member.size
            wanted = expected_files.get(rel)
            if wanted is None:
                problems.append(f"file {rel} is not in the manifest")
            elif wanted["sha256"] != digest.hexdigest():
                problems.append(f"file {rel}: sha256 differs from the manifest")
        problems.extend(f"file {rel} is missing" for rel in sorted(set(expected_files) - seen))

    with database.connect(autocommit=True) as conn, conn.cursor() as cursor:
        # pg_restore leaves the planner without statistics: spatial queries would be slow.
        cursor.execute("ANALYZE")
        counts = table_counts(cursor)
    for table, expected in manifest["tables"].items():
        if counts.get(table) != expected:
            problems.append(f"table {table}: {counts.get(table)} rows, manifest says {expected}")
    return RestoreResult(
        database=database.name,
        tables=counts,
        files=files,
        media_bytes=media_bytes,
        seconds=time.monotonic() - started,
        problems=problems,
    )
