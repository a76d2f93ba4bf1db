"""Middlewares: the real client address and scheme behind a trusted proxy, and one place that
turns domain errors into responses (HTML for browsers, JSON for servers)."""

from __future__ import annotations

import ipaddress
import json
import logging

from aiohttp import web

from archipel.errors import AlreadyExists, ArchipelError, Forbidden, InvalidInput, NotFound
from web.negotiation import wants_as2

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, Forbidden: 403, InvalidInput: 400, AlreadyExists: 409}


def proxy_middleware(trusted: tuple[str, ...]):
    networks = [ipaddress.ip_network(entry, strict=False) for entry in trusted]

    def is_trusted(address: str | None) -> bool:
        try:
            return address is not None and any(ipaddress.ip_address(address) in n for n in networks)
        except ValueError:
            return False

    @web.middleware
    async def middleware(request: web.Request, handler):
        if networks and is_trusted(request.remote):
            changes = {}
            forwarded_for = request.headers.get("X-Forwarded-For")
            if forwarded_for:
                # The client is the right-most address that is not one of our proxies.
                hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
                client = next((hop for hop in reversed(hops) if not is_trusted(hop)), hops[0])
                changes["remote"] = client
            proto = request.headers.get("X-Forwarded-Proto")
            if proto in ("http", "https"):
                changes["scheme"] = proto
            forwarded_host = request.headers.get("X-Forwarded-Host")
            if forwarded_host:
                changes["host"] = forwarded_host.split(",")[0].strip()
            if changes:
                request = request.clone(**changes)
        return await handler(request)

    return middleware


# Where a visitor came from is nobody else's business: another server reached by a link learns
# nothing (not even this island's name), while our own pages still see their own referrer.
# `same-origin` rather than `strict-origin-when-cross-origin`, which would hand the island's
# origin to every server linked from a reply. A route may set a stricter one (media: no-referrer).
REFERRER_POLICY = "same-origin"


@web.middleware
async def privacy_headers_middleware(request: web.Request, handler):
    try:
        response = await handler(request)
    except web.HTTPException as error:  # raised answers (404, redirects) are responses too
        error.headers.setdefault("Referrer-Policy", REFERRER_POLICY)
        raise
    response.headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    return response


# A static file asked for by a versioned address (web/pages.py: static_url) never changes: a year.
# Without a version, an hour, so that a new release reaches every browser soon.
STATIC_VERSIONED = "public, max-age=31536000, immutable"
STATIC_PLAIN = "public, max-age=3600"


@web.middleware
async def static_cache_middleware(request: web.Request, handler):
    response = await handler(request)
    if request.path.startswith("/static/") and response.status == 200:
        response.headers.setdefault("Cache-Control", STATIC_VERSIONED if "v" in request.query else STATIC_PLAIN)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except ArchipelError as error:
        status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)
        if wants_as2(request) or request.path.endswith("/inbox"):
            return web.json_response({"error": str(error)}, status=status, dumps=json.dumps)
        return web.Response(text=str(error), status=status, content_type="text/plain")
