"""The moderators' space: the proposals' queue (read, edit, accept, refuse with a reason), and
the journal of every moderation decision (archipel/audit.py). Moderators and admins only."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from archipel import audit, content, fiches, naming, proposals
from archipel.errors import Forbidden, InvalidInput, NotFound
from archipel.rendering import render_item
from archipel.storage.tables import LocalActor
from federation import proposals as decisions
from web.wake import deliveries_queued
from web import appkeys, auth, forms, words
from web.i18n import gettext, negotiate_language
from web.listing import here
from web.pages import page
from web.params import path_int, query_int
from web.routes.proposals import labels, proposed_changes, read_fields, values_of

routes = web.RouteTableDef()

JOURNAL_PAGE = 50


def _base(request: web.Request) -> str:
    return request.app[appkeys.SETTINGS].url.rstrip("/")


async def _names(session, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {actor.id: actor.display_name for actor in await session.scalars(
        select(LocalActor).where(LocalActor.id.in_(ids)))}


@routes.get("/espace/moderation")
async def queue(request: web.Request) -> web.Response:
    await auth.require_user(request, "moderator")
    async with request.app[appkeys.SESSIONS]() as session:
        waiting = await proposals.pending(session)
        done = await proposals.decided(session)
        names = await _names(session, [p.decided_by_id for p in done])
    return await page(request, "moderation_queue.html", pending=waiting, decided=done, names=names,
                      done=request.query.get("done"), section="proposals")


async def _proposal(session, request: web.Request):
    try:
        return await proposals.get(session, path_int(request, "id"))
    except NotFound:
        raise web.HTTPNotFound(text="no such proposal") from None


async def _review(request: web.Request, proposal, *, values: forms.FormValues | None = None,
                  errors: dict | None = None, refuse_error: str | None = None, status: int = 200,
                  saved: bool = False) -> web.Response:
    lang = negotiate_language(request)
    errors = dict(errors or {})
    general = [errors.pop("")] if "" in errors else []
    async with request.app[appkeys.SESSIONS]() as session:
        target = await content.find_object(session, proposal.target_uri) if proposal.target_uri else None
        changes = proposed_changes(lang, target, proposal)
        names = await _names(session, [proposal.decided_by_id])
    try:
        data, _ = fiches.fields_for(proposal.item_kind, proposal.fields.get("data") or {})
        preview = render_item(proposal.item_kind, proposal.fields.get("source") or "", data,
                              proposal.fields.get("licence"), words.item_wording(lang))
    except (InvalidInput, ValueError):
        preview = None
    return await page(request, "moderation_review.html", status=status, proposal=proposal, target=target,
                      changes=changes, preview=preview, kind=proposal.item_kind,
                      values=values or values_of(proposal), errors=errors, general=general,
                      refuse_error=refuse_error, decider=names.get(proposal.decided_by_id),
                      credit=proposals.credit_line(proposal), saved=saved, section="proposals", **labels(lang))


@routes.get(r"/espace/moderation/propositions/{id:\d{1,12}}")
async def review(request: web.Request) -> web.Response:
    await auth.require_user(request, "moderator")
    async with request.app[appkeys.SESSIONS]() as session:
        proposal = await _proposal(session, request)
    return await _review(request, proposal, saved=request.query.get("done") == "saved")


@routes.post(r"/espace/moderation/propositions/{id:\d{1,12}}")
async def decide(request: web.Request) -> web.Response:
    """Save the moderator's edits, and with action=accept publish the result."""
    user = await auth.require_user(request, "moderator")
    lang = negotiate_language(request)
    post = await request.post()
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        proposal = await _proposal(session, request)
        if proposal.state != "pending":
            return await _review(request, proposal, status=409)
        target = await content.find_object(session, proposal.target_uri) if proposal.target_uri else None
        values, fields, errors = read_fields(post, proposal.item_kind, lang, target=target)
        if fields is None:
            return await _review(request, proposal, values=values, errors=errors, status=400)
        try:
            await proposals.edit(session, proposal, user.actor, fields)
            if post.get("action") == "accept":
                await decisions.accept(session, _base(request), proposal, user.actor, island_name=settings.name)
            await session.commit()
        except (InvalidInput, Forbidden, NotFound) as error:
            await session.rollback()
            proposal = await _proposal(session, request)
            return await _review(request, proposal, values=values, errors={"": words.failure(lang, error)}, status=400)
    deliveries_queued(request.app)
    if post.get("action") == "accept":
        raise web.HTTPSeeOther("/espace/moderation?done=accepted")
    raise web.HTTPSeeOther(f"/espace/moderation/propositions/{proposal.id}?done=saved")


@routes.post(r"/espace/moderation/propositions/{id:\d{1,12}}/refuser")
async def refuse(request: web.Request) -> web.Response:
    user = await auth.require_user(request, "moderator")
    lang = negotiate_language(request)
    post = await request.post()
    reason = str(post.get("reason") or "").strip()
    async with request.app[appkeys.SESSIONS]() as session:
        proposal = await _proposal(session, request)
        if proposal.state != "pending":
            return await _review(request, proposal, status=409)
        if not reason:
            return await _review(request, proposal, status=400, refuse_error=gettext(
                lang, "Donnez une raison : la personne qui a proposé la lira."))
        try:
            await decisions.refuse(session, _base(request), proposal, user.actor, reason,
                                   island_name=request.app[appkeys.SETTINGS].name)
            await session.commit()
        except InvalidInput as error:
            await session.rollback()
            return await _review(request, proposal, status=400, refuse_error=words.failure(lang, error))
    deliveries_queued(request.app)
    raise web.HTTPSeeOther("/espace/moderation?done=refused")


@routes.get("/espace/moderation/journal")
async def journal(request: web.Request) -> web.Response:
    await auth.require_user(request, "moderator")
    before = query_int(request, "avant") or None
    async with request.app[appkeys.SESSIONS]() as session:
        entries = await audit.recent(session, limit=JOURNAL_PAGE + 1, before_id=before)
        names = await _names(session, [entry.moderator_id for entry in entries])
        subjects = await naming.names(session, here(request), {e.subject for e in entries
                                                               if not e.subject.startswith("proposal:")})
    more = len(entries) > JOURNAL_PAGE
    entries = entries[:JOURNAL_PAGE]
    return await page(request, "moderation_journal.html", entries=entries, names=names, subjects=subjects,
                      next_before=entries[-1].id if more else None, first_page=before is None,
                      section="journal")
