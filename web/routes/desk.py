"""The animators' desk (/espace/tableau, moderators and admins): the islands followed and
following, what waits for moderation, the servers deliveries fail to reach and the island's
queues, with links to where each is handled (archipel/desk.py reads them)."""

from __future__ import annotations

from aiohttp import web

from archipel import desk
from archipel.cards import islands_named
from archipel.accounts import island_actor
from federation import delivery_hosts
from web import appkeys, auth, listing
from web.pages import page

routes = web.RouteTableDef()
PATH = "/espace/tableau"
FAILING_HOSTS_SHOWN = 20  # the deliveries page (admins) lists them all


@routes.get(PATH)
async def desk_page(request: web.Request) -> web.Response:
    await auth.require_user(request, "moderator")
    here = listing.here(request)
    async with request.app[appkeys.SESSIONS]() as session:
        island = await island_actor(session)
        relations = await desk.relations(session, here, island.username)
        waiting = await desk.moderation(session)
        failing = await delivery_hosts.failing(session, limit=FAILING_HOSTS_SHOWN + 1)
        queues = await desk.queues(session)
        named = await islands_named(session, here, {host.host for host in failing})
    return await page(request, "desk.html", relations=relations, waiting=waiting,
                      failing=failing[:FAILING_HOSTS_SHOWN], more_failing=len(failing) > FAILING_HOSTS_SHOWN,
                      failing_names={host: island.name for host, island in named.items()}, queues=queues,
                      cap=desk.COUNT_CAP, failed_days=request.app[appkeys.SETTINGS].failed_retention_days)
