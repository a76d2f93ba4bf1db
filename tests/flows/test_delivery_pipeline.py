"""No remote can stall deliveries: a hanging host among fast ones, per-host limits, hostile answers.

The worker runs as in `archipel serve` (its continuous `run_forever` pipeline) against real
loopback servers; assertions are on arrivals and row states, never on timings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from archipel.storage.tables import Delivery, utcnow
from tests.flows.test_delivery import follower, worker
from tests.nodes import wait_for
from tests.remote import RemoteServer


class Gauge:
    """Requests held at once, now and at most."""

    def __init__(self):
        self.active = 0
        self.peak = 0

    def enter(self) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)

    def leave(self) -> None:
        self.active -= 1


class HoldingServer(RemoteServer):
    """A remote whose inbox takes requests and answers none until `release` is set; it counts
    the requests it holds at once (and in a gauge shared with other servers, if given)."""

    def __init__(self, host: str = "127.0.0.1", shared: Gauge | None = None):
        super().__init__(host)
        self.release = asyncio.Event()
        self.arrived: list[str] = []  # paths, as requests come in
        self.gauges = [Gauge()] + ([shared] if shared else [])

    @property
    def active(self) -> int:
        return self.gauges[0].active

    @property
    def peak(self) -> int:
        return self.gauges[0].peak

    async def _post(self, request):
        self.arrived.append(request.path)
        for gauge in self.gauges:
            gauge.enter()
        try:
            await self.release.wait()
            return await super()._post(request)
        finally:
            for gauge in self.gauges:
                gauge.leave()


@contextlib.asynccontextmanager
async def servers(*made: RemoteServer):
    for server in made:
        await server.start()
    try:
        yield made
    finally:
        for server in made:
            if isinstance(server, HoldingServer):
                server.release.set()
            await server.stop()


@contextlib.asynccontextmanager
async def running(delivery_worker):
    task = asyncio.create_task(delivery_worker.run_forever())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def host_of(server: RemoteServer) -> str:
    return server.url.split("//")[1]


async def states_by_host(node) -> dict[str, Counter]:
    result: dict[str, Counter] = {}
    for delivery in await node.deliveries():
        result.setdefault(delivery.host, Counter())[delivery.state] += 1
    return result


async def test_fast_hosts_are_served_and_recorded_while_one_host_hangs(make_island):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    fast = [RemoteServer() for _ in range(4)]
    slow = HoldingServer()
    async with servers(*fast, slow):
        for n, server in enumerate(fast):
            server.verify_signatures = False
            await follower(node, server, f"f{n}")
        for n in range(10):  # personal inboxes: ten deliveries to the slow host
            await follower(node, slow, f"s{n}", shared_inbox=False)
        async with running(worker(node, per_host=3)):
            await node.publish("alice", "Une")
            await wait_for(lambda: all(len(s.received) == 1 for s in fast) and slow.active == 3,
                           timeout=20, message="the fast hosts and three held requests")
            states = await wait_for(lambda: _when_fast_sent(node, fast), timeout=20,
                                    message="the fast hosts' rows recorded as sent")
            # The slow host holds three requests; its seven others were never claimed.
            assert states[host_of(slow)] == Counter(in_flight=3, pending=7)

            # A new fiche is not held back by the hanging host either (no round to wait for).
            await node.publish("alice", "Deux")
            await wait_for(lambda: all(len(s.received) == 2 for s in fast), timeout=20,
                           message="the second fiche at the fast hosts")
            await wait_for(lambda: _when_fast_sent(node, fast), timeout=20,
                           message="the second fiche's rows recorded")
            assert slow.active == 3 and len(slow.arrived) == 3

            slow.release.set()
            await wait_for(lambda: _all_sent(node), timeout=30, message="every delivery sent")
        assert slow.peak == 3  # never more than the per-host limit at once
        assert Counter(slow.arrived) == Counter({f"/users/s{n}/inbox": 2 for n in range(10)})
        assert all(len(s.received) == 2 for s in fast)


async def _when_fast_sent(node, fast) -> dict[str, Counter] | None:
    states = await states_by_host(node)
    if all(set(states[host_of(s)]) == {"sent"} for s in fast):
        return states
    return None


async def _all_sent(node) -> bool:
    return {d.state for d in await node.deliveries()} == {"sent"}


@pytest.mark.parametrize("per_host, concurrency, followers", [(1, 32, 5), (4, 32, 12), (6, 5, 20)])
async def test_the_per_host_and_global_limits_hold(make_island, per_host, concurrency, followers):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    together = Gauge()
    hosts = [HoldingServer(shared=together) for _ in range(2)]
    async with servers(*hosts):
        for n, server in enumerate(hosts):
            server.verify_signatures = False
            for m in range(followers):
                await follower(node, server, f"u{n}x{m}", shared_inbox=False)
        async with running(worker(node, per_host=per_host, concurrency=concurrency)):
            await node.publish("alice", "Fiche")
            await wait_for(lambda: sum(h.active for h in hosts) >= min(concurrency, 2 * per_host),
                           timeout=20, message="the limits to be reached")
            states = await states_by_host(node)
            assert sum(s["in_flight"] for s in states.values()) == min(concurrency, 2 * per_host)
            for server in hosts:
                assert states[host_of(server)]["in_flight"] <= per_host
            # Released, the queue drains through the same limits.
            for server in hosts:
                server.release.set()
            await wait_for(lambda: _all_sent(node), timeout=30, message="every delivery sent")
        for server in hosts:
            assert server.peak <= per_host
            assert len(server.arrived) == followers
        assert together.peak == min(concurrency, 2 * per_host)


async def test_a_worker_cancelled_as_it_is_woken_stops(make_island):
    """Cancelled just as new work wakes it (the moment a fiche is published, or the last outcome
    is recorded), the pipeline ends instead of polling on."""
    node = await make_island("brest", workers=False)
    delivery_worker = worker(node, poll_interval=60)
    task = asyncio.create_task(delivery_worker.run_forever())
    await asyncio.sleep(0.2)  # nothing due: asleep until woken
    delivery_worker.wake.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled()


async def test_each_outcome_is_recorded_as_it_completes(make_island):
    """A failed and a successful delivery are written while another one is still held."""
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    ok, failing, slow = RemoteServer(), RemoteServer(), HoldingServer()
    async with servers(ok, failing, slow):
        for n, server in enumerate((ok, failing, slow)):
            server.verify_signatures = False
            await follower(node, server, f"a{n}")
        failing.inbox_status, failing.inbox_headers = 503, {"Retry-After": "99999999999999999999"}
        async with running(worker(node)):
            await node.publish("alice", "Fiche")
            states = await wait_for(lambda: _settled(node, ok, failing), timeout=20,
                                    message="the two quick outcomes recorded")
            assert states[host_of(slow)] == Counter(in_flight=1)
            async with node.sessions() as session:
                retried = await session.scalar(select(Delivery).where(Delivery.host == host_of(failing)))
            assert retried.last_status == 503
            assert retried.next_try_at <= utcnow() + timedelta(hours=6, minutes=1)


async def _settled(node, ok, failing):
    states = await states_by_host(node)
    if states[host_of(ok)] == Counter(sent=1) and states[host_of(failing)] == Counter(pending=1):
        return states
    return None
