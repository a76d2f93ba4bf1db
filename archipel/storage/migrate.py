"""Schema migrations with Alembic, driven from code (no alembic.ini to ship)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from archipel.storage.engine import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutOfDate(RuntimeError):
    """The database is not at the schema this code expects."""


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def current_revision(database_url: str) -> str | None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
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
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")


async def require_current_schema(database_url: str, directory: str) -> None:
    current, head = await current_revision(database_url), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database is at schema {current or 'none'} but this version needs {head}: "
            f"run `archipel migrate {directory}` first"
        )
