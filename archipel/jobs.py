"""The island's background queues, declared once: their tables, their states, how work is
claimed, and how long finished rows are kept.

Every queue is a table written in the same transaction as the change that causes it (a
delivery with the activity it sends, a received activity with its 202): nothing is queued
that the database did not keep, and nothing kept is lost by a crash.

Claiming: a row is taken by pushing its due time into the future (the *lease*) in a committed
statement, so a crashed worker's rows come due again when the lease ends, and nobody resets
another process's rows. On PostgreSQL the rows are first locked with `FOR UPDATE SKIP LOCKED`,
so workers of several processes never wait on or take the same row; SQLite has one writer,
which serialises the claims by itself.

The states of each queue are in `queue_states.py` (the tables use them as defaults).

Retention: rows that are done are deleted after `retention_days`, in bounded batches, failed
ones after `failed_retention_days` (left longer for the operator to look at).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from archipel.queue_states import DeliveryStates, IncomingStates, MailStates
from archipel.storage.tables import Delivery, IncomingActivity, OutgoingMail, utcnow

log = logging.getLogger(__name__)

PURGE_BATCH = 1000  # rows deleted per statement: short transactions, the queue keeps flowing


@dataclass(frozen=True)
class Queue:
    """One queue's table and states. `waiting` rows are claimed by pushing `due` ahead;
    `working` (when the queue has it) marks a claimed row until its outcome is written."""

    name: str
    table: Table
    waiting: str
    done: tuple[str, ...]
    failed: tuple[str, ...]
    finished_at: str  # column set when a row reaches a final state
    working: str | None = None

    @property
    def states(self) -> tuple[str, ...]:
        return (self.waiting, *((self.working,) if self.working else ()), *self.done, *self.failed)


INBOX = Queue("inbox", IncomingActivity.__table__, waiting=IncomingStates.RECEIVED,
              done=(IncomingStates.PROCESSED, IncomingStates.IGNORED), failed=(IncomingStates.FAILED,),
              finished_at="processed_at")
DELIVERIES = Queue("deliveries", Delivery.__table__, waiting=DeliveryStates.PENDING,
                   working=DeliveryStates.IN_FLIGHT, done=(DeliveryStates.SENT,),
                   failed=(DeliveryStates.GAVE_UP,), finished_at="finished_at")
# A mail given up has no time of its own: its age counts from when it was queued.
MAIL = Queue("mail", OutgoingMail.__table__, waiting=MailStates.PENDING, done=(MailStates.SENT,),
             failed=(MailStates.GAVE_UP,), finished_at="created_at")
QUEUES = (INBOX, DELIVERIES, MAIL)


@dataclass(frozen=True)
class Retention:
    done: timedelta
    failed: timedelta

    @classmethod
    def from_days(cls, done_days: float, failed_days: float) -> Retention:
        return cls(timedelta(days=done_days), timedelta(days=failed_days))


async def purge_once(session: AsyncSession, queue: Queue, states: tuple[str, ...], before: datetime,
                     limit: int = PURGE_BATCH) -> int:
    """Delete up to `limit` rows of `queue` in `states` finished before `before` (committed)."""
    table = queue.table
    finished = table.c[queue.finished_at]
    # Oldest first by id (ids grow with time), through the (state, …) indexes each queue has.
    # Read first, so that a purge with nothing to delete writes nothing (on SQLite a write takes
    # the only lock, which a command run beside the server may be waiting for).
    oldest = list(await session.scalars(
        select(table.c.id).where(table.c.state.in_(states), finished.is_not(None), finished < before)
        .order_by(table.c.id).limit(limit)))
    if not oldest:
        await session.commit()
        return 0
    await session.execute(delete(table).where(table.c.id.in_(oldest)))
    await session.commit()
    return len(oldest)


class Purger:
    """Deletes finished rows past their retention, a bounded batch at a time."""

    def __init__(self, sessionmaker: async_sessionmaker, retention: Retention, *, batch: int = PURGE_BATCH):
        self.sessionmaker = sessionmaker
        self.retention = retention
        self.batch = batch

    async def run_once(self) -> int:
        """One batch per queue and kind; returns how many rows were deleted (0: nothing left)."""
        now = utcnow()
        deleted = 0
        async with self.sessionmaker() as session:
            for queue in QUEUES:
                for states, kept in ((queue.done, self.retention.done), (queue.failed, self.retention.failed)):
                    count = await purge_once(session, queue, states, now - kept, self.batch)
                    if count:
                        log.info("purged %d %s rows (%s) older than %s", count, queue.name,
                                 "/".join(states), kept)
                    deleted += count
        return deleted
