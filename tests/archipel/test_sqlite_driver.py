"""SQLite statements in one trip to the connection's thread (archipel/storage/sqlite_driver.py),
with the answers SQLAlchemy needs from a cursor: rows, row counts (RETURNING too), errors."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from archipel.storage import sqlite_driver
from archipel.storage.engine import make_engine

metadata = MetaData()
things = Table("things", metadata, Column("id", Integer, primary_key=True), Column("name", String(20), unique=True))


@pytest.fixture
async def engine(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def trips(monkeypatch):
    """Calls queued for the connections' threads."""
    calls = []
    queue = sqlite_driver.OneHopConnection._execute

    async def counted(self, function, *args, **kwargs):
        calls.append(getattr(function, "__name__", repr(function)))
        return await queue(self, function, *args, **kwargs)
    monkeypatch.setattr(sqlite_driver.OneHopConnection, "_execute", counted)
    return calls


async def test_each_statement_is_one_trip_with_its_rows_and_counts(engine, trips):
    async with engine.begin() as connection:
        trips.clear()
        inserted = await connection.execute(insert(things).returning(things.c.id), [{"name": "a"}])
        assert [row.id for row in inserted] == [1]
        assert trips == ["_run"]  # execute, every row, the row count and the close: one call
        await connection.execute(insert(things), [{"name": name} for name in ("b", "c", "d")])
        changed = await connection.execute(update(things).where(things.c.name != "a").values(name=things.c.name + "!"))
        assert changed.rowcount == 3
        returned = await connection.execute(
            update(things).where(things.c.id > 2).values(name="x" + things.c.name).returning(things.c.name))
        assert sorted(returned.scalars()) == ["xc!", "xd!"]
        trips.clear()
        rows = (await connection.execute(select(things.c.name).order_by(things.c.id))).scalars().all()
        assert rows == ["a", "b!", "xc!", "xd!"] and trips == ["_run"]
        assert (await connection.execute(select(things).where(things.c.id == 99))).first() is None
        one = await connection.execute(text("SELECT name FROM things ORDER BY id"))
        assert one.fetchone() == ("a",) and one.fetchmany(2) == [("b!",), ("xc!",)] and one.fetchall() == [("xd!",)]


async def test_errors_are_sqlalchemy_errors_and_roll_back(engine):
    async with engine.begin() as connection:
        await connection.execute(insert(things), [{"name": "a"}])
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(things), [{"name": "b"}])
            await connection.execute(insert(things), [{"name": "a"}])
    async with engine.connect() as connection:
        assert (await connection.execute(select(things.c.name))).scalars().all() == ["a"]
