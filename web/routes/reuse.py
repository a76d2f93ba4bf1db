"""« Réutiliser »: start your own version of a fiche or resource, linked to its origin."""

from __future__ import annotations

import logging

from aiohttp import web

from archipel import content, notifying, reuse
from archipel.errors import NotFound
from federation.actors import ActorError
from federation.client import FetchError
from web import appkeys, auth
from web.routes.pages import author_links

routes = web.RouteTableDef()
log = logging.getLogger(__name__)


@routes.post("/reutiliser")
async def reuse_item(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    origin_uri = str((await request.post()).get("origin", ""))
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        origin = await content.find_object(session, origin_uri)
        if origin is None:
            raise NotFound("Ce contenu n'est pas connu ici.")
        if not origin.is_local:
            await _know_author(request, origin.author_uri)
        names = [link["name"] for link in
                 await author_links(session, settings, await content.authors_of(session, origin))]
        island = settings.name if origin.is_local else ""
        derived = await reuse.derive(session, base_url=settings.url, origin=origin, author=user.actor,
                                     author_names=names, island_name=island, adapted_for=settings.name)
        await notifying.on_new_object(session, settings.url, derived)
        await session.commit()
    ulid = derived.uri.rsplit("/", 1)[-1]
    raise web.HTTPSeeOther(f"/espace/items/{ulid}/modifier")


async def _know_author(request: web.Request, author_uri: str) -> None:
    """The derivative's Create is also sent to the origin's author, so that their island hears of
    the reuse: an item that came through a re-share or a catalog walk may be by someone whose
    actor was never fetched here. Without it the reuse still works, untold."""
    try:
        await request.app[appkeys.DIRECTORY].get(author_uri)
    except (FetchError, ActorError) as error:
        log.info("origin author %s unreachable, the reuse will not be told: %s", author_uri, error)
