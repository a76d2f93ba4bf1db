"""The delivery worker: sends queued activities, retries, gives up, never loses one.

states (archipel.queue_states.DeliveryStates): pending -> in_flight -> sent | pending (retry later) | gave_up

A continuous pipeline, so that no remote can stall the others:
- a row is claimed (state in_flight, its lease in `next_try_at`, committed) only when a slot is
  free for it and its POST starts right after: at most `concurrency` rows in flight per process,
  and at most `per_host` for one host across every process of the island (counted from the
  table inside the claim, which PostgreSQL serialises with an advisory lock and SQLite with
  its write lock, taken before the count);
- each outcome is recorded as its POST completes; outcomes that complete while the previous
  write runs are grouped into the next transaction (one commit for many, never a wait for the
  slowest member); a slot is freed once its outcome is committed, and freeing one claims more.

The crash bound: a row whose lease ran out while still in flight is due again (its worker died);
the lease outlasts the longest possible send. A process that stops cleanly hands back the rows
whose sends it cut short. On SQLite one process serves the island (`archipel.island_lock`), so
it also puts back at start what its predecessor left in flight (`recover`), without waiting for
leases. Only rows whose POST had started and whose outcome was not committed are sent twice:
never more than `concurrency` per process, never more than `per_host` for one host. Receivers
recognise the repeated activity id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import false, func, select, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from archipel.queue_states import DeliveryStates
from archipel.storage.tables import Delivery, HostHealth, LocalActor, OutgoingActivity, utcnow
from federation import observed
from federation.client import FederationClient, Signer
from federation.delivery_hosts import STOPPED_UNTIL
from federation.documents import ActorUrls
from federation.netguard import BlockedAddress
from federation.retry import backoff, host_pause, is_final_failure, parse_retry_after
from federation.workers import Stopping, woken

log = logging.getLogger(__name__)

CLAIM_ROWS = 500  # at most, rows looked at per claim query
HEALTHY_RECHECK = timedelta(seconds=30)  # a host seen healthy is not written again before this
PAYLOAD_CACHE = 64  # bodies kept between claims (a fan-out sends one body to many inboxes)
MAX_ERROR_CHARS = 500
RECORD_BATCH = 500
RECORD_WINDOW = 0.01  # seconds the recorder waits for outcomes completing close together
CLAIM_LOCK = 0x41524350  # PostgreSQL advisory lock taken by claims: the per-host count holds
PENDING, IN_FLIGHT, SENT, GAVE_UP = (DeliveryStates.PENDING, DeliveryStates.IN_FLIGHT,
                                     DeliveryStates.SENT, DeliveryStates.GAVE_UP)


class DeliveryWorker:
    def __init__(self, sessionmaker: async_sessionmaker, client: FederationClient, *, base_url: str,
                 concurrency: int = 32, per_host: int = 6, give_up_after: timedelta = timedelta(hours=48),
                 poll_interval: float = 0.5, send_timeout: float = 120.0):
        self.sessionmaker = sessionmaker
        self.client = client
        self.base_url = base_url
        self.concurrency = max(1, concurrency)
        # While POSTs are running, claim once a few slots are free rather than for each one:
        # fewer, larger claim transactions for the same pipeline.
        self.claim_at_least = max(1, min(8, self.concurrency // 4))
        self.per_host = max(1, per_host)
        self.give_up_after = give_up_after
        self.poll_interval = poll_interval
        # The client bounds each request; this bounds a whole delivery (two knocks included), so
        # that a slot can never be held for ever whatever a server does.
        self.send_timeout = send_timeout
        # A claimed row is another process's again after this: the longest send, and as long
        # again to record its outcome.
        self.lease = timedelta(seconds=2 * send_timeout)
        bind = sessionmaker.kw.get("bind")
        self._dialect = bind.dialect.name if bind is not None else None
        self.wake = asyncio.Event()  # new work written in this process, or a slot freed
        self._signers: dict[int, Signer] = {}
        self._bodies: dict[int, tuple[bytes, int]] = {}  # outgoing id -> (body, actor id)
        self._held = 0  # rows claimed whose outcome is not committed yet
        self._leases: dict[int, datetime] = {}  # delivery id -> its lease, until its outcome is known
        self._sending: set[asyncio.Task] = set()
        self._outcomes: list[tuple] = []  # completed, waiting for the recorder
        self._outcome_ready = asyncio.Event()
        self._healthy_since: dict[str, object] = {}  # host -> when its health row was last reset
        self._recorder: asyncio.Task | None = None

    async def recover(self) -> int:
        """Put back every delivery left in flight. Only for the island's single process (SQLite,
        under the island lock): with several processes, leases do this without touching the
        rows of a process that is still sending."""
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(Delivery).where(Delivery.state == IN_FLIGHT).values(state=PENDING, next_try_at=utcnow())
            )
            await session.commit()
        if result.rowcount:
            log.info("%d deliveries were in flight at the last stop: sending them again", result.rowcount)
        return result.rowcount

    # ---- the pipeline -----------------------------------------------------------------------
    async def run_forever(self, stopping: Stopping | None = None) -> None:
        """Claim as slots free up, until stopped or cancelled; completed outcomes are still
        written then, and sends cut short stay in flight (`recover`)."""
        if stopping is not None:
            stopping.watch(self.wake)
        self._start_recorder()
        try:
            while stopping is None or not stopping.is_set():
                self.wake.clear()
                try:
                    started = await self._fill()
                except Exception:
                    log.exception("claiming deliveries failed")
                    started = 0
                if not started and (stopping is None or not stopping.is_set()):
                    await woken(self.wake, self.poll_interval)
        finally:
            await self._shutdown()

    async def run_once(self) -> int:
        """Send everything due now and wait until every outcome is recorded (tests step this);
        returns how many deliveries were attempted."""
        self._start_recorder()
        attempted = 0
        try:
            while True:
                self.wake.clear()
                started = await self._fill()
                attempted += started
                if not started and not self._held:
                    return attempted
                if not started:
                    await self.wake.wait()
        finally:
            await self._shutdown()

    def _start_recorder(self) -> None:
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_loop(), name="delivery-recorder")

    async def _shutdown(self) -> None:
        """Stop sending; write what already completed, and hand back the rows cut short."""
        for task in list(self._sending):
            task.cancel()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        if self._recorder is not None:
            self._recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recorder
            self._recorder = None
        if self._outcomes:
            with contextlib.suppress(Exception):
                await self._record_all(self._take_outcomes())
        if self._leases:
            with contextlib.suppress(Exception):
                await self._hand_back(self._leases)
        self._leases = {}
        self._held = 0

    async def _hand_back(self, leases: dict[int, datetime]) -> None:
        """Rows whose send was cut short, due again at once as if never claimed (unless their
        lease ran out and another process took them meanwhile)."""
        async with self.sessionmaker() as session:
            for delivery_id, lease in leases.items():
                await session.execute(
                    update(Delivery).where(Delivery.id == delivery_id, Delivery.state == IN_FLIGHT,
                                           Delivery.next_try_at == lease)
                    .values(state=PENDING, next_try_at=utcnow(), attempts=Delivery.attempts - 1))
            await session.commit()

    async def _fill(self) -> int:
        """Claim due rows for the free slots and start their POSTs; returns how many started."""
        started = 0
        if self._held and self.concurrency - self._held < self.claim_at_least:
            return 0
        while self._held < self.concurrency:
            claimed = await self._claim(self.concurrency - self._held)
            if not claimed:
                break
            for delivery, body, signer in claimed:
                self._held += 1
                task = asyncio.create_task(self._deliver(delivery, body, signer))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
            started += len(claimed)
        return started

    async def _claim(self, free: int) -> list[tuple[Delivery, bytes, Signer]]:
        now = utcnow()
        lease = now + self.lease
        async with self.sessionmaker() as session:
            # Nothing due (an idle poll): no lock taken, none waited for.
            due = (Delivery.state.in_((PENDING, IN_FLIGHT)), Delivery.next_try_at <= now)
            if await session.scalar(select(Delivery.id).where(*due).limit(1)) is None:
                return []
            # The count below and the claim hold for every process: no other claim runs between.
            if self._dialect == "postgresql":
                await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
            elif self._dialect == "sqlite":
                # SQLite reads outside a write transaction see each commit as it lands: a count
                # read before another claim's commit and rows read after it let both fill the
                # same host. A write that changes nothing takes the write lock up front.
                await session.execute(update(Delivery).where(false()).values(state=Delivery.state))
            # Sends in progress per host, whichever process holds them (expired leases are not).
            busy = dict((await session.execute(
                select(Delivery.host, func.count()).where(Delivery.state == IN_FLIGHT, Delivery.next_try_at > now)
                .group_by(Delivery.host))).all())
            full = [host for host, count in busy.items() if count >= self.per_host]
            paused = select(HostHealth.host).where(HostHealth.paused_until > now)
            # Due: pending rows whose time has come, and rows whose lease ran out in flight.
            query = (select(Delivery.id, Delivery.host)
                     .where(*due, Delivery.host.not_in(paused))
                     .order_by(Delivery.next_try_at, Delivery.id)
                     # Enough rows for the free slots even if the first hosts have little room
                     # left; a host that fills up is left out of the next query.
                     .limit(min(CLAIM_ROWS, 2 * free + self.per_host)))
            if full:
                query = query.where(Delivery.host.not_in(full))
            rows = (await session.execute(query)).all()
            room: dict[str, int] = {}
            chosen = []
            for row_id, host in rows:
                left = room.setdefault(host, self.per_host - busy.get(host, 0))
                if left > 0:
                    room[host] = left - 1
                    chosen.append(row_id)
                    if len(chosen) == free:
                        break
            if not chosen:
                await session.commit()
                return []
            # Take back exactly the rows this statement changed.
            claimed = list(await session.scalars(
                update(Delivery).where(Delivery.id.in_(chosen), Delivery.state.in_((PENDING, IN_FLIGHT)),
                                       Delivery.next_try_at <= now)
                .values(state=IN_FLIGHT, attempts=Delivery.attempts + 1, next_try_at=lease)
                .returning(Delivery),
                execution_options={"synchronize_session": False},
            ))
            await session.commit()
            await self._load_bodies(session, {d.outgoing_id for d in claimed})
            result = []
            for delivery in claimed:
                self._leases[delivery.id] = lease
                body, actor_id = self._bodies[delivery.outgoing_id]
                result.append((delivery, body, await self._signer(session, actor_id)))
            return result

    async def _load_bodies(self, session, outgoing_ids: set[int]) -> None:
        missing = outgoing_ids - self._bodies.keys()
        if not missing:
            return
        rows = await session.execute(
            select(OutgoingActivity.id, OutgoingActivity.payload, OutgoingActivity.actor_id)
            .where(OutgoingActivity.id.in_(missing))
        )
        for outgoing_id, payload, actor_id in rows:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
            self._bodies[outgoing_id] = (body, actor_id)
        while len(self._bodies) > max(PAYLOAD_CACHE, len(outgoing_ids)):
            oldest = next(iter(self._bodies))
            if oldest in outgoing_ids:
                break
            del self._bodies[oldest]

    async def _signer(self, session, actor_id: int) -> Signer:
        if actor_id not in self._signers:
            actor = await session.get(LocalActor, actor_id)
            self._signers[actor_id] = Signer(ActorUrls(self.base_url, actor.username).key_id,
                                             actor.private_key_pem)
        return self._signers[actor_id]

    async def _deliver(self, delivery: Delivery, body: bytes, signer: Signer) -> None:
        status, retry_after, error = None, None, None
        try:
            async with asyncio.timeout(self.send_timeout):
                result = await self.client.post_activity(delivery.inbox_url, body, signer)
            status, retry_after = result.status, result.retry_after
            if status >= 300:
                error = f"HTTP {status}: {result.body_excerpt[:200]}"
        except BlockedAddress as blocked:
            status, error = 403, str(blocked)  # final: we will not send there
        except (aiohttp.ClientError, TimeoutError, OSError) as failure:
            error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
        except asyncio.CancelledError:
            raise  # stopping: the row is handed back (_shutdown)
        except Exception as failure:  # whatever a server made the HTTP stack do: retry later
            log.warning("delivery %d to %s: unexpected %r", delivery.id, delivery.inbox_url, failure)
            error = f"{type(failure).__name__}: {failure}"
        self._outcomes.append((delivery, status, retry_after, _clean_error(error), self._leases.pop(delivery.id)))
        self._outcome_ready.set()

    # ---- recording --------------------------------------------------------------------------
    def _take_outcomes(self) -> list[tuple]:
        outcomes, self._outcomes = self._outcomes[:RECORD_BATCH], self._outcomes[RECORD_BATCH:]
        if not self._outcomes:
            self._outcome_ready.clear()
        return outcomes

    async def _record_loop(self) -> None:
        """Writes the outcomes that completed since the last write, in one transaction."""
        while True:
            await self._outcome_ready.wait()
            await asyncio.sleep(RECORD_WINDOW)
            outcomes = self._take_outcomes()
            await self._record_all(outcomes)
            self._held -= len(outcomes)
            self.wake.set()  # slots are free: claim more

    async def _record_all(self, outcomes: list[tuple]) -> None:
        try:
            await self._record(outcomes)
            return
        except Exception:
            if len(outcomes) == 1:
                log.exception("recording the outcome of delivery %d failed; it stays in flight "
                              "until its lease ends", outcomes[0][0].id)
                return
            log.exception("recording %d delivery outcomes failed; trying them one by one", len(outcomes))
        for outcome in outcomes:
            await self._record_all([outcome])

    async def _record(self, outcomes: list[tuple]) -> None:
        """Write outcomes in one transaction; successes in one statement."""
        now = utcnow()
        # (status, lease) -> delivery ids. Each row is written only while its lease is ours: a
        # row whose lease ran out may already be another process's.
        sent: dict[tuple[int, datetime], list[int]] = defaultdict(list)
        host_alive: dict[str, bool] = {}
        host_error: dict[str, str | None] = {}
        failed = Counter()  # outcome -> deliveries, for /metrics (federation/observed.py)
        async with self.sessionmaker() as session:
            for delivery, status, retry_after, error, lease in outcomes:
                ok = status is not None and 200 <= status < 300
                # A 4xx answer still proves the host is up; one success in a batch is enough.
                alive = ok or is_final_failure(status)
                host_alive[delivery.host] = host_alive.get(delivery.host, False) or alive
                if not alive:
                    host_error.setdefault(delivery.host, error)
                if ok:
                    sent[status, lease].append(delivery.id)
                    continue
                values: dict = {"last_status": status, "last_error": error}
                if is_final_failure(status) or now - delivery.created_at > self.give_up_after:
                    values.update(state=GAVE_UP, finished_at=now)
                    failed["gave_up"] += 1
                    log.warning("delivery %d to %s abandoned: %s", delivery.id, delivery.inbox_url, error)
                else:
                    delay = parse_retry_after(retry_after, now) or backoff(delivery.attempts)
                    values.update(state=PENDING, next_try_at=now + delay)
                    failed["retry"] += 1
                    log.info("delivery %d to %s failed (%s), next try in %s", delivery.id,
                             delivery.inbox_url, error, delay)
                await session.execute(update(Delivery).where(Delivery.id == delivery.id, *_held_under(lease))
                                      .values(**values))
            for (status, lease), ids in sent.items():
                await session.execute(
                    update(Delivery).where(Delivery.id.in_(ids), *_held_under(lease))
                    .values(state=SENT, finished_at=now, last_status=status, last_error=None))
            for host, alive in host_alive.items():
                # Under a steady flow each batch proves most hosts alive again: their row is
                # written at most every HEALTHY_RECHECK, not once per batch.
                if alive and now - self._healthy_since.get(host, now - HEALTHY_RECHECK) < HEALTHY_RECHECK:
                    continue
                await self._record_host(session, host, alive, host_error.get(host), now)
            await session.commit()
        observed.deliveries(sent=sum(map(len, sent.values())), **failed)
        for host, alive in host_alive.items():
            if not alive:
                self._healthy_since.pop(host, None)
            elif host not in self._healthy_since or now - self._healthy_since[host] >= HEALTHY_RECHECK:
                self._healthy_since[host] = now
        if len(self._healthy_since) > 10_000:
            self._healthy_since.clear()

    async def _record_host(self, session, host: str, alive: bool, error, now) -> None:
        health = await session.get(HostHealth, host)
        if health is None:
            health = HostHealth(host=host, consecutive_failures=0)
            session.add(health)
        # An admin's stop holds whatever a send that was already under way says.
        stopped = health.paused_until is not None and health.paused_until >= STOPPED_UNTIL
        if alive:
            health.consecutive_failures = 0
            if not stopped:
                health.paused_until = None
            health.last_success_at = now
        else:
            health.consecutive_failures += 1
            health.last_failure_at = now
            health.last_error = error
            pause = host_pause(health.consecutive_failures)
            if pause and not stopped:
                health.paused_until = now + pause
                log.warning("host %s failed %d times in a row: paused for %s", host,
                            health.consecutive_failures, pause)


def _held_under(lease: datetime) -> tuple:
    return Delivery.state == IN_FLIGHT, Delivery.next_try_at == lease


def _clean_error(error: str | None) -> str | None:
    """What a server said, as text both databases store: no NUL or other control characters."""
    if error is None:
        return None
    cleaned = "".join(c if c.isprintable() else " " for c in error[:MAX_ERROR_CHARS])
    return cleaned.encode("utf-8", "replace").decode("utf-8")
