"""« Répondre », « Aimer », « Partager » for a visitor from another server (Mastodon…): they are
sent to their own server's interaction page for the item (WebFinger of their address, its OStatus
subscribe template with the item's id, as Mastodon's remote interaction does), where they act
with their own account. /interagir is also the small form that asks their address, so all of it
works without JavaScript; web/static/follow.js remembers the address in their browser (the same
as the follow box's) and, once known, puts it in the item page's links."""

from __future__ import annotations

from aiohttp import web

from archipel import content
from archipel.safe_urls import safe_url
from archipel.storage.tables import StoredObject
from web import appkeys, own_server
from web.i18n import gettext, negotiate_language
from web.pages import page
from web.params import query_int

routes = web.RouteTableDef()
PATH = "/interagir"
ACTIONS = ("repondre", "aimer", "partager")
KINDS = ("fiche", "resource", "article")


async def _item(request: web.Request) -> StoredObject:
    """A public item of a page of ours (local or received), by its row id; 404 otherwise."""
    async with request.app[appkeys.SESSIONS]() as session:
        item = await session.get(StoredObject, query_int(request, "objet", default=0))
    if (item is None or item.kind not in KINDS or item.state not in content.PUBLIC_STATES
            or item.deleted_at is not None or item.hidden_at is not None or not item.public
            or safe_url(item.uri) is None):
        raise web.HTTPNotFound(text="no such item")
    return item


@routes.get(PATH)
async def interact(request: web.Request) -> web.Response:
    item = await _item(request)
    action = request.query.get("action", "")
    action = action if action in ACTIONS else ACTIONS[0]
    given = request.query.get("from", "").strip()[:own_server.MAX_INPUT]
    if not given:
        return await _form(request, item, action, given)
    lang = negotiate_language(request)
    outcome = await own_server.page_for(request, given, item.uri)
    if outcome.malformed:
        return await _form(request, item, action, given, status=400, error=gettext(
            lang, "Écrivez votre adresse (@vous@mastodon.example) ou votre instance (mastodon.example)."))
    if outcome.retry_after is not None:
        response = await _form(request, item, action, given, status=429, error=gettext(
            lang, "Trop de recherches depuis votre connexion. Réessayez dans quelques minutes, ou "
            "cherchez l'adresse ci-dessous dans la barre de recherche de votre serveur."))
        response.headers["Retry-After"] = str(outcome.retry_after)
        return response
    if outcome.url is None:
        return await _form(request, item, action, given, instructions=True)
    raise web.HTTPSeeOther(outcome.url)


async def _form(request: web.Request, item: StoredObject, action: str, given: str, *, status: int = 200,
                error: str | None = None, instructions: bool = False) -> web.Response:
    response = await page(request, "remote_interaction.html", status=status, item=item, action=action,
                          given=given, error=error, instructions=instructions)
    response.headers["Cache-Control"] = "no-store"  # it may carry the visitor's address
    return response
