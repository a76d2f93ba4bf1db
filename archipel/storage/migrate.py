"""Schema migrations with Alembic, driven from code (no alembic.ini to ship).

Only `upgrade` needs Alembic. Serving checks the schema without it (the revision table read with
SQLAlchemy, the newest revision from the migrations' file names): Alembic brings Mako and
Pygments, ~8 MB that an idle island would keep for nothing.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from archipel.storage.engine import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Each migration is versions/NNNN_what.py, with revision "NNNN" revising the one numbered before
# it (tests/test_schema.py holds them to it): the highest number is the head.
VERSIONS = MIGRATIONS / "versions"
REVISION_FILES = "[0-9][0-9][0-9][0-9]_*.py"


class SchemaOutOfDate(RuntimeError):
    """The database is not at the schema this code expects."""


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@functools.cache
def head_revision() -> str:
    return max(path.name[:4] for path in VERSIONS.glob(REVISION_FILES))


async def current_revision(database_url: str) -> str | None:
    """The revision the database is at; None before its first migration."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            if not await connection.run_sync(lambda sync: inspect(sync).has_table("alembic_version")):
                return None
            return await connection.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()


# A database upgraded across the revision that created the search index (0013), or the one that
# added the map's kept cells and the items' positions to it (0020), has items to index; the
# search's pair counts (0019) are counted by the same reindex.
REINDEX_BEFORE = "0020"


async def upgrade(database_url: str) -> None:
    """Bring the database to the newest schema (creates it from nothing)."""
    before = await current_revision(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.begin() as connection:
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            await connection.run_sync(lambda sync: _upgrade_sync(config, sync))
        if before is not None and before < REINDEX_BEFORE:
            # Indexed with today's code, not inside the migration: a migration must not depend on
            # models that later migrations change.
            from archipel import search_index
            from archipel.storage.engine import make_sessionmaker

            async with make_sessionmaker(engine)() as session:
                await search_index.reindex(session)
                await session.commit()
    finally:
        await engine.dispose()


def _upgrade_sync(config: Config, sync_connection) -> None:
    from alembic import command

    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")


async def require_current_schema(database_url: str, directory: str) -> None:
    current, head = await current_revision(database_url), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database is at schema {current or 'none'} but this version needs {head}: "
            f"run `archipel migrate {directory}` first"
        )
