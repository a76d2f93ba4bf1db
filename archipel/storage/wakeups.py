"""Wake-ups between the writers of a queue and its workers, in one process or several.

A writer calls `notify(channel)` once its transaction has committed. In the same process the
channel's events are set at once. On PostgreSQL the name also goes out as a `NOTIFY` on a
connection of its own, which `LISTEN`s for the other processes' notices: a web process storing
an activity wakes the inbox worker of a worker process within milliseconds. Polling stays
underneath (each worker also looks every `poll_interval`), so a notice lost with a dropped
connection only delays work; SQLite, one process, never needs more than the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

INBOX = "inbox"
DELIVERIES = "deliveries"
MAIL = "mail"
CATALOGS = "catalogs"
BLOCKS = "blocks"  # the moderators' blocks changed: every process reloads its policy
CHANNELS = (INBOX, DELIVERIES, MAIL, CATALOGS, BLOCKS)
PREFIX = "archipel_"
RECONNECT_EVERY = 5.0  # seconds between checks of the listening connection


class Wakeups:
    def __init__(self) -> None:
        self._events: dict[str, list[asyncio.Event]] = defaultdict(list)
        self._callbacks: dict[str, list[Callable[[], Awaitable[None]]]] = defaultdict(list)
        self._dsn: str | None = None
        self._connection = None
        self._outgoing: set[str] = set()  # channels to announce to the other processes
        self._flush_wanted = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._running: set[asyncio.Task] = set()

    def subscribe(self, channel: str, event: asyncio.Event) -> None:
        """`event` is set whenever `channel` is notified, here or in another process."""
        self._events[channel].append(event)

    def on(self, channel: str, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` when *another* process notifies `channel` (this one already acted)."""
        self._callbacks[channel].append(callback)

    def notify(self, channel: str) -> None:
        for event in self._events[channel]:
            event.set()
        if self._dsn is not None:
            self._outgoing.add(channel)
            self._flush_wanted.set()

    # ---- PostgreSQL ----------------------------------------------------------------------
    async def start(self, database_url: str) -> None:
        url = make_url(database_url)
        if url.get_backend_name() != "postgresql":
            return
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        await self._connect()
        self._tasks = [asyncio.create_task(self._flush_loop(), name="wakeups-notify"),
                       asyncio.create_task(self._watch_loop(), name="wakeups-listen")]

    async def stop(self) -> None:
        for task in (*self._tasks, *self._running):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._running, return_exceptions=True)
        self._tasks = []
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close(timeout=2)
            self._connection = None

    async def _connect(self) -> None:
        import asyncpg

        try:
            connection = await asyncpg.connect(self._dsn, timeout=5)
            for channel in CHANNELS:
                await connection.add_listener(PREFIX + channel, self._heard)
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            log.warning("listening for other processes' notices failed (polling goes on): %s", error)
            return
        self._connection = connection

    def _heard(self, _connection, pid: int, channel: str, _payload: str) -> None:
        name = channel.removeprefix(PREFIX)
        for event in self._events[name]:
            event.set()
        if pid == self._connection.get_server_pid():
            return  # our own notice: this process acted already
        for callback in self._callbacks[name]:
            task = asyncio.create_task(self._run(callback, name))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    @staticmethod
    async def _run(callback, name: str) -> None:
        try:
            await callback()
        except Exception:
            log.exception("reacting to another process's %s notice failed", name)

    async def _flush_loop(self) -> None:
        while True:
            await self._flush_wanted.wait()
            self._flush_wanted.clear()
            channels, self._outgoing = self._outgoing, set()
            if self._connection is None or self._connection.is_closed():
                continue  # the other processes' polling will find the work
            try:
                for channel in channels:
                    await self._connection.execute("SELECT pg_notify($1, '')", PREFIX + channel)
            except Exception as error:  # the watch loop reconnects
                log.info("notifying other processes failed: %s", error)

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(RECONNECT_EVERY)
            if self._connection is None or self._connection.is_closed():
                await self._connect()
