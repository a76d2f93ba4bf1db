"""How much of each sending server waits to be processed: past a limit, its next POSTs are
answered 429 with Retry-After until the inbox worker catches up.

The worker is fair across servers (fair_queue.py), so a flood does not delay anyone else's
activities; this bounds what a flood can pile up in the database. Servers retry a 429 later
(Mastodon, GoToSocial, snac all do), so nothing genuine is lost, only delayed.

A server is the host of the key that signed (the sender), never the actor a body claims: rows
relayed by one server count against it, so nobody can fill another server's share. Counting
costs no query per POST: rows stored since the last look are counted in memory, and the table
is read (one short index range, `ix_incoming_fair`) only when that count reaches the limit and
then at most once a second while the server stays full. A server therefore has at most about
twice the limit waiting, per serving process.
"""

from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from archipel.queue_states import IncomingStates
from archipel.storage.tables import IncomingActivity

RECHECK_SECONDS = 1.0
RETRY_AFTER_SECONDS = 60


class Backlog:
    def __init__(self, sessionmaker: async_sessionmaker, limit: int):
        self.sessionmaker = sessionmaker
        self.limit = limit  # 0: no limit
        self._stored_since_look: Counter[str] = Counter()
        self._full_until: dict[str, float] = {}

    def stored(self, host: str) -> None:
        if self.limit > 0:
            self._stored_since_look[host] += 1

    async def is_full(self, host: str) -> bool:
        if self.limit <= 0 or self._stored_since_look[host] < self.limit:
            return False
        now = time.monotonic()
        if self._full_until.get(host, 0.0) > now:
            return True
        async with self.sessionmaker() as session:
            # The limit-th waiting row of this server, if there is one: an index range, no count.
            at_limit = await session.scalar(
                select(IncomingActivity.id)
                .where(IncomingActivity.state == IncomingStates.RECEIVED, IncomingActivity.actor_host == host)
                .order_by(IncomingActivity.id).offset(self.limit - 1).limit(1))
        if at_limit is not None:
            self._full_until[host] = now + RECHECK_SECONDS
            return True
        # Under the limit: most of what was stored since has been processed; count afresh.
        self._full_until.pop(host, None)
        del self._stored_since_look[host]
        return False
