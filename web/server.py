"""The HTTP server around the application: how long a client may take to send its headers, and
how many connections one process keeps open.

aiohttp has no header timeout of its own, but its keep-alive timer starts when a connection
opens and closes it if no complete request has arrived when it fires: set to `header_timeout`,
it ends a client that sends its headers byte by byte (slowloris) or nothing at all, and an idle
kept-alive connection too. Connections beyond `max_connections` are answered 503 and closed at
once, with one warning a minute in the log however many there are.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from aiohttp import web

from archipel.settings import Settings

log = logging.getLogger(__name__)
WARNING_INTERVAL = 60.0
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n"
         b"Retry-After: 10\r\nContent-Length: 5\r\n\r\nbusy\n")


def make_runner(app: web.Application, settings: Settings) -> web.AppRunner:
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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await GuardedSite(runner, max_connections=settings.max_connections, host=host, port=port).start()
        await stop.wait()
    finally:
        await runner.cleanup()
