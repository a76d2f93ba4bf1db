"""Several workers share one queue (archipel/jobs.py): the way processes of one island do on
PostgreSQL. Each worker here has an engine of its own, as a process would; on SQLite the same
code runs (a claim holds the only write lock), which is what a single process relies on.

- the per-host delivery limit holds across workers, even when a claim lands between another's
  count of the sends in flight and its choice of rows;
- rows leased by a live worker are left alone, rows of a dead worker come back when the lease ends;
- a worker that stops cleanly hands back the sends it cut short;
- two mail workers never send a message twice;
- finished rows are purged after their retention, failed ones later, in bounded batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from archipel import jobs, mail
from archipel.mail import MailWorker, SmtpConfig
from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage.tables import Delivery, IncomingActivity, OutgoingMail, utcnow
from federation.delivery import DeliveryWorker
from tests.archipel.test_mail import smtp  # noqa: F401  (fixture)
from tests.flows.test_delivery import follower
from tests.flows.test_delivery_pipeline import HoldingServer, servers
from tests.nodes import wait_for
from tests.remote import RemoteServer
from web import appkeys


@contextlib.asynccontextmanager
async def own_engine(node):
    """A connection pool of its own, as another process of the island would have."""
    engine = make_engine(node.settings.effective_database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def delivering(node, sessions, **options):
    worker = DeliveryWorker(sessions, node.app[appkeys.CLIENT], base_url=node.url, **options)
    task = asyncio.create_task(worker.run_forever())
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def states(node) -> Counter:
    return Counter(d.state for d in await node.deliveries())


async def test_the_per_host_limit_holds_across_workers(make_island):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    slow = HoldingServer()
    async with servers(slow):
        slow.verify_signatures = False
        for n in range(10):
            await follower(node, slow, f"s{n}", shared_inbox=False)
        async with own_engine(node) as first, own_engine(node) as second:
            async with delivering(node, first, per_host=3), delivering(node, second, per_host=3):
                await node.publish("alice", "Fiche")
                await wait_for(lambda: slow.active == 3, timeout=60, message="three held requests")
                await asyncio.sleep(0.5)  # both workers claim again meanwhile (poll_interval 0.5)
                assert slow.active == 3 and (await states(node))["in_flight"] == 3
                slow.release.set()
                await wait_for(lambda: _all(node, "sent"), timeout=30, message="every delivery sent")
    assert slow.peak == 3
    assert Counter(slow.arrived) == Counter({f"/users/s{n}/inbox": 1 for n in range(10)})


async def test_no_claim_lands_between_a_claims_count_and_its_rows(make_island):
    """Another process claims for the same host right after this worker counted the sends in
    flight: either it waits for this claim to end, or the per-host limit would be passed. (On
    SQLite that other process's write is refused at once: this claim holds the write lock.)"""
    node = await make_island("brest", workers=False)
    if not node.settings.effective_database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL serialises claims with an advisory lock: "
                    "test_the_per_host_limit_holds_across_workers covers it")
    await node.add_user("alice")
    slow = HoldingServer()
    other = create_engine(make_url(node.settings.effective_database_url).set(drivername="sqlite"),
                          connect_args={"timeout": 0})
    other_claims = []

    def another_process_claims(_conn, _cursor, statement, *_args):
        if other_claims or "count(*)" not in statement:
            return
        try:
            with other.begin() as connection:
                ids = select(Delivery.id).where(Delivery.state == "pending").order_by(Delivery.id).limit(3)
                connection.execute(update(Delivery).where(Delivery.id.in_(ids))
                                   .values(state="in_flight", next_try_at=utcnow() + timedelta(minutes=5)))
            other_claims.append("claimed")
        except OperationalError:  # "database is locked"
            other_claims.append("waited")

    async with servers(slow):
        slow.verify_signatures = False
        for n in range(10):
            await follower(node, slow, f"s{n}", shared_inbox=False)
        await node.publish("alice", "Fiche")
        async with own_engine(node) as sessions:
            event.listen(sessions.kw["bind"].sync_engine, "after_cursor_execute", another_process_claims)
            async with delivering(node, sessions, per_host=3):
                await wait_for(lambda: slow.active == 3, timeout=20, message="three held requests")
                await asyncio.sleep(0.5)  # claims again meanwhile (poll_interval 0.5)
                assert (await states(node))["in_flight"] == 3
    other.dispose()
    assert other_claims == ["waited"]
    assert slow.peak == 3


