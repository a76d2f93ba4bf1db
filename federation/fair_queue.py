"""Which received activities the inbox worker takes next: round-robin by the sender's server.

Each round visits the servers that have work, in host order from where the previous round
stopped (wrapping around), and takes an equal share from each, oldest first. A server that
sent ten thousand likes gets its share of a round like a server that sent one reply: the reply
waits at most one round, whatever is queued in front of it.

Both queries walk the index (state, actor_host, id): the hosts by a loose index scan (one index
probe per host, a recursive query both SQLite and PostgreSQL run), the activities by one short
range per host. Neither reads the rest of the queue, so a round stays cheap with a hundred
thousand activities waiting.
"""

from __future__ import annotations

from datetime import datetime
from itertools import zip_longest

from sqlalchemy import bindparam, or_, text
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.queue_states import IncomingStates
from archipel.storage.tables import IncomingActivity, UTCDateTime

MAX_HOSTS = 100  # servers visited per round (also bounds the size of the union below)

_TABLE = IncomingActivity.__table__

# The next `:limit` hosts with received rows, from `:after` on: each step is one index probe.
_HOSTS_SQL = """
WITH RECURSIVE hosts(host, n) AS (
    SELECT (SELECT MIN(actor_host) FROM incoming_activities
            WHERE state = '{received}' AND actor_host {first} :after), 1
    UNION ALL
    SELECT (SELECT MIN(i.actor_host) FROM incoming_activities AS i
            WHERE i.state = '{received}' AND i.actor_host > hosts.host), hosts.n + 1
    FROM hosts WHERE hosts.host IS NOT NULL AND hosts.n < :limit
)
SELECT host FROM hosts WHERE host IS NOT NULL
"""
# One host's share, oldest first (the same conditions as `ready`).
_SHARE_SQL = """SELECT * FROM (SELECT id, actor_host FROM incoming_activities
    WHERE state = '{received}' AND actor_host = :h{{n}} AND (next_try_at IS NULL OR next_try_at <= :now)
    ORDER BY id LIMIT :share) AS share_{{n}}""".format(received=IncomingStates.RECEIVED)
_HOSTS_AFTER = text(_HOSTS_SQL.format(first=">", received=IncomingStates.RECEIVED))
_HOSTS_FROM = text(_HOSTS_SQL.format(first=">=", received=IncomingStates.RECEIVED))


class Turn:
    """Where the round-robin stands: the last host visited."""

    def __init__(self) -> None:
        self.last_host = ""


def ready(now: datetime) -> tuple:
    """Conditions of a row that may be taken now: received, and not waiting (retry or lease)."""
    return (_TABLE.c.state == IncomingStates.RECEIVED,
            or_(_TABLE.c.next_try_at.is_(None), _TABLE.c.next_try_at <= now))


async def hosts_in_turn(session: AsyncSession, turn: Turn, limit: int = MAX_HOSTS) -> list[str]:
    """Up to `limit` hosts with received rows, continuing after the last one visited."""
    hosts = list(await session.scalars(_HOSTS_AFTER, {"after": turn.last_host, "limit": limit}))
    if len(hosts) < limit and turn.last_host:
        wrapped = await session.scalars(_HOSTS_FROM, {"after": "", "limit": limit - len(hosts)})
        seen = set(hosts)
        hosts += [host for host in wrapped if host <= turn.last_host and host not in seen]
    return hosts


async def pick(session: AsyncSession, turn: Turn, now: datetime, limit: int) -> list[int]:
    """Ids of up to `limit` ready rows, an equal share per host, interleaved host by host
    (first of each host, then second of each...) so that every host's first waits least."""
    hosts = await hosts_in_turn(session, turn, min(MAX_HOSTS, limit))  # every host visited gets one
    if not hosts:
        return []
    turn.last_host = hosts[-1]
    share = max(1, limit // len(hosts))
    # Plain SQL: building this union with the expression language cost far more than running it.
    query = text(" UNION ALL ".join(_SHARE_SQL.format(n=n) for n in range(len(hosts)))).bindparams(
        bindparam("now", type_=UTCDateTime))
    values = {"now": now, "share": share, **{f"h{n}": host for n, host in enumerate(hosts)}}
    queues: dict[str, list[int]] = {host: [] for host in hosts}
    for incoming_id, host in await session.execute(query, values):
        queues[host].append(incoming_id)
    for queue in queues.values():
        queue.sort()
    interleaved = [incoming_id for step in zip_longest(*queues.values()) for incoming_id in step
                   if incoming_id is not None]
    return interleaved[:limit]
