"""The agenda: the archipelago's events in the order they start, filtered like a search.

The filters are the search's own (archipel/search.py: `matching_ids` of a SearchRequest), and
which events the island shows is content.public_items' rule, so an event is in the agenda exactly
when a search would find it. Upcoming means not over yet (`ends_at` from now on): a two-day forum
stays in the agenda on its second day. `upcoming_events` is what the letter calls.
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import content, events, search
from archipel.search import SearchRequest
from archipel.storage.tables import ItemTheme, StoredObject, utcnow
from archipel.themes import theme_key

MAX_EVENTS = 200  # one page of the agenda or of a calendar feed
PAST_PAGE = 50


def public_events(request: SearchRequest | None, dialect: str):
    """The events anyone may see, among those the search `request` finds (all without one)."""
    query = content.public_items(local=None, kinds=("event",)).where(StoredObject.starts_at.is_not(None))
    ids = search.matching_ids(dialect, request) if request is not None else None
    if ids is not None:
        query = query.where(StoredObject.id.in_(ids))
    return query.order_by(None)


async def upcoming(session: AsyncSession, request: SearchRequest | None = None, *, now: datetime | None = None,
                   limit: int = MAX_EVENTS) -> list[StoredObject]:
    """Events not over yet, the soonest first."""
    query = public_events(request, session.bind.dialect.name).where(StoredObject.ends_at >= (now or utcnow()))
    return list(await session.scalars(query.order_by(StoredObject.starts_at, StoredObject.id).limit(limit)))


async def past(session: AsyncSession, request: SearchRequest | None = None, *, now: datetime | None = None,
               page: int = 1) -> tuple[list[StoredObject], bool]:
    """Events over, the latest first, a page at a time; and whether an older page exists."""
    page = min(max(page, 1), search.MAX_PAGE)
    query = public_events(request, session.bind.dialect.name).where(StoredObject.ends_at < (now or utcnow()))
    found = list(await session.scalars(query.order_by(StoredObject.starts_at.desc(), StoredObject.id.desc())
                                       .limit(PAST_PAGE + 1).offset((page - 1) * PAST_PAGE)))
    return found[:PAST_PAGE], len(found) > PAST_PAGE


async def upcoming_events(session: AsyncSession, *, since: datetime | None = None, until: datetime | None = None,
                          themes=(), request: SearchRequest | None = None, limit: int = 50) -> list[StoredObject]:
    """For the letter: the events shown on the agenda that are not over at `since` (now by
    default) and start before `until`, on any of `themes` if given, the soonest first. `request`
    adds any other filter of the search (island, region, language...)."""
    query = public_events(request, session.bind.dialect.name).where(StoredObject.ends_at >= (since or utcnow()))
    if until is not None:
        query = query.where(StoredObject.starts_at < until)
    keys = [key for key in (theme_key(theme)[:100] for theme in themes) if key]
    if keys:
        query = query.where(StoredObject.id.in_(select(ItemTheme.object_id).where(ItemTheme.key.in_(keys))))
    return list(await session.scalars(query.order_by(StoredObject.starts_at, StoredObject.id).limit(limit)))


def by_month(items: list[StoredObject]) -> list[tuple[tuple[int, int], list[StoredObject]]]:
    """((year, month), events) in the given order, each event in the month it starts in its own
    zone (a workshop at 00:30 in Paris on 1 March is a March event)."""
    def month(item: StoredObject) -> tuple[int, int]:
        start, _ = events.local_times(item.fields)
        return start.year, start.month

    return [(key, list(group)) for key, group in groupby(items, key=month)]
