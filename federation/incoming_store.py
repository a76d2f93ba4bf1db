"""Durable storage of accepted activities, with the writes of concurrent requests grouped.

A commit per request caps an inbox near a thousand activities a second; grouping the rows that
arrive while the previous commit runs into one transaction lifts that cap. No request is
answered before its row is committed, so a 202 always means durable.

One bad row must not fail the requests grouped with it: rows are checked before they join a
batch, and if the database still refuses a batch (a value it cannot hold), the batch is split in
halves until the refused row is alone; that row's request alone is refused (OutOfBounds, a 400).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy import exc
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from archipel.queue_states import IncomingStates
from archipel.bounds import OutOfBounds, clip_text, fits_uri, require_uri
from archipel.storage.tables import IncomingActivity, utcnow
from federation.write_turns import WriteTurns

log = logging.getLogger(__name__)
MAX_BATCH = 500


class IncomingStore:
    def __init__(self, sessionmaker: async_sessionmaker, on_stored: Callable[[], None] = lambda: None):
        self.sessionmaker = sessionmaker
        self.on_stored = on_stored
        self._queue: asyncio.Queue = asyncio.Queue()
        self._writer: asyncio.Task | None = None
        # Shared with the inbox worker of the same process (federation/write_turns.py).
        self.write_turns: WriteTurns | None = None

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
        """Store one activity; False when its id was already stored (idempotent by activity id).
        OutOfBounds when a value cannot be stored: the request is refused, nothing is kept."""
        values = checked_row(values)
        if self._writer is None:  # not started (CLI, tests): write directly
            future = asyncio.get_running_loop().create_future()
            await self._store([(values, future)])
            return future.result()
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((values, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            await self._store(batch)
            self.on_stored()

    async def _store(self, batch: list[tuple[dict, asyncio.Future]]) -> None:
        """Write a batch and settle its futures; a refused batch is split until the refused rows
        are alone, so that genuine rows sent at the same moment are stored."""
        try:
            results = await self._write_batch([values for values, _ in batch])
        except Exception as error:
            if not _refused(error):  # the database is down: every waiting request fails
                log.exception("storing %d incoming activities failed", len(batch))
                _fail(batch, error)
                return
            if len(batch) == 1:
                values = batch[0][0]
                log.info("incoming activity %.200s from %.200s refused by the database: %s",
                         values["activity_uri"], values["actor_uri"], _first_line(error))
                _fail(batch, OutOfBounds("La base de données refuse l'activité : %(error)s", error=_first_line(error)))
                return
            middle = len(batch) // 2
            await self._store(batch[:middle])
            await self._store(batch[middle:])
            return
        for (_, future), inserted in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(inserted)

    async def _write_batch(self, rows: list[dict]) -> list[bool]:
        """Insert the rows; an activity id already stored (or repeated in the batch) is skipped.

        ON CONFLICT DO NOTHING makes the check and the insert one statement, so two processes
        (or two requests in one batch) can never store the same activity twice."""
        now = utcnow()
        fresh = [{**row, "state": IncomingStates.RECEIVED, "attempts": 0, "received_at": now} for row in rows]
        turn = self.write_turns.store() if self.write_turns else contextlib.nullcontext()
        async with turn, self.sessionmaker() as session:
            dialect = session.bind.dialect.name
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            statement = (insert(IncomingActivity).on_conflict_do_nothing(index_elements=["activity_uri"])
                         .returning(IncomingActivity.activity_uri))
            stored = await session.execute(statement, fresh)
            stored_ids = [uri for (uri,) in stored]
            await session.commit()
            if self.write_turns is not None:  # what the worker will find: repeats are not stored
                self.write_turns.stored(len(stored_ids))
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


def checked_row(values: dict) -> dict:
    """The row as it can be stored on both databases, or OutOfBounds (the inbox answers 400).
    The payload was parsed by remote_json: its strings and numbers are already storable."""
    activity_uri = values.get("activity_uri")
    if activity_uri is not None and not fits_uri(activity_uri):
        raise OutOfBounds("L'identifiant de l'activité n'est pas une adresse d'au plus %(limit)s caractères.", limit=2000)
    return {**values, "activity_uri": activity_uri,
            "actor_uri": require_uri(values["actor_uri"], "actor"),
            "signer_uri": require_uri(values["signer_uri"], "signer"),
            "activity_type": clip_text(values["activity_type"], 32)}


def _refused(error: Exception) -> bool:
    """A value the database refused (class 22 data exception, 23 integrity), as opposed to a
    database that is unreachable or down."""
    if isinstance(error, (exc.DataError, exc.IntegrityError)):
        return True
    if isinstance(error, exc.DBAPIError):
        state = str(getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None) or "")
        return state[:2] in ("22", "23")
    # Raised while binding a parameter (an unencodable string, a value a driver cannot convert).
    return isinstance(error, (exc.StatementError, ValueError, TypeError, OverflowError))


def _fail(batch, error: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)


def _first_line(error: Exception) -> str:
    return str(error).strip().split("\n")[0][:300]
