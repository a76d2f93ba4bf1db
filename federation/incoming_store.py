"""Durable storage of accepted activities, with the writes of concurrent requests grouped.

A commit per request caps an inbox near a thousand activities a second; grouping the rows that
arrive while the previous commit runs into one transaction lifts that cap. No request is
answered before its row is committed, so a 202 always means durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
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
        try:
            return await self._insert_new(rows)
        except IntegrityError:
            # Another process stored one of these ids meanwhile: fall back to one row at a time.
            return [(await self._insert_new([row]))[0] for row in rows]

    async def _insert_new(self, rows: list[dict]) -> list[bool]:
        ids = {row["activity_uri"] for row in rows if row["activity_uri"]}
        async with self.sessionmaker() as session:
            known = set()
            if ids:
                known = set(await session.scalars(
                    select(IncomingActivity.activity_uri).where(IncomingActivity.activity_uri.in_(ids))
                ))
            results, fresh = [], []
            for row in rows:
                uri = row["activity_uri"]
                if uri and uri in known:
                    results.append(False)
                    continue
                if uri:
                    known.add(uri)
                results.append(True)
                fresh.append({**row, "state": "received", "attempts": 0, "received_at": utcnow()})
            if fresh:
                await session.execute(insert(IncomingActivity), fresh)
                await session.commit()
        return results
