"""The HTTP server around the application: how long a client may take to send its headers, and
how many connections one process keeps open.

aiohttp has no header timeout of its own, but its keep-alive timer starts when a connection
opens and closes it if no complete request has arrived when it fires: set to `header_timeout`,
it ends a client that sends its headers byte by byte (slowloris) or nothing at all, and an idle
kept-alive connection too. Connections beyond `max_connections` are answered 503 and closed at
once, with one warning a minute in the log however many there are.

Once the headers are in, the body has `body_timeout` seconds to arrive, plus one second per
BODY_BYTES_PER_SECOND received (Apache's MinRate idea: a large upload on a slow line arrives, a
client dribbling a body byte by byte does not hold its connection and handler for long). Past
that, the handler's pending read fails, the client gets a 408 and the connection is closed
(nothing waits for the rest). The middleware is put first by make_runner, so that it also
covers the middlewares that read forms.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import time

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from archipel.settings import Settings

log = logging.getLogger(__name__)
WARNING_INTERVAL = 60.0
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n"
         b"Retry-After: 10\r\nContent-Length: 5\r\n\r\nbusy\n")


BODY_BYTES_PER_SECOND = 1000
_TOO_SLOW = "request body too slow\n"


class BodyTimeout(Exception):
    """Set on a request's payload when its body is late: the handler's pending read raises it."""


def body_deadline_middleware(body_timeout: float):
    @web.middleware
    async def middleware(request: web.Request, handler):
        payload = request.content
        if payload.is_eof():  # no body, or all of it came with the headers
            return await handler(request)
        loop = asyncio.get_running_loop()
        started = loop.time()
        expired = False

        def check() -> None:
            nonlocal timer, expired
            if payload.is_eof():
                return
            deadline = started + body_timeout + payload.total_bytes / BODY_BYTES_PER_SECOND
            if loop.time() < deadline:
                timer = loop.call_at(deadline, check)
                return
            expired = True
            payload.set_exception(BodyTimeout())

        timer = loop.call_at(started + body_timeout, check)
        response = None
        try:
            response = await handler(request)
        except Exception:
            if not expired:  # the failed read of a late body is answered below, whatever raised
                raise
        finally:
            timer.cancel()
        if not expired:
            return response
        log.info("request %s %s from %s: body too slow, connection closed",
                 request.method, request.path, request.remote)
        # A handler that answered without reading the rest keeps its answer.
        if response is None:
            response = web.Response(status=408, text=_TOO_SLOW)
        return await _send_and_close(request, response)

    return middleware


async def _send_and_close(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    # Closed now: aiohttp would otherwise linger reading the rest of the slow body.
    request.protocol.force_close()
    return response


class ClientMistakesInOneLine(logging.Filter):
    """aiohttp logs a malformed request (a line or header too long, a body it cannot read) as an
    error with a traceback, although it answered 400 and the mistake is the client's: one line
    at INFO instead, so that a hostile client cannot fill the log with tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (HttpProcessingError, RequestPayloadError)):
            summary = str(error).strip().splitlines()[0] if str(error).strip() else ""
            record.msg, record.args = f"{record.getMessage()}: {type(error).__name__} {summary}"[:300], ()
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_CLIENT_MISTAKES = ClientMistakesInOneLine()


def make_runner(app: web.Application, settings: Settings) -> web.AppRunner:
    aiohttp_server_log = logging.getLogger("aiohttp.server")
    if _CLIENT_MISTAKES not in aiohttp_server_log.filters:
        aiohttp_server_log.addFilter(_CLIENT_MISTAKES)
    app.middlewares.insert(0, body_deadline_middleware(settings.body_timeout))
    return web.AppRunner(
        app, access_log=None,
        keepalive_timeout=settings.header_timeout,
        # Nothing inflates request bodies behind our size checks (they are refused: web/params.py).
        auto_decompress=False,
        max_line_size=8190, max_field_size=8190, max_headers=100,
    )


class GuardedSite(web.BaseSite):
    """A listening socket whose accepted connections are counted and bounded."""

    def __init__(self, runner: web.AppRunner, *, max_connections: int, sock: socket.socket | None = None,
                 host: str | None = None, port: int | None = None, backlog: int = 128):
        super().__init__(runner, backlog=backlog)
        self._sock, self._host, self._port = sock, host, port
        self.max_connections = max_connections
        self.refused = 0
        self._last_warning = -WARNING_INTERVAL

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2] if self._sock else (self._host, self._port)
        return f"http://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        if self._sock is not None:
            self._server = await loop.create_server(self._protocol, sock=self._sock, backlog=self._backlog)
        else:
            self._server = await loop.create_server(self._protocol, self._host, self._port,
                                                    backlog=self._backlog, reuse_address=True)

    def _protocol(self) -> asyncio.BaseProtocol:
        server = self._runner.server
        if len(server.connections) < self.max_connections:
            return server()
        self.refused += 1
        now = time.monotonic()
        if now - self._last_warning >= WARNING_INTERVAL:
            self._last_warning = now
            log.warning("%d open connections: new ones are refused (max_connections; %d refused so far)",
                        len(server.connections), self.refused)
        return _Busy()


class _Busy(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(_BUSY)
        transport.close()


async def serve(app: web.Application, settings: Settings, host: str, port: int) -> None:
    """Run until SIGINT or SIGTERM, then shut down cleanly (what `archipel serve` does)."""
    import signal

    runner = make_runner(app, settings)
    await runner.setup()
    # What was made to start (modules, compiled templates and statements, the workers) lives as
    # long as the process: kept out of the collector's reach, its full collections no longer
    # walk it (~60 ms each at 100,000 items, a pause for every request in flight).
    gc.collect()
    gc.freeze()
    # A young collection every 10,000 new containers rather than 700: a page makes thousands
    # (rows, dicts, template values) that reference counting frees, and each collection walked
    # them (ten visitors on /federated, in process: 326 young collections, 69 ms of 2.5 s; then 1).
    gc.set_threshold(10_000, 10, 10)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await GuardedSite(runner, max_connections=settings.max_connections, host=host, port=port).start()
        await stop.wait()
    finally:
        await runner.cleanup()
