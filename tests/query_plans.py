"""How a database would run a statement, for tests that a query reads through an index."""

from __future__ import annotations

from sqlalchemy import text


async def plan(session, statement) -> str:
    dialect = session.bind.dialect
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "sqlite":
        rows = await session.execute(text("EXPLAIN QUERY PLAN " + sql))
        return "\n".join(row[-1] for row in rows)
    # PostgreSQL plans tiny tables as scans whatever their indexes: forbid scans to see whether
    # an index can answer (an empty table of a big island's shape).
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    return "\n".join(row[0] for row in await session.execute(text("EXPLAIN " + sql)))
