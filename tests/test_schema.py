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


def test_each_migration_revises_the_one_numbered_before_it():
    """Serving reads the newest revision from the files' numbers (migrate.head_revision): it must
    be the head Alembic finds by following the revisions."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.alembic_config(""))
    files = sorted(path.name for path in migrate.VERSIONS.glob("*.py"))
    revisions = {script.revision: script for script in scripts.walk_revisions()}
    assert sorted(revisions) == [name[:4] for name in files]
    for number, name in enumerate(files, start=1):
        assert name[:4] == f"{number:04d}"
        assert revisions[name[:4]].down_revision == (f"{number - 1:04d}" if number > 1 else None)
    assert migrate.head_revision() == scripts.get_current_head() == files[-1][:4]


async def test_the_revision_is_none_before_the_first_migration_then_the_head(tmp_path, databases):
    url = await databases.new("revision") or f"sqlite+aiosqlite:///{tmp_path / 'revision.db'}"
    assert await migrate.current_revision(url) is None
    await migrate.upgrade(url)
    assert await migrate.current_revision(url) == migrate.head_revision()
