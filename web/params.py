"""Numbers and cursors read from a request: only what the database can hold gets through.

Row ids are 32-bit integers on PostgreSQL (`Integer` primary keys); a page number or an id that
does not fit would fail the query (a 500 on PostgreSQL, silence on SQLite), and Python's `int()`
is lenient ("+1", " 1", "1_0", other scripts' digits). So: ASCII digits within bounds, or a 400
for a query parameter, a 404 for a path segment. Also the middleware that refuses, for every
request, what no handler should see: compressed bodies, NUL characters in the address or in a
form.
"""

from __future__ import annotations

from aiohttp import web

from archipel.bounds import INT32_MAX, parse_int, storable
from web import appkeys

ROW_ID_MAX = INT32_MAX


def query_int(request: web.Request, name: str, *, default: int | None = None, minimum: int = 0,
              maximum: int = ROW_ID_MAX) -> int | None:
    """The integer query parameter `name`; `default` when absent or empty; 400 otherwise."""
    text = request.query.get(name, "")
    if text == "":
        return default
    number = parse_int(text, minimum=minimum, maximum=maximum)
    if number is None:
        raise web.HTTPBadRequest(text=f"{name}: a whole number between {minimum} and {maximum} is expected")
    return number


def path_int(request: web.Request, name: str, *, maximum: int = ROW_ID_MAX) -> int:
    """The integer path segment `name` (a row id); 404 when it cannot name a row."""
    number = parse_int(request.match_info.get(name), minimum=0, maximum=maximum)
    if number is None:
        raise web.HTTPNotFound(text="not found")
    return number


def bad_cursor(name: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=f"{name}: not a cursor of this island")


@web.middleware
async def request_bounds_middleware(request: web.Request, handler):
    # aiohttp would inflate a gzip, deflate or br body on the event loop, past the size checks
    # made on what was sent: refuse them all, as Mastodon effectively does.
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        return web.Response(status=415, text="Content-Encoding is not accepted")
    # %00 (or a lone surrogate) decoded from the path or the query string would reach a query:
    # PostgreSQL refuses it with an error, SQLite would look it up.
    if not storable(request.path) or not all(storable(key) and storable(value)
                                             for key, value in request.query.items()):
        return web.Response(status=400, text="unreadable address")
    if request.method == "POST" and _small_form(request):
        try:
            form = await request.post()  # read once: handlers and the CSRF check get it cached
        except ValueError:
            return web.Response(status=400, text="unreadable form")
        if not all(storable(key) and (not isinstance(value, str) or storable(value))
                   for key, value in form.items()):
            return web.Response(status=400, text="unreadable form")
    return await handler(request)


def _small_form(request: web.Request) -> bool:
    """A form read here before its handler: any urlencoded one, a multipart one of declared size
    up to max_body_bytes. A larger upload is left to its handler, which answers a body over the
    limit in its own way (an error read here would bypass that answer)."""
    if request.content_type == "application/x-www-form-urlencoded":
        return True
    limit = request.app[appkeys.SETTINGS].max_body_bytes
    return (request.content_type == "multipart/form-data" and request.content_length is not None
            and request.content_length <= limit)
