"""The delivery worker: sends queued activities, retries, gives up, never loses one.

states: pending -> in_flight -> sent | pending (retry later) | gave_up
A row is marked in_flight (and committed) before it is sent. When the node starts, rows left
in_flight by a crash go back to pending: only what was in flight at the crash is sent twice,
and receivers recognise the repeated activity id.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from datetime import timedelta

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from archipel.storage.tables import Delivery, HostHealth, LocalActor, OutgoingActivity, utcnow
from federation.client import FederationClient, Signer
from federation.documents import ActorUrls
from federation.netguard import BlockedAddress
from federation.retry import backoff, host_pause, is_final_failure, parse_retry_after
from federation.workers import run_forever

log = logging.getLogger(__name__)

BATCH = 500
PER_HOST_IN_BATCH = 64


class DeliveryWorker:
    def __init__(self, sessionmaker: async_sessionmaker, client: FederationClient, *, base_url: str,
                 concurrency: int = 32, give_up_after: timedelta = timedelta(hours=48),
                 poll_interval: float = 0.5):
        self.sessionmaker = sessionmaker
        self.client = client
        self.base_url = base_url
        self.semaphore = asyncio.Semaphore(concurrency)
        self.give_up_after = give_up_after
        self.poll_interval = poll_interval
        self.wake = asyncio.Event()
        self._signers: dict[int, Signer] = {}

    async def recover(self) -> int:
        """Put back deliveries that a crash left in flight."""
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(Delivery).where(Delivery.state == "in_flight").values(state="pending")
            )
            await session.commit()
        if result.rowcount:
            log.info("%d deliveries were in flight at the last stop: sending them again", result.rowcount)
        return result.rowcount

    async def run_forever(self) -> None:
        await run_forever(self.run_once, self.wake, self.poll_interval, "delivery")

    async def run_once(self) -> int:
        """Claim the due deliveries, send them concurrently; returns how many were attempted."""
        claimed = await self._claim()
        if not claimed:
            return 0
        payloads = await self._payloads({d.outgoing_id for d in claimed})
        outcomes = await asyncio.gather(*(self._deliver(d, *payloads[d.outgoing_id]) for d in claimed))
        await self._record(outcomes)
        return len(claimed)

    async def _claim(self) -> list[Delivery]:
        now = utcnow()
        async with self.sessionmaker() as session:
            paused = select(HostHealth.host).where(HostHealth.paused_until > now)
            rows = list(await session.scalars(
                select(Delivery)
                .where(Delivery.state == "pending", Delivery.next_try_at <= now,
                       Delivery.host.not_in(paused))
                .order_by(Delivery.next_try_at, Delivery.id)
                .limit(BATCH)
            ))
            per_host: dict[str, int] = defaultdict(int)
            claimed = []
            for row in rows:
                per_host[row.host] += 1
                if per_host[row.host] <= PER_HOST_IN_BATCH:
                    claimed.append(row)
            if claimed:
                # Claim only rows still pending: another worker may share the database.
                ids = [row.id for row in claimed]
                await session.execute(
                    update(Delivery).where(Delivery.id.in_(ids), Delivery.state == "pending")
                    .values(state="in_flight", attempts=Delivery.attempts + 1)
                )
                await session.commit()
                claimed = list(await session.scalars(
                    select(Delivery).where(Delivery.id.in_(ids), Delivery.state == "in_flight")
                ))
            return claimed

    async def _payloads(self, outgoing_ids: set[int]) -> dict[int, tuple[bytes, Signer]]:
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(OutgoingActivity.id, OutgoingActivity.payload, OutgoingActivity.actor_id)
                .where(OutgoingActivity.id.in_(outgoing_ids))
            )
            result = {}
            for outgoing_id, payload, actor_id in rows:
                body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
                result[outgoing_id] = (body, await self._signer(session, actor_id))
            return result

    async def _signer(self, session, actor_id: int) -> Signer:
        if actor_id not in self._signers:
            actor = await session.get(LocalActor, actor_id)
            self._signers[actor_id] = Signer(ActorUrls(self.base_url, actor.username).key_id,
                                             actor.private_key_pem)
        return self._signers[actor_id]

    async def _deliver(self, delivery: Delivery, body: bytes, signer: Signer) -> tuple:
        status, retry_after, error = None, None, None
        async with self.semaphore:
            try:
                result = await self.client.post_activity(delivery.inbox_url, body, signer)
                status, retry_after = result.status, result.retry_after
                if status >= 300:
                    error = f"HTTP {status}: {result.body_excerpt[:200]}"
            except BlockedAddress as blocked:
                status, error = 403, str(blocked)  # final: we will not send there
            except (aiohttp.ClientError, TimeoutError, OSError) as failure:
                error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
        return delivery, status, retry_after, error

    async def _record(self, outcomes: list[tuple]) -> None:
        """Write the outcome of a round in one transaction; successes in one statement."""
        now = utcnow()
        sent: dict[int, list[int]] = defaultdict(list)  # status -> delivery ids
        host_alive: dict[str, bool] = {}
        host_error: dict[str, str | None] = {}
        async with self.sessionmaker() as session:
            for delivery, status, retry_after, error in outcomes:
                ok = status is not None and 200 <= status < 300
                # A 4xx answer still proves the host is up; one success in a round is enough.
                alive = ok or is_final_failure(status)
                host_alive[delivery.host] = host_alive.get(delivery.host, False) or alive
                if not alive:
                    host_error.setdefault(delivery.host, error)
                if ok:
                    sent[status].append(delivery.id)
                    continue
                values: dict = {"last_status": status, "last_error": error}
                if is_final_failure(status) or now - delivery.created_at > self.give_up_after:
                    values.update(state="gave_up", finished_at=now)
                    log.warning("delivery %d to %s abandoned: %s", delivery.id, delivery.inbox_url, error)
                else:
                    delay = parse_retry_after(retry_after, now) or backoff(delivery.attempts)
                    values.update(state="pending", next_try_at=now + delay)
                    log.info("delivery %d to %s failed (%s), next try in %s", delivery.id,
                             delivery.inbox_url, error, delay)
                await session.execute(update(Delivery).where(Delivery.id == delivery.id).values(**values))
            for status, ids in sent.items():
                for start in range(0, len(ids), 500):
                    await session.execute(
                        update(Delivery).where(Delivery.id.in_(ids[start:start + 500]))
                        .values(state="sent", finished_at=now, last_status=status, last_error=None))
            for host, alive in host_alive.items():
                await self._record_host(session, host, alive, host_error.get(host), now)
            await session.commit()

    async def _record_host(self, session, host: str, alive: bool, error, now) -> None:
        health = await session.get(HostHealth, host)
        if health is None:
            health = HostHealth(host=host, consecutive_failures=0)
            session.add(health)
        if alive:
            health.consecutive_failures = 0
            health.paused_until = None
            health.last_success_at = now
        else:
            health.consecutive_failures += 1
            health.last_failure_at = now
            health.last_error = error
            pause = host_pause(health.consecutive_failures)
            if pause:
                health.paused_until = now + pause
                log.warning("host %s failed %d times in a row: paused for %s", host,
                            health.consecutive_failures, pause)
