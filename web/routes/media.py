"""Uploading images and files, and serving them back.

An upload never runs as a page of the island: every answer says `nosniff` and a sandboxing CSP,
and only images are shown inline; any other file is a download. The URL holds the id (a ULID,
never reused) and the cleaned filename, so answers can be cached for good.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from archipel import media as media_store
from archipel.errors import InvalidInput
from web import appkeys
from web.auth import require_user

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
        return _error(str(error), 413)
    except InvalidInput as error:
        return _error(str(error), 400)
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


@routes.get("/media/{id}/{filename}")
async def serve(request: web.Request) -> web.StreamResponse:
    media_id, filename = request.match_info["id"], request.match_info["filename"]
    async with request.app[appkeys.SESSIONS]() as session:
        stored = await media_store.get_media(session, media_id)
    if stored is None or stored.filename != filename:
        raise web.HTTPNotFound(text="no such file")
    path = media_store.media_path(request.app[appkeys.SETTINGS].effective_media_directory, stored.id)
    if not path.is_file():
        log.warning("media %s is in the database but its file %s is missing", stored.id, path)
        raise web.HTTPNotFound(text="no such file")
    disposition = "inline" if stored.kind == "image" else "attachment"
    headers = {
        **SECURITY_HEADERS,
        "Content-Type": stored.content_type,
        "Content-Disposition": f'{disposition}; filename="{stored.filename}"',
        "Cache-Control": CACHE_FOREVER,
    }
    return web.FileResponse(path, headers=headers)

