"""`archipel backup DIR OUT` and `archipel restore OUT DIR`: an island in one folder, and back.

A backup folder holds everything an island is:

    manifest.json   format, Archipel version, schema revision, date, the island's URL and handle
    archipel.toml   the settings, secret_key included
    archipel.db     SQLite: the database, copied with SQLite's online backup API
    database.pgdump PostgreSQL: `pg_dump --format=custom`
    media/          uploaded images and files, and the pictures kept from other servers

The actors' keys live in the database (local_actors), so a restored island signs with the same
keys under the same URL: its followers keep receiving what it publishes.

Consistency while the island runs: the database is copied from one snapshot (SQLite's backup
API reads a consistent state while writers go on; pg_dump works in one transaction), then the
media. A media file is written before the row naming it commits, so every file the copied
database names was already there when the media were copied (a file deleted between the two
copies is the exception: its item was being changed). Files written after the snapshot are
copied too, unused; the restored island sweeps what it does not know.

The manifest is written last: a folder without one is an interrupted backup.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import make_url

from archipel.errors import ArchipelError
from archipel.settings import SETTINGS_FILE, Settings, setting_fields, write_settings
from archipel.storage import migrate

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_FILE = "archipel.db"
PG_DUMP_FILE = "database.pgdump"
MEDIA = "media"


class BackupError(ArchipelError):
    """A backup or a restore that cannot be done; the message says why, in one line."""


@dataclass
class Summary:
    folder: Path
    database: str  # "sqlite" | "postgresql"
    schema: str | None
    media_files: int

    def line(self, verb: str) -> str:
        return (f"{verb} {self.folder}: {self.database} database at schema {self.schema or 'none'}, "
                f"{self.media_files} media files")


def archipel_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("archipel")
    except PackageNotFoundError:
        return "unknown"


def _backend(database_url: str) -> str:
    name = make_url(database_url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {name} database: SQLite and PostgreSQL only")
    return name


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A URL pg_dump understands (no driver), and the password as PGPASSWORD rather than on the
    command line, where every user of the machine could read it."""
    url = make_url(database_url).set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
        url = url.set(password=None)
    return url.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools of the server's version "
                          f"(e.g. apt install postgresql-client)")
    return path


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupError(f"{what} failed: {lines[-1] if lines else f'status {done.returncode}'}")


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: one consistent state, while the island goes on writing."""
    if not source.exists():
        raise BackupError(f"no database file {source}")
    origin = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        copy = sqlite3.connect(target)
        try:
            origin.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
    finally:
        origin.close()


def _copy_media(source: Path, target: Path) -> int:
    """Copy a folder whose files may come and go meanwhile (a removed file is skipped)."""
    count = 0
    if not source.is_dir():
        return 0
    for root, _folders, files in os.walk(source):
        destination = target / Path(root).relative_to(source)
        destination.mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                shutil.copy2(Path(root) / name, destination / name)
            except FileNotFoundError:
                continue
            count += 1
    return count


def _refuse_existing(folder: Path, what: str) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"{folder} already exists and is not empty: {what} refuses to overwrite it; "
                          f"choose a new folder")


def _new_folder(folder: Path, what: str) -> None:
    _refuse_existing(folder, what)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # the settings' secret and the actors' keys are inside


async def backup(settings: Settings, out: str | Path) -> Summary:
    out = Path(out)
    database_url = settings.effective_database_url
    backend = _backend(database_url)
    if backend == "postgresql":
        _tool("pg_dump")
    schema = await migrate.current_revision(database_url)
    _new_folder(out, "backup")
    created = datetime.now(timezone.utc)
    if backend == "sqlite":
        await asyncio.to_thread(_sqlite_copy, Path(make_url(database_url).database), out / SQLITE_FILE)
    else:
        url, env = _libpq(database_url)
        await asyncio.to_thread(_run, [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                                       "--file", str(out / PG_DUMP_FILE), "--dbname", url], env, "pg_dump")
    media_files = await asyncio.to_thread(_copy_media, settings.effective_media_directory, out / MEDIA)
    shutil.copy2(settings.directory / SETTINGS_FILE, out / SETTINGS_FILE)
    manifest = {"format": FORMAT, "archipel_version": archipel_version(), "schema": schema,
                "created_at": created.isoformat(timespec="seconds"), "database": backend,
                "url": settings.url, "handle": settings.handle, "media_files": media_files}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return Summary(out, backend, schema, media_files)


def read_manifest(source: Path) -> dict:
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(f"{source} is not a backup folder (no {MANIFEST}; an interrupted backup has none)")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"{path} cannot be read") from None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if found != FORMAT:
        raise BackupError(f"{path}: unknown backup format {found!r} (this version reads format {FORMAT})")
    return manifest


async def _postgres_is_empty(database_url: str) -> bool:
    from sqlalchemy import inspect

    from archipel.storage.engine import make_engine

    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    except (OSError, ConnectionError) as error:
        raise BackupError(f"cannot connect to {make_url(database_url).render_as_string()}: {error}") from None
    finally:
        await engine.dispose()
    return not tables


def _restored_settings(source: Path, directory: Path, database_url: str | None) -> None:
    """The settings of the backup, with the new database and the media in DIR/media."""
    try:
        raw = tomllib.loads((source / SETTINGS_FILE).read_text("utf-8"))
    except (FileNotFoundError, tomllib.TOMLDecodeError) as error:
        raise BackupError(f"{source / SETTINGS_FILE} cannot be read: {error}") from None
    raw.pop("media_directory", None)
    raw.pop("database_url", None)
    if database_url:
        raw["database_url"] = database_url
    known = {f.name for f in setting_fields()}
    values = {name: tuple(value) if isinstance(value, list) else value
              for name, value in raw.items() if name in known}
    write_settings(directory, **values)
    (directory / SETTINGS_FILE).chmod(0o600)


async def _hand_back_in_flight(directory: Path) -> None:
    """Deliveries the snapshot shows in flight were being sent by a process of the island that was
    copied: none of the restored island's processes sends them. Due again now, instead of holding
    their host's slots until their leases run out (minutes, on PostgreSQL where no process puts
    them back at start)."""
    from sqlalchemy import update

    from archipel.queue_states import DeliveryStates
    from archipel.settings import load_settings
    from archipel.storage.engine import make_engine
    from archipel.storage.tables import Delivery, utcnow

    engine = make_engine(load_settings(directory).effective_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(update(Delivery).where(Delivery.state == DeliveryStates.IN_FLIGHT)
                                     .values(state=DeliveryStates.PENDING, next_try_at=utcnow()))
    finally:
        await engine.dispose()


async def restore(source: str | Path, directory: str | Path, database_url: str | None = None) -> Summary:
    source, directory = Path(source), Path(directory)
    manifest = read_manifest(source)
    _refuse_existing(directory, "restore")
    backend = manifest.get("database")
    if backend == "postgresql":
        if not database_url or _backend(database_url) != "postgresql":
            raise BackupError("this backup holds a PostgreSQL database: give --database-url of an empty "
                              "PostgreSQL database to restore it into")
        _tool("pg_restore")
        if not (source / PG_DUMP_FILE).is_file():
            raise BackupError(f"{source / PG_DUMP_FILE} is missing")
        if not await _postgres_is_empty(database_url):
            raise BackupError("the database given already holds tables: restore refuses to overwrite it; "
                              "create an empty database")
    elif backend == "sqlite":
        if database_url:
            raise BackupError("this backup holds a SQLite database: it restores into the island folder "
                              "(no --database-url)")
        if not (source / SQLITE_FILE).is_file():
            raise BackupError(f"{source / SQLITE_FILE} is missing")
    else:
        raise BackupError(f"{source / MANIFEST}: unknown database {backend!r}")
    _new_folder(directory, "restore")
    try:
        if backend == "sqlite":
            await asyncio.to_thread(shutil.copy2, source / SQLITE_FILE, directory / SQLITE_FILE)
        else:
            url, env = _libpq(database_url)
            try:
                await asyncio.to_thread(_run, [_tool("pg_restore"), "--no-owner", "--no-privileges",
                                               "--exit-on-error", "--dbname", url, str(source / PG_DUMP_FILE)],
                                        env, "pg_restore")
            except BackupError as error:
                raise BackupError(f"{error} (the database may hold part of the backup: drop it and create "
                                  f"it empty before trying again)") from None
        media_files = await asyncio.to_thread(_copy_media, source / MEDIA, directory / MEDIA)
        _restored_settings(source, directory, database_url)
        await _hand_back_in_flight(directory)
    except BaseException:
        # No half island left behind: the folder was new or empty (a PostgreSQL database that
        # pg_restore began to fill is the operator's to drop, as the error says).
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return Summary(directory, backend, manifest.get("schema"), media_files)
