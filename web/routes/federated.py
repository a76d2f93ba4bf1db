"""The federated timeline of the archipelago, for network animators: every public item, local
or replicated, newest first, filtered, paged by cursor, and updated live (server-sent events)."""

from __future__ import annotations

import asyncio
import json
from functools import lru_cache

from aiohttp import web
from sqlalchemy import bindparam, func, or_, select

from archipel import cards, content
from archipel.accounts import island_actor
from archipel.queue_states import IncomingStates
from archipel.storage.tables import Follow, HostHealth, IncomingActivity, StoredObject
from federation.as2 import host_of
from federation.documents import ActorUrls
from federation.workers import woken
from web import appkeys, auth, listing
from web.i18n import negotiate_language
from web.pages import page
from web.params import query_int

routes = web.RouteTableDef()
PAGE_SIZE = 30
STREAM_POLL_SECONDS = 1.0
KINDS = ("fiche", "resource", "article", "event")
INCOMING_STATES = (IncomingStates.RECEIVED, IncomingStates.PROCESSED, IncomingStates.IGNORED,
                   IncomingStates.FAILED)


def _filters(request: web.Request) -> dict:
    query = request.query
    return {
        "island": query.get("island", "").strip(),
        "theme": query.get("theme", "").strip(),
        "type": query.get("type", "") if query.get("type") in KINDS else "",
        "territory": query.get("territory", "").strip()[:100],
        "language": query.get("language", "").strip()[:16],
    }


def _filtered(filters: dict):
    """The timeline's query for these filters and its parameters: the query is built once per
    kind, theme and choice of the other filters, whose values are parameters."""
    values = {}
    if filters["island"]:
        values["island"] = filters["island"].lower()
    if filters["territory"]:
        values["territory"] = f"%{filters['territory'].lower()}%"
    if filters["language"]:
        values["language"] = filters["language"]
    return _filtered_query(filters["type"], filters["theme"], "island" in values, "territory" in values,
                           "language" in values), values


@lru_cache(maxsize=256)
def _filtered_query(kind: str, theme: str, island: bool, territory: bool, language: bool):
    query = content.public_items(local=None, kinds=(kind,) if kind else KINDS, theme=theme or None)
    if island:
        query = query.where(StoredObject.origin_host == bindparam("island"))
    if territory:
        needle = bindparam("territory")
        # ILIKE on the columns themselves: PostgreSQL estimates a pattern from their statistics
        # (it has none of lower(column)), so it walks the newest items instead of sorting every
        # match when a region is common (85 -> 3.6 ms for the statement at 100,000 items).
        query = query.where(or_(StoredObject.place.ilike(needle), StoredObject.region.ilike(needle)))
    if language:
        query = query.where(StoredObject.language == bindparam("language"))
    return query


async def _islands(session, request: web.Request) -> list[cards.Island]:
    """This island and the islands it follows, by name (the filter's value stays the host)."""
    here = listing.here(request)
    return [here.island, *await cards.followed_islands(session, here)]


@routes.get("/federated")
async def federated(request: web.Request) -> web.Response:
    filters = _filters(request)
    async with request.app[appkeys.SESSIONS]() as session:
        query, values = _filtered(filters)
        page_cards, next_query = await listing.cursor_page(request, session, query, PAGE_SIZE, values)
        first_page = "before" not in request.query
        # Only the first page streams what comes next (from the newest item now).
        newest_id = (await session.scalar(select(func.max(StoredObject.id))) or 0) if first_page else 0
        islands = await _islands(session, request)
        themes = await content.theme_counts(session, local=None, limit=100)
    stream_query = {k: v for k, v in filters.items() if v}
    return await page(request, "federated.html", cards=page_cards, filters=filters, islands=islands, themes=themes,
                      kinds=KINDS, next_query=next_query, stream_query={**stream_query, "after": newest_id},
                      first_page=first_page)


