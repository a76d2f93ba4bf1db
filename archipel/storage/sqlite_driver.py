"""SQLite for SQLAlchemy's asyncio engine, with one thread hop per statement.

aiosqlite runs each call on the connection's own thread: SQLAlchemy's adapter makes four calls
for a SELECT (open a cursor, execute, fetch all, close) and three for a write, each a round trip
between the event loop and that thread — a queue put, a wake-up, a callback through the loop's
self-pipe. Measured on the inbox worker (December 2026, 2 cores), those round trips, ~37 per
received activity, were most of its time: it sat idle waiting for them while its CPU stayed
under half a core. Here the cursor does the whole statement in one call on the thread — execute,
read every row, note the description, row count and last row id, close — and answers SQLAlchemy's
later questions from what it kept. Everything else (the connection, its thread, commits, errors)
is aiosqlite's own.

Results are read whole: SQLAlchemy's adapter already buffers every non-streamed result, and this
project streams none.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

import aiosqlite


def _run(connection: sqlite3.Connection, sql: str, parameters: Any) -> tuple:
    """One statement, from start to finish, on the database's thread."""
    cursor = connection.cursor()
    try:
        cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        # After the rows: a write's row count (RETURNING included) is known once it has run to the end.
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _run_many(connection: sqlite3.Connection, sql: str, parameters: Any) -> tuple:
    cursor = connection.cursor()
    try:
        cursor.executemany(sql, parameters)
        return cursor.description, cursor.rowcount, cursor.lastrowid, []
    finally:
        cursor.close()


class BufferedCursor:
    """What SQLAlchemy's adapter asks of an aiosqlite cursor, each statement run in one call."""

    arraysize = 1

    def __init__(self, connection: OneHopConnection):
        self._connection = connection
        self.description = None
        self.rowcount = -1
        self.lastrowid = None
        self._rows: deque = deque()

    async def __aenter__(self) -> BufferedCursor:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> BufferedCursor:
        result = await self._connection._execute(_run, self._connection._conn, sql,
                                                 () if parameters is None else parameters)
        self._keep(result)
        return self

    async def executemany(self, sql: str, parameters: Any) -> BufferedCursor:
        self._keep(await self._connection._execute(_run_many, self._connection._conn, sql, parameters))
        return self

    def _keep(self, result: tuple) -> None:
        self.description, self.rowcount, self.lastrowid, rows = result
        self._rows = deque(rows)

    async def fetchone(self):
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list:
        size = size or self.arraysize
        return [self._rows.popleft() for _ in range(min(size, len(self._rows)))]

    async def fetchall(self) -> list:
        rows, self._rows = list(self._rows), deque()
        return rows

    async def close(self) -> None:
        self._rows = deque()


class OneHopConnection(aiosqlite.Connection):
    """aiosqlite's connection, whose cursors run a statement in one call on its thread.

    `_execute` (queue a call for the thread) is aiosqlite's internal way in, the one its own
    cursors use; tests on both databases run every query of the project through this class."""

    def cursor(self) -> BufferedCursor:  # type: ignore[override]
        return BufferedCursor(self)


def connect(database: str, **kwargs) -> OneHopConnection:
    """`aiosqlite.connect`, returning a OneHopConnection (SQLAlchemy's `async_creator`)."""
    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, **kwargs)
    connection = OneHopConnection(connector, iter_chunk_size=64)
    # As SQLAlchemy does for aiosqlite's own: a forgotten connection never keeps the process alive.
    connection._thread.daemon = True
    return connection