async def test_a_live_lease_is_left_alone_and_an_expired_one_taken_again(make_island):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    remote = RemoteServer()
    async with servers(remote):
        remote.verify_signatures = False
        for n in range(4):
            await follower(node, remote, f"f{n}", shared_inbox=False)
        await node.publish("alice", "Fiche")
        # Another process holds every row, its lease running: nobody else sends them.
        async with node.sessions() as session:
            await session.execute(update(Delivery).values(state="in_flight", attempts=1,
                                                          next_try_at=utcnow() + timedelta(minutes=5)))
            await session.commit()
        async with own_engine(node) as sessions, delivering(node, sessions):
            await asyncio.sleep(1.5)
            assert remote.received == [] and await states(node) == Counter(in_flight=4)
            # That process died: its leases run out, and the rows are sent once each.
            async with node.sessions() as session:
                await session.execute(update(Delivery).values(next_try_at=utcnow() - timedelta(seconds=1)))
                await session.commit()
            await wait_for(lambda: _all(node, "sent"), timeout=20, message="the expired rows sent")
    assert Counter(r["path"] for r in remote.received) == Counter({f"/users/f{n}/inbox": 1 for n in range(4)})
    assert {d.attempts for d in await node.deliveries()} == {2}


async def test_a_clean_stop_hands_back_the_sends_it_cut_short(make_island):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    slow = HoldingServer()
    async with servers(slow):
        slow.verify_signatures = False
        for n in range(3):
            await follower(node, slow, f"s{n}", shared_inbox=False)
        async with own_engine(node) as sessions:
            async with delivering(node, sessions):
                await node.publish("alice", "Fiche")
                await wait_for(lambda: slow.active == 3, timeout=60, message="three held requests")
            # Stopped: due again at once, as if never claimed (no lease to wait for).
            rows = await node.deliveries()
            assert {(d.state, d.attempts) for d in rows} == {("pending", 0)}
            assert all(d.next_try_at <= utcnow() for d in rows)


async def test_two_mail_workers_never_send_a_message_twice(make_island, smtp):  # noqa: F811
    controller, inbox = smtp
    inbox.delay = 0.1  # sends take a while: each worker claims again while the other still sends
    node = await make_island("mail", workers=False)
    async with node.sessions() as session:
        for n in range(30):
            await mail.queue(session, to=f"p{n}@example.org", subject=f"Message {n}", body="Bonjour.")
        await session.commit()
    config = SmtpConfig(host="127.0.0.1", port=controller.port, sender="ile@ile.example")
    async with own_engine(node) as first, own_engine(node) as second:
        workers = [MailWorker(first, config), MailWorker(second, config)]
        while sum(await asyncio.gather(*(worker.run_once() for worker in workers))):
            pass
    recipients = Counter(to for _sender, tos, _message in inbox.messages for to in tos)
    assert recipients == Counter({f"p{n}@example.org": 1 for n in range(30)})
    async with node.sessions() as session:
        assert set(await session.scalars(select(OutgoingMail.state))) == {"sent"}


async def test_finished_rows_are_purged_after_their_retention_failed_ones_later(make_island):
    node = await make_island("brest", workers=False)
    now = utcnow()
    ages = {"processed": [1, 8, 9], "ignored": [10], "failed": [8, 40], "received": [50]}
    async with node.sessions() as session:
        for state, days in ages.items():
            for age in days:
                session.add(IncomingActivity(
                    activity_uri=f"https://ailleurs.example/a/{state}{age}", activity_type="Like",
                    actor_uri="https://ailleurs.example/u/rosa", signer_uri="https://ailleurs.example/u/rosa",
                    body_trusted=True, payload={}, state=state, received_at=now - timedelta(days=age),
                    processed_at=None if state == "received" else now - timedelta(days=age)))
        await session.commit()
    purger = jobs.Purger(node.sessions, jobs.Retention.from_days(7, 30), batch=1)
    deleted = 0
    rounds = []
    while count := await purger.run_once():  # one row per statement: bounded batches
        assert count <= len(jobs.QUEUES) * 2
        deleted += count
        rounds.append(count)
    assert deleted == 4
    # Three finished rows past their week (one statement for processed and ignored, a row at a
    # time) and one failed row past its month.
    assert rounds == [2, 1, 1]
    async with node.sessions() as session:
        left = Counter((row.state, (now - row.received_at).days)
                       for row in await session.scalars(select(IncomingActivity)))
    assert left == Counter({("processed", 1): 1, ("failed", 8): 1, ("received", 50): 1})


async def test_sent_deliveries_and_mail_are_purged_too(make_island):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    remote = RemoteServer()
    async with servers(remote):
        await follower(node, remote, "rosa")
        await node.publish("alice", "Fiche")
    old = utcnow() - timedelta(days=8)
    async with node.sessions() as session:
        await session.execute(update(Delivery).values(state="sent", finished_at=old))
        queued = await mail.queue(session, to="zoe@example.org", subject="Objet", body="Texte")
        queued.state, queued.created_at = "sent", old
        await session.commit()
    assert await jobs.Purger(node.sessions, jobs.Retention.from_days(7, 30)).run_once() == 2
    async with node.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert await session.scalar(select(func.count()).select_from(OutgoingMail)) == 0


async def _all(node, state: str) -> bool:
    return set(await states(node)) == {state}
