"""Backup and restore of one civicmap installation: the database and the photo storage.

A backup is one tar archive (not compressed again: the dump is compressed, photos are JPEG):

    database.dump    pg_dump custom format (-Fc) of the whole database
    media/...        every file under MEDIA_ROOT (public copies and private originals)
    manifest.json    row count of every table, size and sha256 of the dump and of every file

The dump and the row counts come from one snapshot (pg_export_snapshot), so the counts are
exactly what the dump holds even while the app keeps writing. The files are read after the
snapshot: a photo stored in between is in the archive without a row (harmless), never a row
without its file. Restoring is `core.restore.backup_restore`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

FORMAT = "civicmap-backup/1"
MANIFEST = "manifest.json"
DUMP = "database.dump"
MEDIA_PREFIX = "media/"
CHUNK = 1024 * 1024

BACKUP_NOT_AN_ARCHIVE = "{path} is not a civicmap backup (no readable {manifest} in it)."
BACKUP_FORMAT_UNKNOWN = "{path} has the unknown backup format {found!r} (expected {expected!r})."
BACKUP_DUMP_FAILED = "pg_dump failed (exit code {code}):\n{stderr}"


@dataclass(frozen=True)
class Database:
    """Where a database is, as libpq wants it (also the PG* variables of pg_dump/pg_restore)."""

    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings_dict: dict[str, Any]) -> Database:
        options = settings_dict.get("OPTIONS") or {}
        libpq = {k: str(v) for k, v in options.items() if k in {"sslmode", "sslrootcert"}}
        return cls(
            name=settings_dict["NAME"],
            user=settings_dict.get("USER") or "",
            password=settings_dict.get("PASSWORD") or "",
            host=settings_dict.get("HOST") or "",
            port=str(settings_dict.get("PORT") or ""),
            options=libpq,
        )

    def with_name(self, name: str) -> Database:
        return Database(name, self.user, self.password, self.host, self.port, self.options)

    def connect(self, **kwargs: Any) -> psycopg.Connection:
        params = {"dbname": self.name, "user": self.user, "password": self.password}
        params.update(host=self.host, port=self.port, **self.options)
        return psycopg.connect(**{k: v for k, v in params.items() if v}, **kwargs)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        values = {
            "PGDATABASE": self.name,
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGHOST": self.host,
            "PGPORT": self.port,
            "PGSSLMODE": self.options.get("sslmode", ""),
            "PGSSLROOTCERT": self.options.get("sslrootcert", ""),
        }
        for key, value in values.items():
            if value:
                env[key] = value
            else:
                env.pop(key, None)
        return env


@dataclass
class BackupResult:
    path: Path
    tables: dict[str, int]
    files: int
    media_bytes: int
    dump_bytes: int
    seconds: float


# --- shared helpers ---------------------------------------------------------------------------


def user_tables(cursor: psycopg.Cursor) -> list[tuple[str, str]]:
    """Tables that belong to the installation: not system catalogues, not owned by an extension
    (PostGIS' spatial_ref_sys is the extension's)."""
    cursor.execute(
        """
        SELECT n.nspname, c.relname
        FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%'
          AND n.nspname NOT LIKE 'pg\\_temp%'
          AND NOT EXISTS (
              SELECT 1 FROM pg_catalog.pg_depend AS d
              WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1, 2
        """
    )
    return [(schema, name) for schema, name in cursor.fetchall()]


def table_counts(cursor: psycopg.Cursor) -> dict[str, int]:
    counts = {}
    for schema, name in user_tables(cursor):
        cursor.execute(
            sql.SQL("SELECT pg_catalog.count(*) FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(name)
            )
        )
        counts[f"{schema}.{name}"] = cursor.fetchone()[0]
    return counts


def media_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(posix path relative to root, path) of every regular file, in a stable order."""
    if not root.is_dir():
        return
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(root).as_posix(), path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _HashingReader(io.RawIOBase):
    """Reads a file for tarfile while hashing exactly the bytes that go into the archive."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _add_file(archive: tarfile.TarFile, arcname: str, path: Path) -> tuple[int, str]:
    with path.open("rb") as handle:
        info = archive.gettarinfo(fileobj=handle, arcname=arcname)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        reader = _HashingReader(handle)
        archive.addfile(info, reader)
    return info.size, reader.digest.hexdigest()


def pg_tool(name: str) -> str:
    """PostgreSQL's client programs, found on PATH (Debian: postgresql-client)."""
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found on PATH; install PostgreSQL's client programs.")
    return found


def _migrations(cursor: psycopg.Cursor) -> dict[str, str]:
    """The newest applied migration of each app (tells which code version the dump fits)."""
    cursor.execute("SELECT pg_catalog.to_regclass('public.django_migrations') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return {}
    cursor.execute("SELECT app, name FROM public.django_migrations ORDER BY app, name")
    latest: dict[str, str] = {}
    for app, name in cursor.fetchall():
        latest[app] = name
    return latest


# --- backup -----------------------------------------------------------------------------------


def backup_path(*, directory: Path, now: dt.datetime | None = None) -> Path:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return directory / f"civicmap-backup-{stamp}.tar"


def backup_create(*, database: Database, media_root: Path, path: Path) -> BackupResult:
    """Write the backup archive to `path` (via a `.partial` file, renamed when complete)."""
    started = time.monotonic()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    # The archive holds residents' contact data and photo originals: readable by the owner only.
    old_umask = os.umask(0o077)
    try:
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".backup-") as tmp:
            dump = Path(tmp) / DUMP
            with database.connect(autocommit=True) as conn:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                with conn.cursor() as cursor:
                    cursor.execute("SELECT pg_catalog.pg_export_snapshot()")
                    snapshot = cursor.fetchone()[0]
                    tables = table_counts(cursor)
                    migrations = _migrations(cursor)
                    cursor.execute(
                        "SELECT pg_catalog.current_setting('server_version'), "
                        "(SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'postgis')"
                    )
                    server_version, postgis_version = cursor.fetchone()
                # The exporting transaction stays open until pg_dump has taken the snapshot.
                run = subprocess.run(  # noqa: S603 - fixed argument list, no shell
                    [
                        pg_tool("pg_dump"),
                        "--format=custom",
                        f"--snapshot={snapshot}",
                        f"--file={dump}",
                    ],
                    env=database.env(),
                    capture_output=True,
                    text=True,
                    check=False,
                )
                conn.execute("COMMIT")
            if run.returncode != 0:
                raise RuntimeError(
                    BACKUP_DUMP_FAILED.format(code=run.returncode, stderr=run.stderr.strip())
                )
            with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
                dump_bytes, dump_sha = _add_file(archive, DUMP, dump)
                files: dict[str, dict[str, Any]] = {}
                for rel, file_path in media_files(media_root):
                    size, digest = _add_file(archive, MEDIA_PREFIX + rel, file_path)
                    files[rel] = {"bytes": size, "sha256": digest}
                manifest = {
                    "format": FORMAT,
                    "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "database": {
                        "name": database.name,
                        "server_version": server_version,
                        "postgis_version": postgis_version,
                        "file": DUMP,
                        "bytes": dump_bytes,
                        "sha256": dump_sha,
                        "migrations": migrations,
                    },
                    "tables": tables,
                    "media": {"root": str(media_root), "files": files},
                }
                data = json.dumps(manifest, indent=1, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(data)
                info.mtime = int(time.time())
                info.mode = 0o600
                archive.addfile(info, io.BytesIO(data))
            partial.replace(path)
    finally:
        os.umask(old_umask)
        partial.unlink(missing_ok=True)
    return BackupResult(
        path=path,
        tables=tables,
        files=len(files),
        media_bytes=sum(f["bytes"] for f in files.values()),
        dump_bytes=dump_bytes,
        seconds=time.monotonic() - started,
    )


def backups_prune(*, directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` archives in `directory`; returns what was deleted."""
    archives = sorted(directory.glob("civicmap-backup-*.tar"))
    doomed = archives[:-keep] if keep > 0 else []
    for old in doomed:
        old.unlink()
    return doomed


# --- restore ----------------------------------------------------------------------------------


def backup_manifest(*, path: Path) -> dict[str, Any]:
    try:
        with tarfile.open(path, "r:") as archive:
            handle = archive.extractfile(MANIFEST)
            manifest = json.loads(handle.read()) if handle else None
    except (tarfile.TarError, KeyError, OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict):
        raise ValueError(BACKUP_NOT_AN_ARCHIVE.format(path=path, manifest=MANIFEST))
    if manifest.get("format") != FORMAT:
        raise ValueError(
            BACKUP_FORMAT_UNKNOWN.format(path=path, found=manifest.get("format"), expected=FORMAT)
        )
    return manifest
