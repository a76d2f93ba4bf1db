"""/authorize_interaction: where another server sends one of our members who asked to follow an
account from there (our WebFinger names it as the OStatus subscribe template, like Mastodon).

The member confirms on a page (a GET must never follow anyone: links can be forged), and the
Follow goes out from their own actor.
"""

from __future__ import annotations

from aiohttp import web

from archipel import social
from archipel.errors import InvalidInput
from federation import actions
from federation.actors import ActorError
from federation.client import FetchError
from federation.discovery import actor_id_of
from federation.documents import ActorUrls
from web import appkeys, auth
from web.i18n import gettext, negotiate_language
from web.pages import page

routes = web.RouteTableDef()


async def _resolve(request: web.Request, given: str):
    """The remote actor named by an acct: handle or an actor URL."""
    settings = request.app[appkeys.SETTINGS]
    target = await actor_id_of(request.app[appkeys.CLIENT], given,
                               allow_private_networks=settings.allow_private_networks)
    if not target.startswith(("http://", "https://")):
        raise InvalidInput("not an account address")
    if target.startswith(settings.url.rstrip("/") + "/"):
        raise InvalidInput("an account of this island")
    return await request.app[appkeys.DIRECTORY].get(target, refresh=True)


async def _page(request: web.Request, user, given: str, *, status: int = 200) -> web.Response:
    lang = negotiate_language(request)
    settings = request.app[appkeys.SETTINGS]
    try:
        remote = await _resolve(request, given)
    except (FetchError, ActorError, InvalidInput):
        return await page(request, "interaction.html", status=400, given=given, remote=None, relation=None,
                          error=gettext(lang, "Ce compte est introuvable : vérifiez son adresse."))
    async with request.app[appkeys.SESSIONS]() as session:
        relation = await social.find_follow(session, ActorUrls(settings.url, user.username).id, remote.uri)
    return await page(request, "interaction.html", status=status, given=given, remote=remote,
                      relation=relation, error=None, done=request.query.get("done"))


@routes.get("/authorize_interaction")
async def confirm(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    return await _page(request, user, request.query.get("uri", ""))


@routes.post("/authorize_interaction")
async def follow(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    given = str((await request.post()).get("uri", ""))
    try:
        remote = await _resolve(request, given)
    except (FetchError, ActorError, InvalidInput):
        return await _page(request, user, given)
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        if await social.find_follow(session, ActorUrls(settings.url, user.username).id, remote.uri) is None:
            await actions.follow(session, settings.url, user.actor, remote)
            await session.commit()
    if appkeys.DELIVERY_WORKER in request.app:
        request.app[appkeys.DELIVERY_WORKER].wake.set()
    raise web.HTTPSeeOther(f"/authorize_interaction?uri={remote.uri}&done=1")