@routes.get("/federated/stream")
async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: each new public item matching the filters, as a ready-made card."""
    filters = _filters(request)
    last_id = query_int(request, "after", default=0)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    templates = request.app[appkeys.TEMPLATES]
    card = templates.get_template("_card.html")
    settings = request.app[appkeys.SETTINGS]
    lang = negotiate_language(request)
    idle = 0.0
    shutting_down = request.app[appkeys.SHUTTING_DOWN]
    try:
        # Until the reader leaves (seen at once, not at the next write) or the server stops.
        while request.transport is not None and not request.transport.is_closing() and not shutting_down.is_set():
            async with request.app[appkeys.SESSIONS]() as session:
                # Watch every new row (not only matching ones) so the cursor always advances.
                newest = await session.scalar(select(func.max(StoredObject.id))) or last_id
                query, values = _filtered(filters)
                fresh = list(await session.scalars(
                    query.where(StoredObject.id > last_id, StoredObject.id <= newest)
                    .order_by(None).order_by(StoredObject.id), values))
                fresh_cards = await cards.cards_for(session, listing.here(request), fresh)
            last_id = max(last_id, newest)
            for fresh_card in fresh_cards:
                html = card.render(card=fresh_card, base_url=settings.url, lang=lang)
                await response.write(f"event: item\nid: {fresh_card.item.id}\ndata: {json.dumps({'html': html})}\n\n".encode())
                idle = 0.0
            idle += STREAM_POLL_SECONDS
            if idle >= 15:
                await response.write(b": keep-alive\n\n")
                idle = 0.0
            await woken(shutting_down, STREAM_POLL_SECONDS)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


@routes.get("/federated/islands/{host}")
async def island_state(request: web.Request) -> web.Response:
    """One island of the archipelago: for everyone its name and what it published here; for
    moderators and admins also how the island is doing with it (follows each way, last activity
    received, deliveries). The island's operational state is never public."""
    host = request.match_info["host"]
    settings = request.app[appkeys.SETTINGS]
    user = await auth.current_user(request)
    operational = user is not None and user.has_role("moderator")
    async with request.app[appkeys.SESSIONS]() as session:
        island = await island_actor(session)
        ours = ActorUrls(settings.url, island.username).id
        follows = [f for f in await session.scalars(select(Follow).where(
            or_(Follow.follower_uri == ours, Follow.followed_uri == ours))) if
            host_of(f.followed_uri if f.follower_uri == ours else f.follower_uri) == host]
        query, values = _filtered({"island": host, "theme": "", "type": "", "territory": "", "language": ""})
        replicated = await session.scalar(query.with_only_columns(func.count(StoredObject.id)).order_by(None), values)
        named = (await cards.islands_named(session, listing.here(request), {host}))[host]
        last_received = health = None
        if operational and (follows or replicated):
            last_received = await _last_received(session, host)
            health = await session.get(HostHealth, host)
    # A visitor sees the islands of the archipelago (followed, or whose items we show); a follow
    # still pending, refused, or only theirs is the island's business.
    followed = any(f.follower_uri == ours and f.state == "accepted" for f in follows)
    if not (replicated or followed or (operational and follows)):
        raise web.HTTPNotFound(text="no relation with this island")
    return await page(request, "federated_island.html", host=host, island=named, follows=follows, ours=ours,
                      last_received=last_received, replicated=replicated, health=health, operational=operational)


async def _last_received(session, host: str):
    """When the island last received an activity signed on `host`: the newest id in each state's
    range of ix_incoming_fair (state, actor_host, id), never a scan of the inbox's history."""
    newest = [await session.scalar(select(func.max(IncomingActivity.id)).where(
        IncomingActivity.state == state, IncomingActivity.actor_host == host)) for state in INCOMING_STATES]
    newest_id = max((i for i in newest if i is not None), default=None)
    if newest_id is None:
        return None
    return await session.scalar(select(IncomingActivity.received_at).where(IncomingActivity.id == newest_id))
