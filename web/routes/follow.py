"""Following from the fediverse: a visitor gives their handle or their instance, and is sent to
the page of their own server where they confirm the follow (the server that follows must be the
visitor's: we can only point the way).

Where a visitor may be sent is web/own_server.py's rule (shared with /interagir).
Everything else — a server without such a page (GoToSocial), one that does not answer, an address
we refuse — gets the same instructions, after the same time (web/remote_lookups.py): copy the
handle and look it up in their server's search box."""

from __future__ import annotations

from aiohttp import web

from archipel.accounts import find_actor
from federation.discovery import parse_handle
from web import appkeys, own_server, remote_lookups
from web.i18n import gettext, negotiate_language
from web.pages import page

routes = web.RouteTableDef()
MAX_INPUT = 300


def setup(app: web.Application) -> None:
    remote_lookups.setup(app)  # one limit per client, shared with /authorize_interaction
    app.add_routes(routes)


async def _our_account(request: web.Request) -> str | None:
    """`name@host` of one of our actors, from `@name@host` as shown on our pages."""
    parsed = parse_handle(request.query.get("account", "")[:MAX_INPUT])
    settings = request.app[appkeys.SETTINGS]
    if parsed is None or parsed[1].lower() != settings.host.lower():
        return None
    async with request.app[appkeys.SESSIONS]() as session:
        actor = await find_actor(session, parsed[0])
    return f"{actor.username}@{settings.host}" if actor else None


@routes.get("/suivre")
async def follow(request: web.Request) -> web.Response:
    lang = negotiate_language(request)
    account = await _our_account(request)
    if account is None:
        raise web.HTTPNotFound(text="no such account here")
    given = request.query.get("from", "").strip()[:MAX_INPUT]
    if not given:
        return await _form(request, account, given)
    outcome = await own_server.page_for(request, given, account)
    if outcome.malformed:
        return await _form(request, account, given, status=400, error=gettext(
            lang, "Écrivez votre adresse (@vous@mastodon.example) ou votre instance (mastodon.example)."))
    if outcome.retry_after is not None:
        response = await _form(request, account, given, status=429, error=gettext(
            lang, "Trop de recherches depuis votre connexion. Réessayez dans quelques minutes, ou "
            "cherchez l'adresse ci-dessus dans la barre de recherche de votre serveur."))
        response.headers["Retry-After"] = str(outcome.retry_after)
        return response
    if outcome.url is None:
        return await _form(request, account, given, instructions=True)
    raise web.HTTPSeeOther(outcome.url)


async def _form(request: web.Request, account: str, given: str, *, status: int = 200,
                error: str | None = None, instructions: bool = False) -> web.Response:
    return await page(request, "follow.html", status=status, handle=f"@{account}", given=given, error=error,
                      instructions=instructions)
