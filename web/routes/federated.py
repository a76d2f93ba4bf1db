"""The federated timeline of the archipelago, for network animators: every public item, local
or replicated, newest first, filtered, paged by cursor, and updated live (server-sent events)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from sqlalchemy import and_, func, or_, select

from archipel import content
from archipel.accounts import island_actor
from archipel.storage.tables import Follow, HostHealth, IncomingActivity, StoredObject
from federation.as2 import host_of
from federation.documents import ActorUrls
from web import appkeys
from web.i18n import negotiate_language
from web.pages import page
from web.params import bad_cursor, query_int

routes = web.RouteTableDef()
PAGE_SIZE = 30
STREAM_POLL_SECONDS = 1.0
KINDS = ("fiche", "resource", "article")


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
    query = content.public_items(local=None, kinds=(filters["type"],) if filters["type"] else KINDS,
                                 theme=filters["theme"] or None)
    if filters["island"]:
        query = query.where(content.from_island(filters["island"]))
    if filters["territory"]:
        needle = f"%{filters['territory'].lower()}%"
        query = query.where(or_(func.lower(StoredObject.place).like(needle),
                                func.lower(StoredObject.region).like(needle)))
    if filters["language"]:
        query = query.where(StoredObject.language == filters["language"])
    return query


def _cursor(item: StoredObject) -> str:
    return content.encode_position(item.published, item.id)


def _after_cursor(query, cursor: str | None):
    """Items older than the cursor (published, id): stable while new items keep arriving."""
    if not cursor:
        return query
    position = content.decode_position(cursor)
    if position is None:
        raise bad_cursor("before")
    moment, ident = position
    return query.where(or_(StoredObject.published < moment,
                           and_(StoredObject.published == moment, StoredObject.id < ident)))


async def _islands(session, base_url: str) -> list[str]:
    """This island and the islands it follows (by host)."""
    island = await island_actor(session)
    followed = await session.scalars(select(Follow.followed_uri).where(
        Follow.follower_uri == ActorUrls(base_url, island.username).id, Follow.state == "accepted"))
    return [host_of(base_url), *sorted({host_of(uri) for uri in followed})]


@routes.get("/federated")
async def federated(request: web.Request) -> web.Response:
    filters = _filters(request)
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        items = list(await session.scalars(_after_cursor(_filtered(filters), request.query.get("before"))
                                           .limit(PAGE_SIZE + 1)))
        newest_id = await session.scalar(select(func.max(StoredObject.id))) or 0
        islands = await _islands(session, settings.url)
        themes = await content.theme_counts(session, local=None, limit=100)
    more = len(items) > PAGE_SIZE
    items = items[:PAGE_SIZE]
    next_query = dict(request.query, before=_cursor(items[-1])) if more else None
    stream_query = {k: v for k, v in filters.items() if v}
    return await page(request, "federated.html", items=items, filters=filters, islands=islands, themes=themes,
                      kinds=KINDS, next_query=next_query, stream_query={**stream_query, "after": newest_id},
                      first_page="before" not in request.query, local_host=host_of(settings.url))


@routes.get("/federated/stream")
async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: each new public item matching the filters, as a ready-made card."""
    filters = _filters(request)
    last_id = query_int(request, "after", default=0)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    templates = request.app[appkeys.TEMPLATES]
    card = templates.get_template("federated_card.html")
    settings = request.app[appkeys.SETTINGS]
    lang = negotiate_language(request)
    idle = 0.0
    try:
        while True:
            async with request.app[appkeys.SESSIONS]() as session:
                # Watch every new row (not only matching ones) so the cursor always advances.
                newest = await session.scalar(select(func.max(StoredObject.id))) or last_id
                fresh = list(await session.scalars(
                    _filtered(filters).where(StoredObject.id > last_id, StoredObject.id <= newest)
                    .order_by(None).order_by(StoredObject.id)))
            last_id = max(last_id, newest)
            for item in fresh:
                html = card.render(item=item, local_host=host_of(settings.url), lang=lang)
                await response.write(f"event: item\nid: {item.id}\ndata: {json.dumps({'html': html})}\n\n".encode())
                idle = 0.0
            idle += STREAM_POLL_SECONDS
            if idle >= 15:
                await response.write(b": keep-alive\n\n")
                idle = 0.0
            await asyncio.sleep(STREAM_POLL_SECONDS)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


@routes.get("/federated/islands/{host}")
async def island_state(request: web.Request) -> web.Response:
    """How one followed island is doing: following since, last activity, items, delivery health."""
    host = request.match_info["host"]
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        island = await island_actor(session)
        ours = ActorUrls(settings.url, island.username).id
        follows = [f for f in await session.scalars(select(Follow).where(
            or_(Follow.follower_uri == ours, Follow.followed_uri == ours))) if
            host_of(f.followed_uri if f.follower_uri == ours else f.follower_uri) == host]
        last_received = await session.scalar(select(func.max(IncomingActivity.received_at)).where(
            IncomingActivity.actor_uri.like(f"%://{host}/%")))
        replicated = await session.scalar(
            _filtered({"island": host, "theme": "", "type": "", "territory": "", "language": ""})
            .with_only_columns(func.count(StoredObject.id)).order_by(None))
        health = await session.get(HostHealth, host)
    if not follows and not replicated:
        raise web.HTTPNotFound(text="no relation with this island")
    return await page(request, "federated_island.html", host=host, follows=follows, ours=ours,
                      last_received=last_received, replicated=replicated, health=health)
