"""The inbox worker: takes stored activities fairly across senders and runs each through the
dispatch table, many per transaction.

A round claims work round-robin by the sender's server (`fair_queue`): a flood from one actor
or one server waits its turn behind everyone else's next activities instead of in front of
them. Claimed rows carry a lease (`next_try_at` pushed ahead, its exact value the claim's
token), committed at once: two workers, or two rounds of one worker, never take the same row,
and a crash leaves the rows to be taken again when the lease ends — nothing accepted is lost.

The claimed activities are then handled in one transaction, each inside its own savepoint:
what an activity causes (a like stored, an Accept queued, a notification) and its row's new
state commit together, and one activity that fails rolls back only itself. Inside that
transaction handlers see the actor directory offline (`BatchDirectory`): actors are fetched
before the transaction starts, and an activity whose handler still needs the network (an
object to fetch, an actor to refresh) is set aside and handled alone afterwards, in its own
transaction as before, with the usual retries and backoff. On PostgreSQL the round's batches
run side by side in lanes split by actor; SQLite has one writer. When the same process also
receives, the worker and the inbox's store take turns at writing (`write_turns.py`), and the
worker's batches grow to keep pace with what the store writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from archipel import notifications, read_cache
from archipel.errors import ArchipelError
from archipel.queue_states import IncomingStates
from archipel.storage.tables import IncomingActivity, RemoteActor, utcnow
from federation import fair_queue
from federation.actors import ACTOR_MAX_AGE, ActorDirectory, ActorError
from federation.client import FetchError
from federation.handlers import HANDLERS, Ignored, object_type_of
from federation.jsonld import normalize
from federation.mentions import Limits
from federation.workers import Stopping, run_forever
from federation.write_turns import WriteTurns

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
ROUND = 100  # activities claimed per round
# A round that takes longer hands its untouched claims back, so that the next fair pick (and a
# reply that arrived meanwhile) does not wait behind a slow round.
ROUND_SECONDS = 0.5
# Activities per transaction: on SQLite a transaction holds the only write lock, which the
# inbox needs to store what arrives; small enough to keep that wait short. It grows up to a
# round when the store writes more per turn (write_turns.py).
BATCH = 25
LANES = 8  # transactions side by side on PostgreSQL (each needs a pooled connection)
LEASE = timedelta(minutes=2)  # a claim left by a crashed worker is taken again after this
PREFETCH_CONCURRENCY = 8
ALONE_CONCURRENCY = 4  # activities that wait on the network, handled side by side
# Handlers that ask the directory for their actor: it is fetched before the transaction.
NEEDS_ACTOR = frozenset({"Follow", "Accept"})

_TABLE = IncomingActivity.__table__
RECEIVED, PROCESSED = IncomingStates.RECEIVED, IncomingStates.PROCESSED


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
    proposal_limits: Limits = Limits()  # proposals by mention (settings proposal_*)


class NeedsNetwork(Exception):
    """A handler inside a batch wanted the network: the activity is handled alone instead."""


class BatchDirectory:
    """The actor directory as handlers see it inside a batch: no network, and no writes through
    another session (on SQLite they would wait for the batch's own lock)."""

    def __init__(self, directory: ActorDirectory, actors: dict[str, RemoteActor]):
        self._directory = directory
        self._actors = actors
        self.client = _OfflineClient(directory.client)

    def __getattr__(self, name):
        value = getattr(self._directory, name)
        return _refuse(name) if inspect.iscoroutinefunction(value) else value

    async def cached(self, uri: str) -> RemoteActor | None:
        return self._actors.get(uri) or await self._directory.cached(uri)

    async def get(self, uri: str, *, refresh: bool = False) -> RemoteActor:
        actor = None if refresh else await self.cached(uri)
        if actor is None or utcnow() - actor.fetched_at >= ACTOR_MAX_AGE:
            raise NeedsNetwork(f"actor {uri} to fetch")
        return actor


class _OfflineClient:
    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        value = getattr(self._client, name)
        return _refuse(name) if inspect.iscoroutinefunction(value) else value


def _refuse(name: str):
    async def refused(*args, **kwargs):
        raise NeedsNetwork(f"{name} inside a batch")
    return refused


@dataclass(frozen=True)
class _Claimed:
    id: int
    actor_uri: str
    activity_type: str
    actor_host: str


class InboxWorker:
    def __init__(self, sessionmaker: async_sessionmaker, directory: ActorDirectory, *, base_url: str,
                 poll_interval: float = 0.5, on_sent=lambda: None, hub: bool = False,
                 follow_back: bool = False, proposal_limits: Limits = Limits()):
        self.sessionmaker = sessionmaker
        self.directory = directory
        self.base_url = base_url
        self.poll_interval = poll_interval
        self.on_sent = on_sent  # wakes the delivery worker when a handler queued something
        self.hub = hub
        self.follow_back = follow_back
        self.proposal_limits = proposal_limits
        self.wake = asyncio.Event()
        self.stopping = Stopping()  # replaced by the process's own in run_forever
        self.turn = fair_queue.Turn()
        # Shared with the inbox's store when this process also receives (set by web/app.py).
        self.write_turns: WriteTurns | None = None
        bind = sessionmaker.kw.get("bind")
        self.one_writer = bind is not None and bind.dialect.name == "sqlite"

    async def run_forever(self, stopping: Stopping | None = None) -> None:
        self.stopping = stopping or self.stopping
        await run_forever(self.run_once, self.wake, self.poll_interval, "inbox", self.stopping)

    async def run_once(self) -> int:
        claimed, lease = await self._claim()
        if not claimed:
            return 0
        actors = await self._prefetch(claimed)
        handled, alone = await self._run_steps(self._lanes(claimed), lease, actors)
        if len(handled) < len(claimed):
            self._resume_after(claimed, handled)
        if alone and self.stopping.is_set():  # they may wait on the network: hand them back
            await self._release(alone, lease)
            alone = []
        if alone:
            limit = asyncio.Semaphore(ALONE_CONCURRENCY)

            async def one(incoming_id: int) -> None:
                async with limit:
                    await self._process_alone(incoming_id, lease)
            await asyncio.gather(*(one(incoming_id) for incoming_id in alone))
        self.on_sent()
        return len(handled)

    def _lanes(self, claimed: list[_Claimed]) -> list[list[_Claimed]]:
        """On PostgreSQL, transactions run side by side (each waits mostly on the database's
        answers): the round is split by actor, so that an actor's activities stay in order in
        one lane and two lanes never write the same rows. SQLite has one writer: one lane."""
        if self.one_writer or LANES == 1:
            return [claimed]
        lanes: list[list[_Claimed]] = [[] for _ in range(LANES)]
        for row in claimed:
            lanes[zlib.crc32(row.actor_uri.encode()) % LANES].append(row)
        return [lane for lane in lanes if lane]

    async def _run_steps(self, lanes: list[list[_Claimed]], lease: datetime,
                         actors: dict) -> tuple[list[_Claimed], list[int]]:
        """Each step runs the next batch of every lane side by side, in one turn at writing.
        Returns (rows handled, ids to handle alone); what a slow round does not reach is
        handed back."""
        handled: list[_Claimed] = []
        alone: list[int] = []
        started = time.monotonic()
        start, longest = 0, max(len(lane) for lane in lanes)
        while start < longest:
            if start and (time.monotonic() - started > ROUND_SECONDS or self.stopping.is_set()):
                await self._release([row.id for lane in lanes for row in lane[start:]], lease)
                break
            async with self._turn():
                size = self.write_turns.worker_batch(BATCH, ROUND) if self.write_turns else BATCH
                batches = [lane[start:start + size] for lane in lanes if lane[start:start + size]]
                for ids in await _all_or_none([self._run_batch(batch, lease, actors) for batch in batches]):
                    alone += ids
            step = [row for batch in batches for row in batch]
            handled += step
            if self.write_turns:
                self.write_turns.worked(len(step))
            start += size
        return handled, alone

    def _turn(self):
        return self.write_turns.worker() if self.write_turns else contextlib.nullcontext()

    async def _run_batch(self, batch: list[_Claimed], lease: datetime, actors: dict) -> list[int]:
        """The ids to handle alone afterwards."""
        try:
            return await self._process_batch([row.id for row in batch], lease, actors)
        except Exception:  # the batch as a whole failed (database error): one at a time instead
            log.exception("inbox batch of %d failed; handling them one by one", len(batch))
            return [row.id for row in batch]

    async def process(self, incoming_id: int) -> str:
        """Handle one received activity now, alone (claimed here first)."""
        lease = utcnow() + LEASE
        async with self.sessionmaker() as session:
            claimed = await session.scalar(
                update(_TABLE).where(_TABLE.c.id == incoming_id, *fair_queue.ready(utcnow()))
                .values(attempts=_TABLE.c.attempts + 1, next_try_at=lease).returning(_TABLE.c.id))
            await session.commit()
        if claimed is None:
            return "skipped"
        return await self._process_alone(incoming_id, lease)

    # ---- claim -------------------------------------------------------------------------------

    async def _claim(self) -> tuple[list[_Claimed], datetime]:
        """Up to ROUND ready activities, fairly across servers, leased to this round (committed)."""
        now = utcnow()
        lease = now + LEASE
        async with self._turn(), self.sessionmaker() as session:
            ids = await fair_queue.pick(session, self.turn, now, ROUND)
            if not ids:
                if self.write_turns:
                    self.write_turns.idle()
                return [], lease
            locked = (select(_TABLE.c.id).where(_TABLE.c.id.in_(ids), *fair_queue.ready(now))
                      .order_by(_TABLE.c.id).with_for_update(skip_locked=True))
            rows = (await session.execute(
                update(_TABLE).where(_TABLE.c.id.in_(locked.scalar_subquery()))
                .values(attempts=_TABLE.c.attempts + 1, next_try_at=lease)
                .returning(_TABLE.c.id, _TABLE.c.actor_uri, _TABLE.c.activity_type,
                           _TABLE.c.actor_host))).all()
            await session.commit()
        order = {incoming_id: position for position, incoming_id in enumerate(ids)}
        claimed = sorted((_Claimed(*row) for row in rows), key=lambda row: order[row.id])
        return claimed, lease

    def _resume_after(self, claimed: list[_Claimed], handled: list[_Claimed]) -> None:
        """The next round starts after the last host of this round's turn order that was served,
        so that hosts whose first activity was handed back do not lose their turn."""
        served = {row.actor_host for row in handled}
        last = None
        for host in dict.fromkeys(row.actor_host for row in claimed):  # the round's host order
            if host not in served:
                break
            last = host
        if last is not None:
            self.turn.last_host = last

    async def _release(self, ids: list[int], lease: datetime) -> None:
        """Claims this round will not get to, handed back as if never taken."""
        async with self.sessionmaker() as session:
            await session.execute(
                update(_TABLE).where(_TABLE.c.id.in_(ids), _TABLE.c.state == RECEIVED,
                                     _TABLE.c.next_try_at == lease)
                .values(attempts=_TABLE.c.attempts - 1, next_try_at=None))
            await session.commit()

    async def _prefetch(self, claimed: list[_Claimed]) -> dict[str, RemoteActor]:
        """The batch's actors, read at once; those the handlers will need are fetched now,
        concurrently, so that no handler waits on the network inside the transaction."""
        uris = {row.actor_uri for row in claimed}
        async with self.sessionmaker() as session:
            actors = {actor.uri: actor for actor in await session.scalars(
                select(RemoteActor).where(RemoteActor.uri.in_(uris)))}
        def stale(uri: str) -> bool:
            return uri not in actors or utcnow() - actors[uri].fetched_at >= ACTOR_MAX_AGE
        wanted = {row.actor_uri for row in claimed if row.activity_type in NEEDS_ACTOR
                  and stale(row.actor_uri) and self.directory.client.policy.allows_actor(row.actor_uri)}
        limit = asyncio.Semaphore(PREFETCH_CONCURRENCY)

        async def fetch(uri: str) -> None:
            async with limit:
                try:
                    actors[uri] = await self.directory.get(uri)
                except (FetchError, ActorError) as error:  # the activity will retry alone
                    log.info("actor %s could not be fetched before its batch: %s", uri, error)
        await asyncio.gather(*(fetch(uri) for uri in wanted))
        return actors

    # ---- handling ----------------------------------------------------------------------------

    async def _dispatch(self, session: AsyncSession, directory, incoming: IncomingActivity) -> None:
        if not self.directory.client.policy.allows_actor(incoming.actor_uri):
            raise Ignored("blocked by a moderator after it was received")
        activity = normalize(incoming.payload)
        context = Context(session, self.base_url, directory, incoming, activity, self.hub, self.follow_back,
                          self.proposal_limits)
        handler = HANDLERS.get((incoming.activity_type, object_type_of(activity))) or \
            HANDLERS.get((incoming.activity_type, None))
        if handler is None:
            raise Ignored(f"no handler for {incoming.activity_type} of "
                          f"{object_type_of(activity) or 'an IRI'}")
        await handler(context)

    async def _process_batch(self, ids: list[int], lease: datetime, actors: dict) -> list[int]:
        """Handle the claimed activities in one transaction; returns those to handle alone."""
        alone: list[int] = []
        async with self.sessionmaker() as session:
            read_cache.enable(session)  # the batch's handlers read the same local rows again and again
            notifications.defer(session)  # written together before the commit
            # Rows are marked processed first: this opens the transaction (on SQLite a savepoint
            # outside one would commit on release) and checks the lease is still ours.
            now = utcnow()
            owned = set(await session.scalars(
                update(_TABLE).where(_TABLE.c.id.in_(ids), _TABLE.c.state == RECEIVED,
                                     _TABLE.c.next_try_at == lease)
                .values(state=PROCESSED, processed_at=now, last_error=None, next_try_at=None)
                .returning(_TABLE.c.id)))
            rows = {row.id: row for row in await session.scalars(
                select(IncomingActivity).where(IncomingActivity.id.in_(owned)))}
            directory = BatchDirectory(self.directory, actors)
            settled: dict[int, tuple[str, str | None, datetime | None]] = {}
            for position, incoming_id in enumerate(ids):
                incoming = rows.get(incoming_id)
                if incoming is None:
                    continue
                uri, kind, actor, attempts = (incoming.activity_uri, incoming.activity_type,
                                              incoming.actor_uri, incoming.attempts)
                # Each activity after a savepoint of its own, rolled back to if it fails and
                # never released (the commit releases them all): one statement per activity
                # instead of begin_nested()'s two. Its ORM changes are flushed before the next.
                savepoint = f"activity_{position}"
                await session.execute(text(f"SAVEPOINT {savepoint}"))
                notices = notifications.deferred_mark(session)
                try:
                    await self._dispatch(session, directory, incoming)
                    await session.flush()
                except (NeedsNetwork, OperationalError) as reason:
                    # The network, or a lock conflict with another transaction (a deadlock on
                    # PostgreSQL): handled alone afterwards rather than failed.
                    await session.execute(text(f"ROLLBACK TO SAVEPOINT {savepoint}"))
                    forget_changes(session)
                    notifications.forget_deferred(session, notices)
                    log.debug("activity %s handled alone: %s", uri, reason)
                    alone.append(incoming_id)
                    settled[incoming_id] = (RECEIVED, None, lease)
                except Exception as failure:
                    await session.execute(text(f"ROLLBACK TO SAVEPOINT {savepoint}"))
                    forget_changes(session)
                    notifications.forget_deferred(session, notices)
                    state, error, next_try = _outcome(failure, attempts, uri)
                    log.info("activity %s (%s from %s): %s — %s", uri, kind, actor, state, error)
                    settled[incoming_id] = (state, error, next_try)
            await notifications.write_deferred(session)
            # One statement per outcome: a flood's repeats share theirs ("already recorded").
            outcomes: dict[tuple, list[int]] = {}
            for incoming_id, outcome in settled.items():
                outcomes.setdefault(outcome, []).append(incoming_id)
            for (state, error, next_try), same in outcomes.items():
                await session.execute(update(_TABLE).where(_TABLE.c.id.in_(same)).values(
                    state=state, last_error=error, next_try_at=next_try,
                    processed_at=now if state != RECEIVED else None))
            await session.commit()
        return alone

    async def _process_alone(self, incoming_id: int, lease: datetime) -> str:
        """One claimed activity in its own transaction, network allowed (as before batches)."""
        async with self.sessionmaker() as session:
            # A fresh lease, committed: handling may now wait on remote servers.
            lease_now = utcnow() + LEASE
            extended = await session.scalar(
                update(_TABLE).where(_TABLE.c.id == incoming_id, _TABLE.c.state == RECEIVED,
                                     _TABLE.c.next_try_at == lease)
                .values(next_try_at=lease_now).returning(_TABLE.c.id))
            await session.commit()
            if extended is None:
                return "skipped"
            incoming = await session.get(IncomingActivity, incoming_id)
            # A rollback expires the row: keep what the log and retry need as plain values.
            uri, kind, actor, attempts = (incoming.activity_uri, incoming.activity_type,
                                          incoming.actor_uri, incoming.attempts)
            try:
                await self._dispatch(session, self.directory, incoming)
                state, error, next_try = PROCESSED, None, None
            except Exception as failure:
                await session.rollback()
                state, error, next_try = _outcome(failure, attempts, uri)
                log.info("activity %s (%s from %s): %s — %s", uri, kind, actor, state, error)
            result = await session.execute(
                update(_TABLE).where(_TABLE.c.id == incoming_id, _TABLE.c.state == RECEIVED,
                                     _TABLE.c.next_try_at == lease_now)
                .values(state=state, last_error=error, next_try_at=next_try,
                        processed_at=utcnow() if state != RECEIVED else None))
            if result.rowcount != 1:  # our lease ran out and another worker took the row
                await session.rollback()
                return "skipped"
            await session.commit()
            return state


async def _all_or_none(coroutines: list) -> list:
    """Their results; if one dies (cancelled, the process stopping), the others are stopped
    before it is passed on, so that none commits behind the caller's back."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def forget_changes(session: AsyncSession) -> None:
    """After a savepoint rolled back, objects it changed are expired, and reading one later
    would need a lazy load (impossible here): the next handlers load what they use afresh."""
    session.expunge_all()
    read_cache.clear(session)


def _outcome(failure: Exception, attempts: int, uri: str | None) -> tuple[str, str, datetime | None]:
    """The row's state after a handler raised. `attempts` counts this try already."""
    if isinstance(failure, (Ignored, ArchipelError)):  # nothing to do, or invalid content
        return IncomingStates.IGNORED, str(failure), None
    if isinstance(failure, (FetchError, ActorError)):
        if attempts < MAX_ATTEMPTS:
            return RECEIVED, str(failure), utcnow() + timedelta(seconds=30 * 2 ** (attempts - 1))
        return IncomingStates.FAILED, str(failure), None
    # A bug or hostile input must not stop the worker.
    log.error("activity %s failed", uri, exc_info=failure)
    return IncomingStates.FAILED, f"{type(failure).__name__}: {failure}", None
