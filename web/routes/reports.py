"""Moderators' pages of reports: those received from other servers and those sent by the island
(as a Flag), and the form that reports remote content to its server."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from archipel import audit, content, naming, reports
from archipel.errors import ArchipelError, InvalidInput
from archipel.storage.tables import LocalActor, RemoteActor, StoredObject, utcnow
from archipel.text import html_to_reading
from federation import actions, flags
from federation.actors import ActorError
from federation.as2 import host_of
from federation.client import FetchError
from web.wake import deliveries_queued
from web import appkeys, auth, words
from web.i18n import negotiate_language
from web.pages import page
from web.params import path_int
from web.routes.blocks import apply_rule, resolve_account

routes = web.RouteTableDef()
PATH = "/espace/moderation/signalements"
REPORT_PATH = "/espace/moderation/signaler"
EXCERPT = 400


def _excerpt(item: StoredObject, lang: str) -> str:
    text = html_to_reading(words.item_body(item, lang) or item.summary or "")
    return text[:EXCERPT] + ("…" if len(text) > EXCERPT else "")


async def _view(session, report, own_host: str, lang: str) -> dict:
    """What the page shows of one report: its items as plain-text excerpts, names of actors."""
    items = list(await session.scalars(select(StoredObject).where(StoredObject.uri.in_(report.object_uris or []))))
    uris = {report.reporter_uri, report.target_actor_uri} - {None}
    actors = {a.uri: a for a in await session.scalars(select(RemoteActor).where(RemoteActor.uri.in_(uris)))}

    def name(uri):
        actor = actors.get(uri)
        if actor is None:
            return naming.handle_guess(uri)
        return actor.display_name or (f"@{actor.username}@{actor.host}" if actor.username else naming.handle_guess(uri))

    target = report.target_actor_uri
    remote_target = bool(target) and host_of(target) != own_host
    return {"report": report, "objects": [(item, _excerpt(item, lang)) for item in items],
            "reporter": name(report.reporter_uri), "target": name(target) if target else "",
            "blockable": remote_target, "target_host": host_of(target) if remote_target else ""}


@routes.get(PATH)
async def listing(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    await auth.require_user(request, "moderator")
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        lang = negotiate_language(request)
        views = [await _view(session, r, settings.host, lang) for r in await reports.listing(session)]
    return await page(request, "moderation_reports.html", status=status, views=views, error=error,
                      sent="envoye" in request.query)


@routes.post(PATH + "/{id:\\d+}")
async def act(request: web.Request) -> web.Response:
    """resolve | hide | delete (the reported items) | block_account | block_domain."""
    user = await auth.require_user(request, "moderator")
    form = await request.post()
    action, reason = str(form.get("action", "")), str(form.get("reason", "")).strip()
    settings = request.app[appkeys.SETTINGS]
    try:
        async with request.app[appkeys.SESSIONS]() as session:
            report = await reports.get(session, path_int(request, "id"))
            target = report.target_actor_uri
        if action in ("block_account", "block_domain"):
            if not target or host_of(target) == settings.host:
                raise InvalidInput("Ce signalement ne vise pas un compte d'un autre serveur.")
            kind = "account" if action == "block_account" else "domain"
            await apply_rule(request, user, kind=kind, target=target if kind == "account" else host_of(target),
                             severity="block", reason=reason or f"report {report.id}")
        elif action in ("resolve", "hide", "delete"):
            async with request.app[appkeys.SESSIONS]() as session:
                moderator = await session.get(LocalActor, user.actor.id)
                report = await reports.get(session, report.id)
                if action == "resolve":
                    await reports.resolve(session, report, moderator=moderator, note=reason)
                else:
                    await _moderate_items(session, settings.url, report, action, moderator, reason)
                await session.commit()
            deliveries_queued(request.app)
        else:
            raise InvalidInput("Action inconnue.")
    except ArchipelError as error:
        return await listing(request, error=words.failure(negotiate_language(request), error), status=400)
    raise web.HTTPSeeOther(PATH)


async def _moderate_items(session, base_url: str, report, action: str, moderator, reason: str) -> None:
    items = list(await session.scalars(select(StoredObject).where(
        StoredObject.uri.in_(report.object_uris or []), StoredObject.deleted_at.is_(None))))
    if not items:
        raise InvalidInput("Il ne reste rien de ce signalement à traiter ici.")
    for item in items:
        if action == "hide":
            item.hidden_at = item.hidden_at or utcnow()
        elif item.is_local:
            # Our own item: withdrawn as its author would, so other servers hear of it.
            author = await session.get(LocalActor, item.local_author_id)
            await actions.withdraw_article(session, base_url, author, item)
        else:
            await content.withdraw(session, item)
        await audit.record(session, moderator=moderator, action=f"{action}_content", subject=item.uri,
                           reason=reason, report_id=report.id)
    await session.flush()


@routes.get(REPORT_PATH)
async def report_form(request: web.Request, error: str | None = None, status: int = 200,
                      form: dict | None = None) -> web.Response:
    await auth.require_user(request, "moderator")
    form = form or {"target": request.query.get("uri", "")[:2000], "comment": ""}
    item = None
    if form["target"].startswith(("http://", "https://")):
        async with request.app[appkeys.SESSIONS]() as session:
            item = await content.find_object(session, form["target"])
    return await page(request, "moderation_report_form.html", status=status, form=form, error=error,
                      item=item, excerpt=_excerpt(item, negotiate_language(request)) if item else "")


@routes.post(REPORT_PATH)
async def send_report(request: web.Request) -> web.Response:
    user = await auth.require_user(request, "moderator")
    posted = await request.post()
    form = {"target": str(posted.get("target", "")).strip()[:2000], "comment": str(posted.get("comment", ""))}
    settings = request.app[appkeys.SETTINGS]
    directory = request.app[appkeys.DIRECTORY]
    try:
        target = await resolve_account(request, form["target"])
        async with request.app[appkeys.SESSIONS]() as session:
            account_uri, objects = await flags.resolve_target(session, directory, target)
        try:
            account = await directory.get(account_uri)
        except (FetchError, ActorError) as error:
            raise InvalidInput("%(target)s est introuvable, ou son serveur ne répond pas : vérifiez l'adresse.",
                               target=account_uri, error=error) from None
        async with request.app[appkeys.SESSIONS]() as session:
            moderator = await session.get(LocalActor, user.actor.id)
            await flags.send_report(session, base_url=settings.url, account=account, objects=objects,
                                    comment=form["comment"], moderator=moderator)
            await session.commit()
    except ArchipelError as error:
        return await report_form(request, error=words.failure(negotiate_language(request), error), status=400,
                                 form=form)
    deliveries_queued(request.app)
    raise web.HTTPSeeOther(PATH + "?envoye=1")
