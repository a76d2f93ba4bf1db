"""Following from the fediverse: a visitor gives their handle or their instance, and is sent to
the page of their own server where they confirm the follow (the server that follows must be the
visitor's: we can only point the way)."""

from __future__ import annotations

from aiohttp import web

from archipel.accounts import find_actor
from federation.client import FetchError
from federation.discovery import (NoSubscribePage, clean_instance, interaction_url, parse_handle, subscribe_url,
                                  webfinger_scheme)
from web import appkeys
from web.i18n import gettext, negotiate_language
from web.pages import page

routes = web.RouteTableDef()
MAX_INPUT = 300


def _scheme(request: web.Request, host: str) -> str:
    return webfinger_scheme(host, allow_private_networks=request.app[appkeys.SETTINGS].allow_private_networks)


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
    if parse_handle(given):
        host = parse_handle(given)[1].lower()
        try:
            target = await subscribe_url(request.app[appkeys.CLIENT], given, account,
                                         scheme=_scheme(request, host))
        except NoSubscribePage:
            return await _form(request, account, given, status=502, error=gettext(
                lang, "Votre serveur n'indique pas de page pour suivre un compte d'ailleurs. "
                "Cherchez plutôt l'adresse ci-dessus dans sa barre de recherche."))
        except FetchError:
            return await _form(request, account, given, status=502, error=gettext(
                lang, "Votre serveur n'a pas répondu, ou ne connaît pas ce compte. "
                "Vérifiez l'adresse, ou donnez seulement le nom de votre instance."))
    else:
        host = clean_instance(given.removeprefix("@"))
        if host is None:
            return await _form(request, account, given, status=400, error=gettext(
                lang, "Écrivez votre adresse (@vous@mastodon.example) ou votre instance (mastodon.example)."))
        target = interaction_url(f"{_scheme(request, host)}://{host}", account)
    raise web.HTTPSeeOther(target)


async def _form(request: web.Request, account: str, given: str, *, status: int = 200,
                error: str | None = None) -> web.Response:
    return await page(request, "follow.html", status=status, handle=f"@{account}", given=given, error=error)
