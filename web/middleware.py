"""Middlewares: the real client address and scheme behind a trusted proxy, and one place that
turns errors into responses: domain errors and HTTP errors become the island's error page for a
browser (in its language, with the site's header and a way back), JSON for servers, short text
otherwise; an unexpected exception is logged and a browser sees a 500 page, never a traceback."""

from __future__ import annotations

import ipaddress
import json
import logging

from aiohttp import web

from archipel.errors import AlreadyExists, ArchipelError, Forbidden, InvalidInput, NotFound
from archipel.search_terms import MAX_QUERY_LENGTH
from web import words
from web.auth import FormRefused
from web.i18n import negotiate_language
from web.negotiation import wants_as2, wants_html
from web.pages import render

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, Forbidden: 403, InvalidInput: 400, AlreadyExists: 409}
ERROR_PAGES = frozenset({403, 404, 410, 429, 500, 503})  # statuses a browser gets as a page (error.html)


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
            return web.json_response({"error": _in_language(request, error)}, status=status, dumps=json.dumps)
        if status in ERROR_PAGES and wants_html(request):
            return error_page(request, status)
        return web.Response(text=_in_language(request, error), status=status, content_type="text/plain")
    except web.HTTPException as error:
        if error.status in ERROR_PAGES and wants_html(request) and not _started(request):
            return error_page(request, error.status, error.headers, form_refused=isinstance(error, FormRefused))
        raise
    except Exception:
        if not wants_html(request) or _started(request):
            raise  # aiohttp logs it and answers its own short 500
        log.exception("error on %s %s", request.method, request.path)
        return error_page(request, 500)


def _in_language(request: web.Request, error: ArchipelError) -> str:
    """The domain's message in the language the request asks for (French when it asks none)."""
    return words.failure(negotiate_language(request), error)


def _started(request: web.Request) -> bool:
    """Has the handler already sent something (a stream)? Then no other answer can be given."""
    return request.writer is not None and request.writer.output_size > 0


_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def error_page(request: web.Request, status: int, headers=None, *, form_refused: bool = False) -> web.Response:
    """The error page of `status`, in the reader's language; plain text if even that fails."""
    try:
        # A search turned away (429, 503: web/search_guard.py) keeps its words in the page's box.
        retried = request.query.get("q", "")[:MAX_QUERY_LENGTH] if status in (429, 503) else ""
        response = render(request, "error.html", status=status, error=status, form_refused=form_refused,
                          retried_words=retried, cookies=False)
    except Exception:
        log.exception("the error page %d could not be shown", status)
        return web.Response(text=f"{status}", status=status, content_type="text/plain")
    for name in _KEPT_HEADERS:
        if headers and name in headers:
            response.headers[name] = headers[name]
    return response
