"""Moderators' page of blocks and silences of remote accounts and domains.

Every change is applied and audit-logged in one transaction, then the in-memory policy of the
federation client is rebuilt, so the inbox and the workers obey it from the next request on.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from archipel import blocks
from archipel.errors import ArchipelError, InvalidInput
from archipel.storage.tables import LocalActor
from federation import domains
from federation.client import FetchError
from federation.discovery import actor_id_of
from web.wake import blocks_changed
from web import appkeys, auth, words
from web.i18n import negotiate_language
from web.pages import page
from web.params import path_int

routes = web.RouteTableDef()
PATH = "/espace/moderation/blocages"


async def resolve_account(request: web.Request, target: str) -> str:
    """An account's actor URI from its URI, its profile URL or its @user@host handle (WebFinger)."""
    settings = request.app[appkeys.SETTINGS]
    target = (target or "").strip()
    try:
        return await actor_id_of(request.app[appkeys.CLIENT], target,
                                 allow_private_networks=settings.allow_private_networks,
                                 signer=request.app[appkeys.DIRECTORY].signer)
    except FetchError as error:
        if target.startswith(("http://", "https://")):
            return target  # a block must not depend on the blocked server answering
        raise InvalidInput("%(target)s est introuvable, ou son serveur ne répond pas : vérifiez l'adresse.",
                           target=target, error=error) from None


async def apply_rule(request: web.Request, user, *, kind: str, target: str, severity: str, reason: str) -> None:
    """Add a block or a silence, then refresh the policy (shared with the reports page)."""
    settings = request.app[appkeys.SETTINGS]
    if kind == "account":
        target = await resolve_account(request, target)
    async with request.app[appkeys.SESSIONS]() as session:
        moderator = await session.get(LocalActor, user.actor.id)
        await blocks.add(session, kind=kind, target=target, severity=severity, reason=reason,
                         moderator=moderator, own_host=settings.host)
        await session.commit()
        await domains.refresh(request.app[appkeys.CLIENT], session)
    blocks_changed(request.app)


@routes.get(PATH)
async def listing(request: web.Request, error: str | None = None, status: int = 200,
                  form: dict | None = None) -> web.Response:
    await auth.require_user(request, "moderator")
    async with request.app[appkeys.SESSIONS]() as session:
        rules = await blocks.rules(session)
        creators = {a.id: a for a in await session.scalars(
            select(LocalActor).where(LocalActor.id.in_({r.created_by_id for r in rules if r.created_by_id})))}
    settings = request.app[appkeys.SETTINGS]
    return await page(request, "moderation_blocks.html", status=status, rules=rules, creators=creators,
                      error=error, form=form or {"kind": "domain", "severity": "block"},
                      static_blocked=settings.blocked_domains)


@routes.post(PATH)
async def add(request: web.Request) -> web.Response:
    user = await auth.require_user(request, "moderator")
    form = {k: str(v) for k, v in (await request.post()).items() if k != "csrf_token"}
    try:
        await apply_rule(request, user, kind=form.get("kind", ""), target=form.get("target", ""),
                         severity=form.get("severity", ""), reason=form.get("reason", ""))
    except ArchipelError as error:
        return await listing(request, error=words.failure(negotiate_language(request), error), status=400, form=form)
    raise web.HTTPSeeOther(PATH)


@routes.post(PATH + "/{id:\\d+}/lever")
async def remove(request: web.Request) -> web.Response:
    user = await auth.require_user(request, "moderator")
    form = await request.post()
    async with request.app[appkeys.SESSIONS]() as session:
        moderator = await session.get(LocalActor, user.actor.id)
        await blocks.remove(session, path_int(request, "id"), moderator=moderator,
                            reason=str(form.get("reason", "")))
        await session.commit()
        await domains.refresh(request.app[appkeys.CLIENT], session)
    blocks_changed(request.app)
    raise web.HTTPSeeOther(PATH)
