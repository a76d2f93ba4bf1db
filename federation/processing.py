"""The inbox worker: takes stored activities in order and runs each through the dispatch table.

Each activity is handled in its own transaction together with what it causes (an Accept to send,
a reply to store), and its row moves to processed, ignored or failed in that same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from archipel.errors import ArchipelError
from archipel.storage.tables import IncomingActivity, utcnow
from federation.actors import ActorDirectory, ActorError
from federation.client import FetchError
from federation.handlers import HANDLERS, Ignored, object_type_of
from federation.jsonld import normalize
from federation.workers import run_forever

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BATCH = 100


@dataclass
class Context:
    """What a handler may use besides the session."""

    session: AsyncSession
    base_url: str
    directory: ActorDirectory
    incoming: IncomingActivity
    activity: dict  # normalised
    hub: bool = False  # re-share what we receive from the islands we follow
    follow_back: bool = False  # follow back the islands that follow ours


class InboxWorker:
    def __init__(self, sessionmaker: async_sessionmaker, directory: ActorDirectory, *, base_url: str,
                 poll_interval: float = 0.5, on_sent=lambda: None, hub: bool = False,
                 follow_back: bool = False):
        self.sessionmaker = sessionmaker
        self.directory = directory
        self.base_url = base_url
        self.poll_interval = poll_interval
        self.on_sent = on_sent
        self.hub = hub
        self.follow_back = follow_back  # wakes the delivery worker when a handler queued something
        self.wake = asyncio.Event()

    async def run_forever(self) -> None:
        await run_forever(self.run_once, self.wake, self.poll_interval, "inbox")

    async def run_once(self) -> int:
        async with self.sessionmaker() as session:
            ids = list(await session.scalars(
                select(IncomingActivity.id)
                .where(IncomingActivity.state == "received",
                       or_(IncomingActivity.next_try_at.is_(None), IncomingActivity.next_try_at <= utcnow()))
                .order_by(IncomingActivity.id).limit(BATCH)
            ))
        for incoming_id in ids:
            await self.process(incoming_id)
        if ids:
            self.on_sent()
        return len(ids)

    async def process(self, incoming_id: int) -> str:
        async with self.sessionmaker() as session:
            incoming = await session.get(IncomingActivity, incoming_id)
            if incoming is None or incoming.state != "received":
                return "skipped"
            # A rollback expires the row: keep what the log and retry need as plain values.
            uri, kind, actor, attempts = (incoming.activity_uri, incoming.activity_type,
                                          incoming.actor_uri, incoming.attempts)
            try:
                if not self.directory.client.policy.allows_actor(actor):
                    raise Ignored("blocked by a moderator after it was received")
                activity = normalize(incoming.payload)
                context = Context(session, self.base_url, self.directory, incoming, activity, self.hub,
                                  self.follow_back)
                handler = HANDLERS.get((incoming.activity_type, object_type_of(activity))) or \
                    HANDLERS.get((incoming.activity_type, None))
                if handler is None:
                    raise Ignored(f"no handler for {incoming.activity_type} of "
                                  f"{object_type_of(activity) or 'an IRI'}")
                await handler(context)
                state, error = "processed", None
            except (Ignored, ArchipelError) as reason:  # nothing to do, or invalid content
                await session.rollback()
                state, error = "ignored", str(reason)
            except (FetchError, ActorError) as failure:
                await session.rollback()
                retry = attempts + 1 < MAX_ATTEMPTS
                state, error = ("received" if retry else "failed"), str(failure)
            except Exception as failure:  # a bug or hostile input must not stop the worker
                await session.rollback()
                log.exception("activity %s failed", uri)
                state, error = "failed", f"{type(failure).__name__}: {failure}"
            if state != "processed":
                log.info("activity %s (%s from %s): %s — %s", uri, kind, actor, state, error)
            await session.execute(
                update(IncomingActivity).where(IncomingActivity.id == incoming_id).values(
                    state=state, last_error=error, attempts=IncomingActivity.attempts + 1,
                    processed_at=utcnow() if state != "received" else None,
                    next_try_at=utcnow() + timedelta(seconds=30 * 2 ** attempts)
                    if state == "received" else None)
            )
            await session.commit()
            return state
