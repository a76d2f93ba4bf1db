"""The migrations build exactly the schema the code declares (no drift), on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from archipel.storage import migrate
from archipel.storage.engine import make_engine
from archipel.storage.tables import Base, declared


async def test_migrations_match_the_declared_tables(tmp_path, databases):
    url = await databases.new("schema") or f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}"
    await migrate.upgrade(url)
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"include_name": _declared}),
                                             Base.metadata))
    finally:
        await engine.dispose()
    assert differences == []


def _declared(name, type_, _parents) -> bool:
    """Each database's own full-text table (search_text) is made by the migrations only."""
    return type_ != "table" or declared(name)
