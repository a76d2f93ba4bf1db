"""The admins' page of the archipelago: which islands we follow, who follows us, requests."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import or_, select

from archipel import naming
from archipel.accounts import island_actor
from archipel.errors import InvalidInput
from archipel.storage.tables import Follow, RemoteActor
from federation import actions
from federation.actors import ActorError
from federation.as2 import host_of
from federation.client import FetchError
from federation.discovery import actor_id_of
from federation.documents import ActorUrls
from web.wake import deliveries_queued
from web import appkeys, auth, words
from web.i18n import negotiate_language
from web.listing import here
from web.pages import page

routes = web.RouteTableDef()


async def _relations(request):
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        island = await island_actor(session)
        ours = ActorUrls(settings.url, island.username).id
        follows = list(await session.scalars(select(Follow).where(
            or_(Follow.follower_uri == ours, Follow.followed_uri == ours)).order_by(Follow.id)))
        uris = {f.followed_uri if f.follower_uri == ours else f.follower_uri for f in follows}
        actors = await naming.names(session, here(request), uris)
    following = [(f, actors.get(f.followed_uri)) for f in follows if f.follower_uri == ours]
    followers = [(f, actors.get(f.follower_uri)) for f in follows if f.followed_uri == ours]
    return island, following, followers


@routes.get("/espace/archipel")
async def archipelago(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    await auth.require_user(request, "admin")
    island, following, followers = await _relations(request)
    return await page(request, "archipelago.html", status=status, island=island, following=following,
                      followers=followers, error=error, host_of=host_of)


@routes.post("/espace/archipel/suivre")
async def follow(request: web.Request) -> web.Response:
    await auth.require_user(request, "admin")
    target = str((await request.post()).get("target", "")).strip()
    settings = request.app[appkeys.SETTINGS]
    client = request.app[appkeys.CLIENT]
    try:
        target = await actor_id_of(client, target, allow_private_networks=settings.allow_private_networks)
        if not target.startswith(("http://", "https://")):
            raise InvalidInput("Donnez une adresse comme @ile@exemple.org.")
        remote = await request.app[appkeys.DIRECTORY].get(target, refresh=True)
    except (FetchError, ActorError, InvalidInput) as error:
        return await archipelago(request, error=words.failure(negotiate_language(request), error), status=400)
    async with request.app[appkeys.SESSIONS]() as session:
        await actions.follow(session, settings.url, await island_actor(session), remote)
        await session.commit()
    deliveries_queued(request.app)
    raise web.HTTPSeeOther("/espace/archipel")


@routes.post("/espace/archipel/demandes")
async def decide(request: web.Request) -> web.Response:
    await auth.require_user(request, "admin")
    form = await request.post()
    follower_uri, accept = str(form.get("follower", "")), form.get("decision") == "accept"
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        follower = await session.scalar(select(RemoteActor).where(RemoteActor.uri == follower_uri))
        if follower is None:
            raise web.HTTPNotFound(text="unknown actor")
        await actions.decide_follow_request(session, settings.url, await island_actor(session), follower,
                                            accept=accept)
        await session.commit()
    deliveries_queued(request.app)
    raise web.HTTPSeeOther("/espace/archipel")
