"""« Notifications »: what happened around a person's work (followers, replies, likes, boosts,
reuses, reports, proposals), newest first; viewing the page marks them read."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from archipel import notifications, threads
from archipel.storage.tables import StoredObject
from web import appkeys, auth
from web.pages import page, page_url
from web.params import query_int

routes = web.RouteTableDef()
PAGE_SIZE = 50


async def _links(session, objects: dict[str, StoredObject]) -> tuple[dict[str, str], dict[str, StoredObject]]:
    """Where each object is shown here (a reply: inside its conversation), and for a reply the
    item its conversation hangs under."""
    links, conversations = {}, {}
    for uri, item in objects.items():
        if item.in_reply_to:
            root = await threads.root_of(session, item)
            if not root.in_reply_to:
                conversations[uri] = root
                if item.deleted_at is None:
                    links[uri] = f"{page_url(root)}#reponse-{item.id}"
        elif item.deleted_at is None and (item.state in ("published", "archived") or item.is_local):
            links[uri] = page_url(item)
    return links, conversations


@routes.get("/espace/notifications")
async def notifications_page(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    before = query_int(request, "avant")
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        rows = await notifications.latest(session, user.actor.id, limit=PAGE_SIZE,
                                          before_id=before)
        actors = await threads.describe_authors(session, settings.url, {n.actor_uri for n in rows if n.actor_uri})
        uris = {n.object_uri for n in rows if n.object_uri}
        objects = {item.uri: item for item in await session.scalars(
            select(StoredObject).where(StoredObject.uri.in_(uris)))} if uris else {}
        links, conversations = await _links(session, objects)
        unread = {n.id for n in rows if n.read_at is None}  # before marking (which updates the rows too)
        await notifications.mark_read(session, user.actor.id)
        await session.commit()
    older = rows[-1].id if len(rows) == PAGE_SIZE else None
    return await page(request, "notifications.html", notices=rows, unread=unread, actors=actors, objects=objects, links=links,
                      conversations=conversations,
                      older=older, unread_notifications=0)
