"""The admins' page of the servers deliveries fail to reach: « retry now », « stop delivering »
(federation/delivery_hosts.py; `archipel deliveries` does the same from the command line)."""

from __future__ import annotations

from aiohttp import web

from archipel import naming
from archipel.storage.tables import LocalActor
from federation import delivery_hosts
from web import appkeys, auth
from web.listing import here
from web.pages import page
from web.wake import deliveries_queued

routes = web.RouteTableDef()
PATH = "/espace/livraisons"
HOST = r"{host:[A-Za-z0-9.:\[\]_-]{1,300}}"


@routes.get(PATH)
async def listing(request: web.Request) -> web.Response:
    await auth.require_user(request, "admin")
    async with request.app[appkeys.SESSIONS]() as session:
        hosts = await delivery_hosts.failing(session)
        names = await naming.names(session, here(request), {host.host for host in hosts})
    return await page(request, "deliveries.html", hosts=hosts, names=names, done=request.query.get("fait", ""))


@routes.post(f"{PATH}/{HOST}/relancer")
async def retry(request: web.Request) -> web.Response:
    return await _act(request, "retried")


@routes.post(f"{PATH}/{HOST}/arreter")
async def stop(request: web.Request) -> web.Response:
    return await _act(request, "stopped")


async def _act(request: web.Request, done: str) -> web.Response:
    user = await auth.require_user(request, "admin")
    host = request.match_info["host"]
    reason = str((await request.post()).get("reason", "")).strip()[:2000]
    async with request.app[appkeys.SESSIONS]() as session:
        admin = await session.get(LocalActor, user.actor.id)
        try:
            if done == "retried":
                await delivery_hosts.retry_now(session, host, admin=admin)
            else:
                await delivery_hosts.stop(session, host, admin=admin, reason=reason)
        except delivery_hosts.UnknownHost:
            raise web.HTTPNotFound() from None
        await session.commit()
    deliveries_queued(request.app)
    raise web.HTTPSeeOther(f"{PATH}?fait={done}")
