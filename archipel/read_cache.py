"""Rows read again and again during one unit of work, remembered for the length of it.

The inbox worker handles many activities in one session (a batch); each handler would
otherwise read the same local actors, the same liked article and its authors, the moderators'
blocks, once per activity, and each read is a round trip to the database. A session opts in with
`enable()`; outside such a session every read goes to the database as before.

Only rows the batch's own work does not change are remembered: local actors, local items and
their authors, the blocks. Absent rows are never remembered (a batch may create them), and the
whole cache is dropped whenever the session forgets its objects (a handler that failed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

_KEY = "archipel.read_cache"
T = TypeVar("T")


def enable(session: AsyncSession) -> None:
    session.info[_KEY] = {}


def clear(session: AsyncSession) -> None:
    cache = session.info.get(_KEY)
    if cache is not None:
        cache.clear()


async def remembered(session: AsyncSession, key: Hashable, load: Callable[[], Awaitable[T]],
                     keep: Callable[[T], bool] = lambda value: value is not None) -> T:
    """`load()`'s value, read once per session that enabled the cache; kept only if `keep`."""
    cache = session.info.get(_KEY)
    if cache is None:
        return await load()
    if key in cache:
        return cache[key]
    value = await load()
    if keep(value):
        cache[key] = value
    return value
