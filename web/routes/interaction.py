"""/authorize_interaction: where another server sends one of our members who asked to follow an
account from there (our WebFinger names it as the OStatus subscribe template, like Mastodon).

The member confirms on a page (a GET must never follow anyone: links can be forged), and the
Follow goes out from their own actor.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from archipel import social
from archipel.errors import InvalidInput
from federation import actions
from federation.discovery import actor_id_of, parse_handle
from federation.documents import ActorUrls
from web.wake import deliveries_queued
from web import appkeys, auth, remote_lookups
from web.i18n import gettext, negotiate_language
from web.pages import page

routes = web.RouteTableDef()


MAX_INPUT = 2000


class Unresolved(Exception):
    """No account to show: whatever the reason, the page says the same (see remote_lookups)."""

    def __init__(self, retry_after: int | None = None):
        super().__init__("account not found")
        self.retry_after = retry_after


async def _lookup(request: web.Request, given: str):
    settings = request.app[appkeys.SETTINGS]
    target = await actor_id_of(request.app[appkeys.CLIENT], given,
                               allow_private_networks=settings.allow_private_networks)
    if not target.startswith(("http://", "https://")):
        raise InvalidInput("Ce n'est pas l'adresse d'un compte.")
    if target.startswith(settings.url.rstrip("/") + "/"):
        raise InvalidInput("C'est un compte de cette île.")
    return await request.app[appkeys.DIRECTORY].get(target, refresh=True)


async def _resolve(request: web.Request, given: str):
    """The remote actor named by an acct: handle or an actor URL, or Unresolved. What can be told
    from the text alone is refused at once; anything that needs the network goes through the
    rate limit and the one bounded, uniform failure of remote_lookups."""
    given = given.strip()
    settings = request.app[appkeys.SETTINGS]
    if (len(given) > MAX_INPUT or given.startswith(settings.url.rstrip("/") + "/")
            or not (given.startswith(("http://", "https://")) or parse_handle(given))):
        raise Unresolved()
    wait = remote_lookups.refused_for(request)
    if wait is not None:
        raise Unresolved(retry_after=wait)
    remote = await remote_lookups.bounded(request, _lookup(request, given))
    if remote is None or remote.uri.startswith(settings.url.rstrip("/") + "/"):
        raise Unresolved()
    return remote


async def _not_found(request: web.Request, given: str, unresolved: Unresolved) -> web.Response:
    lang = negotiate_language(request)
    if unresolved.retry_after is not None:
        response = await page(request, "interaction.html", status=429, given=given, remote=None, relation=None,
                              error=gettext(lang, "Trop de recherches depuis votre connexion. "
                                                  "Réessayez dans quelques minutes."))
        response.headers["Retry-After"] = str(unresolved.retry_after)
        return response
    return await page(request, "interaction.html", status=400, given=given, remote=None, relation=None,
                      error=gettext(lang, "Ce compte est introuvable : vérifiez son adresse."))


async def _page(request: web.Request, user, given: str, *, status: int = 200) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    try:
        remote = await _resolve(request, given)
    except Unresolved as unresolved:
        return await _not_found(request, given, unresolved)
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
    except Unresolved as unresolved:
        return await _not_found(request, given, unresolved)
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        if await social.find_follow(session, ActorUrls(settings.url, user.username).id, remote.uri) is None:
            await actions.follow(session, settings.url, user.actor, remote)
            await session.commit()
    deliveries_queued(request.app)
    raise web.HTTPSeeOther(f"/authorize_interaction?uri={quote(remote.uri, safe='')}&done=1")
