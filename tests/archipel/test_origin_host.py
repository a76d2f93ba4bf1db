"""The origin host of an item, written with the row and backfilled by migration 0011: the column
content.in_archipelago compares with the followed islands' hosts."""

from alembic import command
from sqlalchemy import text

from archipel.storage import migrate
from archipel.storage.engine import make_engine
from archipel.storage.tables import origin_host_of


def test_origin_host_is_what_follows_the_scheme_up_to_the_next_slash():
    assert origin_host_of("https://ile.example/o/1") == "ile.example"
    assert origin_host_of("http://127.0.0.1:8000/o/1") == "127.0.0.1:8000"
    assert origin_host_of("HTTPS://Ile.Example/o/1") == "ile.example"  # compared lowercased, as before
    assert origin_host_of("https://ile.example") == ""  # no slash after the host: no island's item
    assert origin_host_of("https://ile.example?x=/o/1") == "ile.example?x="  # never a followed host
    assert origin_host_of("tag:ile.example,2026:1") == ""
    assert origin_host_of("ftp://ile.example/o/1") == ""
    assert origin_host_of("https://" + "a" * 301 + "/o/1") == ""  # no RemoteActor.host is that long
    assert origin_host_of(None) == ""


async def test_migration_0011_backfills_origin_host_and_shared_by(tmp_path, databases):
    url = await databases.new("backfill") or f"sqlite+aiosqlite:///{tmp_path / 'backfill.db'}"
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            config = migrate.alembic_config(url)
            config.attributes["connection"] = connection
            await connection.run_sync(lambda sync: _upgrade_to(config, sync, "0010"))
            for n, (uri, extra) in enumerate([
                    ("https://Ile.Example/o/1", "{}"),
                    ("https://hors.example/o/2", '{"shared_by": "https://ile.example/users/ile"}'),
                    ("tag:x,2026:3", '{"other": 1}')]):
                await connection.execute(text(
                    "INSERT INTO objects (id, uri, is_local, type, author_uri, name, summary, content, language, "
                    "tags, public, extra, published, kind, state, place, region, fields, private_fields) VALUES "
                    "(:id, :uri, false, 'Article', 'https://ile.example/users/a', '', '', '', 'fr', '[]', true, "
                    ":extra, '2026-01-01 00:00:00', 'fiche', 'published', '', '', '{}', '{}')"),
                    {"id": n + 1, "uri": uri, "extra": extra})
        await migrate.upgrade(url)
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT origin_host, shared_by FROM objects ORDER BY id"))).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [("ile.example", None), ("hors.example", "https://ile.example/users/ile"),
                                            ("", None)]


def _upgrade_to(config, sync_connection, revision: str) -> None:
    config.attributes["connection"] = sync_connection
    command.upgrade(config, revision)
