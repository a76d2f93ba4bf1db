"""Public HTML pages: island home, profiles, items."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from archipel import social
from archipel.accounts import find_actor, island_actor
from archipel.storage.tables import LocalActor, StoredObject
from archipel.text import html_to_text
from federation.documents import ActorUrls
from web import appkeys
from web.pages import page, render

routes = web.RouteTableDef()


def _handle(request, username: str) -> str:
    return f"@{username}@{request.app[appkeys.SETTINGS].host}"


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    async with request.app[appkeys.SESSIONS]() as session:
        island = await island_actor(session)
        items = list(await session.scalars(
            select(StoredObject).where(StoredObject.is_local.is_(True), StoredObject.deleted_at.is_(None),
                                       StoredObject.in_reply_to.is_(None))
            .order_by(StoredObject.id.desc()).limit(20)))
    urls = ActorUrls(request.app[appkeys.SETTINGS].url, island.username)
    return await page(request, "home.html", alternate=urls.id, items=items,
                  island_handle=_handle(request, island.username))


@routes.get("/@{username}")
async def profile(request: web.Request) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        actor = await find_actor(session, request.match_info["username"])
        if actor is None:
            raise web.HTTPNotFound(text="no such actor")
        urls = ActorUrls(settings.url, actor.username)
        items = list(await session.scalars(
            select(StoredObject).where(StoredObject.local_author_id == actor.id,
                                       StoredObject.deleted_at.is_(None))
            .order_by(StoredObject.id.desc()).limit(50)))
        followers = await social.count_follows(session, followed_uri=urls.id)
    if request.headers.get("Accept", "").find("activity+json") >= 0:
        raise web.HTTPFound(urls.id)
    return await page(request, "actor.html", alternate=urls.id, actor=actor, items=items,
                  followers=followers, handle=_handle(request, actor.username))


async def object_page(request: web.Request, item: StoredObject) -> web.Response:
    if item.deleted_at is not None:
        return render(request, "gone.html", status=410)
    async with request.app[appkeys.SESSIONS]() as session:
        author = await session.get(LocalActor, item.local_author_id) if item.local_author_id else None
        counts = await social.interaction_counts(session, item.uri)
        replies = list(await session.scalars(
            select(StoredObject).where(StoredObject.in_reply_to == item.uri,
                                       StoredObject.deleted_at.is_(None), StoredObject.public.is_(True))
            .order_by(StoredObject.published).limit(200)))
    settings = request.app[appkeys.SETTINGS]
    author_url = ActorUrls(settings.url, author.username).profile if author else item.author_uri
    return await page(request, "object.html", alternate=item.uri, item=item, counts=counts, replies=replies,
                  author_url=author_url, author_name=author.display_name if author else item.author_uri,
                  description=item.summary or html_to_text(item.content)[:300])
