"""Listings of items as cards, paged by cursor: the timeline, theme and author pages share them."""

from __future__ import annotations

from aiohttp import web

from archipel import cards, content
from web import appkeys
from web.params import bad_cursor


def here(request: web.Request) -> cards.Here:
    settings = request.app[appkeys.SETTINGS]
    return cards.Here(settings.url, settings.name)


def position(request: web.Request, name: str = "before"):
    """The cursor `name` of the address, decoded; 400 for anything we cannot have written."""
    text = request.query.get(name)
    if not text:
        return None
    decoded = content.decode_position(text)
    if decoded is None:
        raise bad_cursor(name)
    return decoded


async def cursor_page(request: web.Request, session, query, size: int,
                      values: dict | None = None) -> tuple[list[cards.Card], dict | None]:
    """One page of a public_items query after the `before` cursor, as cards, and the address
    parameters of the next page (None on the last one). `query` is built once (public_items, or
    lru-cached as the timeline's filters), its parameters in `values`; the cards' items are rows
    of content.CARD_COLUMNS."""
    cursor = position(request)
    statement = content.card_page(query, cursor is not None, size + 1)
    items = list(await session.execute(statement, {**(values or {}), **content.cursor_values(cursor)}))
    more = len(items) > size
    items = items[:size]
    following = dict(request.query, before=content.encode_position(items[-1].published, items[-1].id)) if more else None
    return await cards.cards_for(session, here(request), items), following
