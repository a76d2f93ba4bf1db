"""WebFinger, host-meta and NodeInfo."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web
from sqlalchemy import func, select

from archipel.accounts import find_actor
from archipel.storage.tables import StoredObject, User
from federation.discovery import host_meta_xml, nodeinfo_document, nodeinfo_links, parse_handle, webfinger_document
from federation import theme_actors
from federation.documents import ActorUrls
from web import appkeys
from web.negotiation import jrd_response

routes = web.RouteTableDef()


def software_version() -> str:
    try:
        return version("archipel")
    except PackageNotFoundError:
        return "0.0.0"


@routes.get("/.well-known/webfinger")
async def webfinger(request: web.Request) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    resource = request.query.get("resource", "")  # aiohttp decodes both raw and %-encoded forms
    username = None
    if resource.startswith("acct:"):
        parsed = parse_handle(resource)
        if parsed and parsed[1].lower() == settings.host.lower():
            username = parsed[0]
    elif resource.startswith(settings.url.rstrip("/") + "/users/"):
        username = resource.rsplit("/", 1)[-1]
    elif resource.startswith(settings.url.rstrip("/") + "/@"):
        username = resource.rsplit("/@", 1)[-1]
    if not resource:
        raise web.HTTPBadRequest(text="the resource parameter is required")
    if username is None:
        raise web.HTTPNotFound(text="no such account here")
    async with request.app[appkeys.SESSIONS]() as session:
        actor = await find_actor(session, username.lower())  # every username here is lowercase
        if actor is None and resource.startswith("acct:"):
            # Any spelling of a theme finds its actor: #TransitionAlimentaire, transition_alimentaire.
            actor = await theme_actors.ensure_present(session, username)
            await session.commit()
    if actor is None:
        raise web.HTTPNotFound(text="no such account here")
    urls = ActorUrls(settings.url, actor.username)
    return jrd_response(webfinger_document(actor.username, settings.host, urls.id, urls.profile))


@routes.get("/.well-known/host-meta")
async def host_meta(request: web.Request) -> web.Response:
    return web.Response(text=host_meta_xml(request.app[appkeys.SETTINGS].url),
                        content_type="application/xrd+xml")


@routes.get("/.well-known/nodeinfo")
async def nodeinfo_index(request: web.Request) -> web.Response:
    return web.json_response(nodeinfo_links(request.app[appkeys.SETTINGS].url))


@routes.get(r"/nodeinfo/{version:2\.[01]}")
async def nodeinfo(request: web.Request) -> web.Response:
    nodeinfo_version = request.match_info["version"]
    async with request.app[appkeys.SESSIONS]() as session:
        users = await session.scalar(select(func.count(User.id))) or 0
        posts = await session.scalar(select(func.count(StoredObject.id)).where(
            StoredObject.is_local.is_(True), StoredObject.deleted_at.is_(None))) or 0
    document = nodeinfo_document(nodeinfo_version, software_version=software_version(), users=users,
                                 posts=posts, island_name=request.app[appkeys.SETTINGS].name)
    profile = f"http://nodeinfo.diaspora.software/ns/schema/{nodeinfo_version}#"
    return web.Response(text=json.dumps(document),
                        headers={"Content-Type": f'application/json; profile="{profile}"'})
