"""Conversations on the island's pages: replying, taking a reply back, and moderating replies
(hide, show again, delete), every moderation decision written to the audit log."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import audit, content, threads
from archipel.bounds import parse_int
from archipel.errors import Forbidden, InvalidInput, NotFound
from archipel.storage.tables import LocalActor, StoredObject, utcnow
from federation import replies
from web.wake import deliveries_queued
from web import appkeys, auth
from web.pages import page, page_url
from web.params import ROW_ID_MAX

routes = web.RouteTableDef()


async def _reply_or_404(session: AsyncSession, ident: str) -> StoredObject:
    number = parse_int(ident, maximum=ROW_ID_MAX)
    reply = await session.get(StoredObject, number) if number is not None else None
    if reply is None or not reply.in_reply_to:
        raise NotFound("Cette réponse n'existe pas.")
    return reply


async def _back_to(session: AsyncSession, reply: StoredObject, *, moderator: bool) -> str:
    """The page of the conversation where this reply is drawn, at the reply."""
    root = await threads.root_of(session, reply)
    number = await threads.page_of(session, root, reply.uri, include_hidden=moderator)
    query = f"?discussion={number}" if number > 1 else ""
    return f"{page_url(root)}{query}#reponse-{reply.id}"


@routes.post("/discussion/repondre")
async def reply(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    form = await request.post()
    text = threads.check_reply_text(str(form.get("text", "")))
    ident = str(form.get("in_reply_to", ""))
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        number = parse_int(ident, maximum=ROW_ID_MAX)
        parent = await session.get(StoredObject, number) if number is not None else None
        if parent is None or parent.deleted_at is not None or not parent.public:
            raise NotFound("On ne peut pas répondre à ce message.")
        if parent.hidden_at is not None and not user.has_role("moderator"):
            raise NotFound("On ne peut pas répondre à ce message.")
        if not parent.in_reply_to and parent.state not in content.PUBLIC_STATES:
            raise NotFound("Ce contenu n'est pas publié.")
        people = await replies.participants(session, parent)
    # Remote participants never met are looked up before the write transaction, not during it.
    await replies.fetch_missing_actors(request.app[appkeys.DIRECTORY], people)
    async with request.app[appkeys.SESSIONS]() as session:
        parent = await session.get(StoredObject, parent.id)
        actor = await session.get(LocalActor, user.actor.id)
        note = await replies.reply(session, settings.url, actor, parent, text)
        back = await _back_to(session, note, moderator=user.has_role("moderator"))
        await session.commit()
    deliveries_queued(request.app)
    raise web.HTTPSeeOther(back)


async def _moderate(request: web.Request, action: str) -> web.Response:
    user = await auth.require_user(request, "moderator")
    reason = str((await request.post()).get("reason", "")).strip()[:2000]
    async with request.app[appkeys.SESSIONS]() as session:
        reply = await _reply_or_404(session, request.match_info["id"])
        if action == "hide_reply" and reply.hidden_at is None:
            reply.hidden_at = utcnow()
        elif action == "unhide_reply" and reply.hidden_at is not None:
            reply.hidden_at = None
        else:
            raise InvalidInput("Cette réponse est déjà dans cet état.")
        await audit.record(session, moderator=user.actor, action=action, subject=reply.uri, reason=reason)
        back = await _back_to(session, reply, moderator=True)
        await session.commit()
    raise web.HTTPSeeOther(back)


@routes.post("/discussion/{id}/masquer")
async def hide(request: web.Request) -> web.Response:
    return await _moderate(request, "hide_reply")


@routes.post("/discussion/{id}/afficher")
async def unhide(request: web.Request) -> web.Response:
    return await _moderate(request, "unhide_reply")


async def _deletable(request: web.Request, session: AsyncSession) -> tuple[auth.CurrentUser, StoredObject, bool]:
    """The reply, if the user may delete it: a moderator any, an author their own."""
    user = await auth.require_user(request)
    reply = await _reply_or_404(session, request.match_info["id"])
    if reply.deleted_at is not None:
        raise NotFound("Cette réponse a déjà été supprimée.")
    own = reply.is_local and reply.local_author_id == user.actor.id
    if not own and not user.has_role("moderator"):
        raise Forbidden("Seule la modération peut supprimer les réponses des autres.")
    return user, reply, own


@routes.get("/discussion/{id}/supprimer")
async def confirm_delete(request: web.Request) -> web.Response:
    async with request.app[appkeys.SESSIONS]() as session:
        user, reply, own = await _deletable(request, session)
        back = await _back_to(session, reply, moderator=user.has_role("moderator"))
    return await page(request, "reply_delete.html", reply=reply, own=own, back=back)


@routes.post("/discussion/{id}/supprimer")
async def delete(request: web.Request) -> web.Response:
    reason = str((await request.post()).get("reason", "")).strip()[:2000]
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        user, reply, own = await _deletable(request, session)
        back = await _back_to(session, reply, moderator=user.has_role("moderator"))
        if reply.is_local:
            await replies.withdraw(session, settings.url, reply)  # others hear of it: a Delete
        else:
            await content.withdraw(session, reply)  # removed here only: it lives on its server
        if not own:
            await audit.record(session, moderator=user.actor, action="delete_reply", subject=reply.uri,
                               reason=reason, author=reply.author_uri)
        await session.commit()
    deliveries_queued(request.app)
    raise web.HTTPSeeOther(back.split("#", 1)[0] + "#discussion")
