"""Atom feeds of the island, of each author and of each theme: the items of the matching page
(web/routes/pages.py), built by web/feeds.py."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from archipel import content
from archipel.accounts import find_actor
from archipel.themes import theme_key
from federation.documents import ActorUrls
from web import appkeys, feeds
from web.i18n import negotiate_language

routes = web.RouteTableDef()


@routes.get("/flux.atom")
async def island(request: web.Request) -> web.Response:
    """The island's own fiches, resources and articles (the home page's)."""
    settings = request.app[appkeys.SETTINGS]
    return await feeds.query_feed(request, content.public_items(),
                                  link=feeds.island_feed(negotiate_language(request), settings),
                                  alternate_url=f"{settings.url.rstrip('/')}/")


@routes.get("/@{username}/flux.atom")
async def author(request: web.Request) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        actor = await find_actor(session, request.match_info["username"])
    if actor is None:
        raise web.HTTPNotFound(text="no such actor")
    if actor.kind == "theme":  # as its page does: a theme's items are on the theme's feed
        raise web.HTTPFound(f"/tags/{quote(actor.theme_key or '')}/flux.atom")
    if actor.kind != "person":  # the island's actor: the island's feed
        raise web.HTTPFound("/flux.atom")
    urls = ActorUrls(settings.url, actor.username)
    return await feeds.query_feed(request, content.public_items(author_uri=urls.id),
                                  link=feeds.author_feed(negotiate_language(request), settings, actor),
                                  alternate_url=urls.profile)


@routes.get("/tags/{tag}/flux.atom")
async def theme(request: web.Request) -> web.Response:
    """Items of the whole archipelago on this theme (the theme page's)."""
    settings = request.app[appkeys.SETTINGS]
    key = theme_key(request.match_info["tag"])
    if not key:  # no theme has an empty key: without one, the query would list every item
        raise web.HTTPNotFound(text="no such theme")
    async with request.app[appkeys.SESSIONS]() as session:
        items = list(await session.scalars(content.public_items(local=None, theme=key).limit(feeds.MAX_ENTRIES)))
        link = feeds.theme_feed(negotiate_language(request), settings, key,
                                feeds.theme_label(items, key, request.match_info["tag"]))
        return await feeds.atom_response(request, session, items, link=link,
                                         alternate_url=f"{settings.url.rstrip('/')}/tags/{quote(key)}")
