"""Durable storage of accepted activities, with the writes of concurrent requests grouped.

A commit per request caps an inbox near a thousand activities a second; grouping the rows that
arrive while the previous commit runs into one transaction lifts that cap. No request is
answered before its row is committed, so a 202 always means durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from archipel.storage.tables import IncomingActivity, utcnow

log = logging.getLogger(__name__)
MAX_BATCH = 500


class IncomingStore:
    def __init__(self, sessionmaker: async_sessionmaker, on_stored: Callable[[], None] = lambda: None):
        self.sessionmaker = sessionmaker
        self.on_stored = on_stored
        self._queue: asyncio.Queue = asyncio.Queue()
        self._writer: asyncio.Task | None = None
        # On SQLite, shared with the inbox worker: one writer at a time, in turn (processing.py).
        self.write_turn: asyncio.Lock | None = None

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._run(), name="incoming-writer")

    async def stop(self) -> None:
        if self._writer:
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass

    async def add(self, **values) -> bool:
        """Store one activity; False when its id was already stored (idempotent by activity id)."""
        if self._writer is None:  # not started (CLI, tests): write directly
            return (await self._write_batch([values]))[0]
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((values, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            try:
                results = await self._write_batch([values for values, _ in batch])
            except Exception as error:  # the database is down: every waiting request fails
                log.exception("storing %d incoming activities failed", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), inserted in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(inserted)
            self.on_stored()

    async def _write_batch(self, rows: list[dict]) -> list[bool]:
        """Insert the rows; an activity id already stored (or repeated in the batch) is skipped.

        ON CONFLICT DO NOTHING makes the check and the insert one statement, so two processes
        (or two requests in one batch) can never store the same activity twice."""
        now = utcnow()
        fresh = [{**row, "state": "received", "attempts": 0, "received_at": now} for row in rows]
        async with self.write_turn or contextlib.nullcontext(), self.sessionmaker() as session:
            dialect = session.bind.dialect.name
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            statement = (insert(IncomingActivity).on_conflict_do_nothing(index_elements=["activity_uri"])
                         .returning(IncomingActivity.activity_uri))
            stored = await session.execute(statement, fresh)
            stored_ids = [uri for (uri,) in stored]
            await session.commit()
        results, remaining = [], {}
        for uri in stored_ids:
            remaining[uri] = remaining.get(uri, 0) + 1
        for row in rows:
            uri = row["activity_uri"]
            if remaining.get(uri, 0) > 0:
                remaining[uri] -= 1
                results.append(True)
            else:
                results.append(False)
        return results
