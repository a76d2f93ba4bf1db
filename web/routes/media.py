"""Uploading images and files, and serving them back.

An upload never runs as a page of the island: every answer says `nosniff` and a sandboxing CSP,
and only images are shown inline; any other file is a download. The URL holds the id (a ULID,
never reused) and the cleaned filename, so answers can be cached for good.

A file is public once the item it belongs to is (published or archived). Before that (a draft, a
proposal) only the item's authors and the moderators see it; an upload not attached to anything
yet is its owner's alone; a withdrawn item's files go with it. Anyone else gets the same 404 as
for an id that never existed, and answers that are not public are never cached.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web
from sqlalchemy import select

from archipel import avatars, content, remote_media
from archipel import media as media_store
from archipel.errors import InvalidInput
from archipel.identity import actor_uri
from archipel.storage.tables import LocalActor, Media, StoredObject
from web import appkeys, words
from web.i18n import negotiate_language
from web.auth import CurrentUser, current_user, require_user

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Referrer-Policy": "no-referrer",
}
CACHE_FOREVER = "public, max-age=31536000, immutable"


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status, dumps=json.dumps)


def _upload_limit(request: web.Request) -> int:
    return request.app[appkeys.SETTINGS].max_upload_bytes


def _too_large(request: web.Request) -> web.Response:
    limit = _upload_limit(request)
    return _error(f"fichier trop gros (maximum {limit / 1_000_000:.1f} Mo)".replace(".", ","), 413)


@routes.post("/media")
async def upload(request: web.Request) -> web.Response:
    user = await require_user(request)
    limit = _upload_limit(request)
    if request.content_length is not None and request.content_length > limit + media_store.MULTIPART_ALLOWANCE:
        return _too_large(request)
    if request.content_type != "multipart/form-data":
        return _error("envoyez le fichier en multipart/form-data (champ « file »)", 400)
    try:
        form = await request.post()  # already read by the CSRF check when the token is a form field
    except web.HTTPRequestEntityTooLarge:
        return _too_large(request)
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return _error("aucun fichier reçu (champ « file »)", 400)
    try:
        data = upload.file.read(limit + 1)
    finally:
        upload.file.close()
    alt = form.get("alt")
    alt = alt if isinstance(alt, str) else ""
    settings = request.app[appkeys.SETTINGS]
    try:
        async with request.app[appkeys.SESSIONS]() as session:
            stored = await media_store.store_upload(
                session, settings.effective_media_directory, user.actor, upload.filename or "",
                data, upload.content_type or "", alt, max_bytes=limit)
            await session.commit()
    except media_store.MediaTooLarge as error:
        return _error(words.failure(negotiate_language(request), error), 413)
    except InvalidInput as error:
        return _error(words.failure(negotiate_language(request), error), 400)
    log.info("%s uploaded %s (%s, %d bytes)", user.username, stored.id, stored.content_type, stored.size)
    return web.json_response({
        "id": stored.id,
        "url": media_store.media_url(settings.url, stored),
        "content_type": stored.content_type,
        "width": stored.width,
        "height": stored.height,
        "alt": stored.alt,
        "filename": stored.filename,
    }, status=201, dumps=json.dumps)


PUBLIC_STATES = ("published", "archived")


async def _public(session, stored: Media) -> bool:
    if stored.object_id is None:
        return await _profile_picture(session, stored)
    item = await session.get(StoredObject, stored.object_id)
    return item is not None and item.state in PUBLIC_STATES and item.deleted_at is None


async def _profile_picture(session, stored: Media) -> bool:
    """A picture chosen for a profile (its owner's, or the island's set by an admin) is public."""
    path = f"/media/{stored.id}/"
    pictures = await session.execute(select(LocalActor.avatar, LocalActor.header).where(
        (LocalActor.id == stored.owner_id) | (LocalActor.kind == "island")))
    return any(isinstance(picture, dict) and path in str(picture.get("url", ""))
               for row in pictures for picture in row)


async def _may_see(session, request: web.Request, user: CurrentUser | None, stored: Media) -> bool:
    """Whether this logged-in visitor may see a file that is not public."""
    if user is None:
        return False
    if stored.object_id is None:
        return stored.owner_id == user.actor.id
    if user.has_role("moderator") or stored.owner_id == user.actor.id:
        return True
    item = await session.get(StoredObject, stored.object_id)
    me = actor_uri(request.app[appkeys.SETTINGS].url, user.username)
    return item is not None and me in await content.authors_of(session, item)


@routes.get("/media/{id}/{filename}")
async def serve(request: web.Request) -> web.StreamResponse:
    media_id, filename = request.match_info["id"], request.match_info["filename"]
    async with request.app[appkeys.SESSIONS]() as session:
        stored = await media_store.get_media(session, media_id)
        if stored is None or stored.filename != filename:
            raise web.HTTPNotFound(text="no such file")
        public = await _public(session, stored)
        if not public and not await _may_see(session, request, await current_user(request), stored):
            raise web.HTTPNotFound(text="no such file")
    path = media_store.existing_file(request.app[appkeys.SETTINGS].effective_media_directory, stored)
    if path is None:
        log.warning("media %s is in the database but its file is missing", stored.id)
        raise web.HTTPNotFound(text="no such file")
    disposition = "inline" if stored.kind == "image" else "attachment"
    headers = {
        **SECURITY_HEADERS,
        "Content-Type": stored.content_type,
        "Content-Disposition": f'{disposition}; filename="{stored.filename}"',
        "Cache-Control": CACHE_FOREVER if public else "private, no-store",
    }
    return web.FileResponse(path, headers=headers)


@routes.get(remote_media.ROUTE + "/{key}")
async def serve_remote(request: web.Request) -> web.StreamResponse:
    """A picture of another server, as the island keeps it; a drawn placeholder until then (not
    fetched yet, or refused): the visitor's browser never asks the other server."""
    key = request.match_info["key"]
    if not remote_media.is_key(key):
        raise web.HTTPNotFound(text="no such image")
    async with request.app[appkeys.SESSIONS]() as session:
        shown = await remote_media.shown(session, request.app[appkeys.SETTINGS].effective_media_directory, key)
    if shown.path is not None:
        return web.FileResponse(shown.path, headers={
            **SECURITY_HEADERS, "Content-Type": shown.content_type, "Content-Disposition": "inline",
            "Cache-Control": "public, max-age=86400"})
    drawn = avatars.default_header(key) if shown.purpose == "cover" else avatars.default_avatar(key)
    # Not for long: the real picture replaces it as soon as it is fetched.
    return web.Response(body=drawn, headers={**SECURITY_HEADERS, "Content-Type": "image/png",
                                             "Cache-Control": "public, max-age=60"})


async def sweep_pending_files(app: web.Application) -> None:
    """At start: settle the uploads a crash left between their write and their commit."""
    async with app[appkeys.SESSIONS]() as session:
        promoted, removed = await media_store.sweep_pending(session, app[appkeys.SETTINGS].effective_media_directory)
    if promoted or removed:
        log.warning("media files left by a crash: %d promoted (committed), %d removed (never committed)",
                    promoted, removed)
