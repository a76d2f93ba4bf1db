"""Profiles: a member edits their own (name, presentation, picture, header, links), an admin the
island's. Followers' servers hear of each change (an Update of the actor)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from archipel import accounts
from archipel import media as media_store
from archipel.errors import InvalidInput
from archipel.storage.tables import LocalActor, Media
from federation import actions, documents
from web.wake import deliveries_queued
from web import appkeys, auth, words
from web.i18n import gettext, negotiate_language
from web.pages import page

routes = web.RouteTableDef()
MAX_PICTURE_BYTES = 4_000_000  # a profile picture is shown small: 4 MB is plenty (Mastodon: 8 MB)


def _form_values(actor: LocalActor) -> dict:
    links = list(actor.links or [])[: accounts.MAX_LINKS]
    links += [{"name": "", "url": ""}] * (accounts.MAX_LINKS - len(links))
    return {"display_name": actor.display_name, "summary": actor.summary, "links": links}


async def _show(request: web.Request, actor: LocalActor, *, action: str, title: str, status: int = 200,
                values: dict | None = None, error: str | None = None, done: bool = False) -> web.Response:
    document = documents.actor_document(actor, request.app[appkeys.SETTINGS].url)
    return await page(request, "profile.html", status=status, actor=actor, action=action, title=title,
                      values=values or _form_values(actor), error=error, done=done,
                      avatar_url=document["icon"]["url"], header_url=document["image"]["url"],
                      max_links=accounts.MAX_LINKS, max_megabytes=MAX_PICTURE_BYTES // 1_000_000,
                      max_summary=accounts.MAX_SUMMARY, max_display_name=accounts.MAX_DISPLAY_NAME)


async def _picture(request: web.Request, session, form, field: str, owner: LocalActor) -> dict | None:
    """An uploaded picture as {url, mediaType, name}, {} to go back to the default, None to keep."""
    if form.get(f"{field}_reset"):
        return {}
    upload = form.get(field)
    if not isinstance(upload, web.FileField):
        return None
    try:
        data = upload.file.read(MAX_PICTURE_BYTES + 1)
    finally:
        upload.file.close()
    if not data:
        return None  # the file input was left empty
    if len(data) > MAX_PICTURE_BYTES:
        raise InvalidInput("Image trop lourde (maximum %(size)d Mo).", size=MAX_PICTURE_BYTES // 1_000_000)
    # Checked before anything is written: a refused file leaves nothing behind.
    if (await asyncio.to_thread(media_store.prepare, data, upload.filename or "")).kind != "image":
        raise InvalidInput("Ce fichier n'est pas une image (JPEG, PNG, WebP ou GIF).")
    settings = request.app[appkeys.SETTINGS]
    stored = await media_store.store_upload(session, settings.effective_media_directory, owner,
                                            upload.filename or "", data, max_bytes=MAX_PICTURE_BYTES)
    alt = " ".join(str(form.get(f"{field}_alt", "")).split())[:media_store.MAX_ALT]
    return {"url": media_store.media_url(settings.url, stored), "mediaType": stored.content_type, "name": alt}


async def _forget_picture(session, settings, picture: dict | None) -> None:
    """A replaced or reset picture's file goes with the commit (a refused form keeps it)."""
    media_id = media_store.media_id_in(settings.url, (picture or {}).get("url", ""))
    media = await session.get(Media, media_id) if media_id else None
    if media is not None:
        await media_store.delete_media(session, settings.effective_media_directory, media)


async def _save(request: web.Request, actor_of, *, action: str, title: str) -> web.Response:
    form = await request.post()  # read by the CSRF check already
    values = {
        "display_name": str(form.get("display_name", "")),
        "summary": str(form.get("summary", "")),
        "links": [{"name": str(form.get(f"link_name_{i}", "")), "url": str(form.get(f"link_url_{i}", ""))}
                  for i in range(accounts.MAX_LINKS)],
    }
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        actor = await actor_of(session)
        try:
            # The texts first: a form refused for a typo writes no picture to disk.
            accounts.check_profile(display_name=values["display_name"], summary=values["summary"],
                                   links=[(link["name"], link["url"]) for link in values["links"]])
            avatar = await _picture(request, session, form, "avatar", actor)
            header = await _picture(request, session, form, "header", actor)
            for replaced, old in ((avatar, actor.avatar), (header, actor.header)):
                if replaced is not None:
                    await _forget_picture(session, settings, old)
            await actions.update_profile(
                session, settings.url, actor, display_name=values["display_name"], summary=values["summary"],
                links=[(link["name"], link["url"]) for link in values["links"]],
                avatar=avatar, header=header)
        except InvalidInput as error:
            await session.rollback()  # nothing is kept of a refused form, uploads included
            actor = await actor_of(session)
            return await _show(request, actor, action=action, title=title, status=400, values=values,
                               error=words.failure(negotiate_language(request), error))
        await session.commit()
    deliveries_queued(request.app)
    raise web.HTTPSeeOther(f"{action}?fait=1")


def _own(user):
    async def actor_of(session):
        return await session.get(LocalActor, user.actor.id)
    return actor_of


@routes.get("/espace/profil")
async def own_profile(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    async with request.app[appkeys.SESSIONS]() as session:
        actor = await _own(user)(session)
    return await _show(request, actor, action="/espace/profil", done="fait" in request.query,
                       title=gettext(negotiate_language(request), "Mon profil"))


@routes.post("/espace/profil")
async def save_own_profile(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    return await _save(request, _own(user), action="/espace/profil",
                       title=gettext(negotiate_language(request), "Mon profil"))


@routes.get("/espace/ile/profil")
async def island_profile(request: web.Request) -> web.Response:
    await auth.require_user(request, "admin")
    async with request.app[appkeys.SESSIONS]() as session:
        actor = await accounts.island_actor(session)
    return await _show(request, actor, action="/espace/ile/profil", done="fait" in request.query,
                       title=gettext(negotiate_language(request), "Profil de l'île"))


@routes.post("/espace/ile/profil")
async def save_island_profile(request: web.Request) -> web.Response:
    await auth.require_user(request, "admin")
    return await _save(request, accounts.island_actor, action="/espace/ile/profil",
                       title=gettext(negotiate_language(request), "Profil de l'île"))
