"""How the inbox's store and the inbox worker of one process share it, so that processing keeps
pace with accepting.

Left to the event loop, 64 requests in flight get far more of the process than the worker's one
transaction at a time, and under a sustained flood the backlog grows without end. So the store
counts what it wrote, the worker's batches grow to match it (and a little more, to eat into a
backlog), and the senders' 202s wait instead:

- On SQLite a transaction holds the only write lock: the store and the worker take turns at
  writing, first come first served. (The store, left to wait in SQLite's busy handler with its
  sleeps of up to 100 ms, would seldom catch the lock free between the worker's batches.) The
  turns alone pace them.
- On PostgreSQL they write side by side; the store waits only when the worker is more than
  `AHEAD` activities behind it, until the worker's next step (at most `WAIT` seconds, so that a
  stuck worker never stops the inbox).

A process that only receives, or only works (PostgreSQL's roles), has none: there each side
has a process of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from federation.workers import woken

AHEAD = 100  # activities the store may be ahead of the worker (PostgreSQL)
WAIT = 2.0  # seconds the store waits for the worker at most (PostgreSQL)


class WriteTurns:
    def __init__(self, *, one_writer: bool):
        self.one_writer = one_writer
        self._lock = asyncio.Lock()  # FIFO: whoever asked first writes next
        self._owed = 0  # stored here, not yet matched by the worker
        self._worked = asyncio.Event()

    @contextlib.asynccontextmanager
    async def store(self) -> AsyncIterator[None]:
        if self.one_writer:
            async with self._lock:
                yield
            return
        if self._owed >= AHEAD:
            self._worked.clear()
            await woken(self._worked, WAIT)
        yield

    def stored(self, count: int) -> None:
        self._owed += count

    @contextlib.asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        if self.one_writer:
            async with self._lock:
                yield
        else:
            yield

    def worker_batch(self, least: int, most: int) -> int:
        """Activities for the worker's next transaction: what the store wrote that the worker
        has not matched yet, and `least` more to eat into a backlog."""
        return min(most, least + self._owed)

    def worked(self, count: int) -> None:
        self._owed = max(0, self._owed - count)
        self._worked.set()

    def idle(self) -> None:
        """The worker found nothing ready: whatever the store wrote waits for a retry's time,
        or was handled by another process."""
        self._owed = 0
        self._worked.set()
