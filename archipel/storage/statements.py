"""INSERT statements built once and run with their values as parameters.

Building `insert(...).values(...)` anew for every row makes SQLAlchemy coerce each value and
compute a cache key each time; on the inbox's hot paths that cost more than running the
statement. These are built once per database dialect (their ON CONFLICT clause is dialect
specific) and executed with a dict of values: `session.execute(statement, values)`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

_INSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}


def prepared(build: Callable) -> Callable[[AsyncSession], object]:
    """Decorate `build(insert)`, which makes the statement from its dialect's `insert`; the
    result gives the statement for a session, built once per dialect."""
    @cache
    def for_dialect(name: str):
        return build(_INSERTS[name])

    def statement(session: AsyncSession | Connection):
        # A session's engine, or a sync connection (in ORM flush hooks), knows its dialect.
        dialect = session.dialect if isinstance(session, Connection) else session.bind.dialect
        return for_dialect(dialect.name)
    return statement
