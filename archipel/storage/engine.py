"""Engine and sessions, with the SQLite settings that let a CLI command and a serving node share
one file: WAL (readers never block the writer), a busy timeout, foreign keys on. SQLite
connections are aiosqlite's, with cursors that run a statement in one trip to the connection's
thread (sqlite_driver.py)."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from archipel.storage import sqlite_driver


def make_engine(database_url: str, **kwargs) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        database = make_url(database_url).database or ":memory:"
        engine = create_async_engine(database_url, async_creator=lambda: sqlite_driver.connect(database, timeout=30),
                                     **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(database_url, pool_size=10, max_overflow=10, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
