"""The delivery worker against real loopback receivers, stepped with run_once()."""

from datetime import timedelta

from sqlalchemy import select, update

from archipel.storage.tables import Delivery, HostHealth, utcnow
from federation.delivery import DeliveryWorker
from tests.remote import RemoteServer
from web import appkeys


def worker(node, **options) -> DeliveryWorker:
    return DeliveryWorker(node.sessions, node.app[appkeys.CLIENT], base_url=node.url, **options)


async def follower(node, remote, name, shared_inbox=True):
    """Register a remote follower of alice directly (the Follow flow is tested elsewhere)."""
    from archipel.social import record_follow

    uri = remote.add_actor(name, shared_inbox=shared_inbox)
    await node.directory_service.get(uri)
    async with node.sessions() as session:
        await record_follow(session, follower_uri=uri, followed_uri=node.actor_uri("alice"),
                            activity_uri=f"{uri}#follow", state="accepted")
        await session.commit()
    return uri


async def only_delivery(node) -> Delivery:
    [delivery] = await node.deliveries()
    return delivery


async def test_shared_inboxes_get_one_post_per_server_and_personal_inboxes_one_each(make_island, remote):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    for name in ("a", "b", "c"):
        await follower(node, remote, name)
    for name in ("d", "e"):
        await follower(node, remote, name, shared_inbox=False)
    await node.publish("alice", "Fiche")
    assert sorted(d.inbox_url for d in await node.deliveries()) == sorted(
        [f"{remote.url}/inbox", f"{remote.url}/users/d/inbox", f"{remote.url}/users/e/inbox"])
    assert await worker(node).run_once() == 3
    assert {d.state for d in await node.deliveries()} == {"sent"}
    assert len(remote.received) == 3 and all(r["verified"] for r in remote.received)


async def test_server_errors_are_retried_later_honouring_retry_after(make_island, remote):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    await follower(node, remote, "rosa")
    await node.publish("alice", "Fiche")
    remote.inbox_status = 503
    await worker(node).run_once()
    delivery = await only_delivery(node)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 503)
    assert delivery.next_try_at > utcnow() + timedelta(seconds=15)  # backoff

    remote.inbox_status, remote.inbox_headers = 429, {"Retry-After": "3600"}
    async with node.sessions() as session:
        await session.execute(update(Delivery).values(next_try_at=utcnow()))
        await session.commit()
    await worker(node).run_once()
    delivery = await only_delivery(node)
    assert delivery.last_status == 429
    assert utcnow() + timedelta(minutes=59) < delivery.next_try_at < utcnow() + timedelta(minutes=61)
    assert await worker(node).run_once() == 0  # not due yet

    remote.inbox_status, remote.inbox_headers = 202, {}
    async with node.sessions() as session:
        await session.execute(update(Delivery).values(next_try_at=utcnow()))
        await session.commit()
    await worker(node).run_once()
    delivery = await only_delivery(node)
    assert (delivery.state, delivery.attempts) == ("sent", 3)
    assert len(remote.received) == 3  # the same activity each time, signed anew when sent


async def test_client_errors_are_final_except_401_408_429(make_island, remote):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    await follower(node, remote, "rosa")
    remote.inbox_status = 401
    await node.publish("alice", "Une")
    await worker(node).run_once()
    assert (await only_delivery(node)).state == "pending"
    async with node.sessions() as session:
        await session.execute(update(Delivery).values(state="sent"))
        await session.commit()

    remote.inbox_status = 404
    await node.publish("alice", "Deux")
    await worker(node).run_once()
    deliveries = await node.deliveries()
    assert deliveries[-1].state == "gave_up" and deliveries[-1].last_status == 404


async def test_deliveries_are_abandoned_after_the_give_up_time(make_island, remote):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    await follower(node, remote, "rosa")
    await node.publish("alice", "Fiche")
    remote.inbox_status = 500
    async with node.sessions() as session:
        await session.execute(update(Delivery).values(created_at=utcnow() - timedelta(hours=49)))
        await session.commit()
    await worker(node, give_up_after=timedelta(hours=48)).run_once()
    assert (await only_delivery(node)).state == "gave_up"


async def test_a_failing_host_is_paused_without_blocking_others(make_island, remote):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    await follower(node, remote, "rosa")
    down = RemoteServer("127.0.0.2")
    down.add_actor("zoe")
    await down.start()
    try:
        await follower(node, down, "zoe")
        down.inbox_status = 500
        step = worker(node)
        for n in range(5):
            await node.publish("alice", f"Fiche {n}")
            async with node.sessions() as session:
                await session.execute(update(Delivery).where(Delivery.state == "pending")
                                      .values(next_try_at=utcnow()))
                await session.commit()
            await step.run_once()
        async with node.sessions() as session:
            health = await session.get(HostHealth, down.url.split("//")[1])
            assert health.consecutive_failures >= 5 and health.paused_until > utcnow()
            await session.execute(update(Delivery).where(Delivery.state == "pending").values(next_try_at=utcnow()))
            await session.commit()
        await node.publish("alice", "Après la pause")
        await step.run_once()
        async with node.sessions() as session:
            to_down = list(await session.scalars(select(Delivery).where(Delivery.host == down.url.split("//")[1])))
        assert all(d.state == "pending" for d in to_down)
        assert max(d.attempts for d in to_down) <= 5  # paused: not tried again
        assert len(remote.received_of_type("Create")) == 6  # the healthy host got everything
    finally:
        await down.stop()


async def test_a_host_that_refuses_draft_cavage_gets_rfc9421_and_it_is_remembered(make_island, remote):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    await follower(node, remote, "rosa")
    remote.accepted_schemes = {"rfc9421"}
    step = worker(node)
    await node.publish("alice", "Une")
    await step.run_once()
    assert [r["scheme"] for r in remote.refused] == ["cavage"]
    assert [(r["scheme"], r["verified"]) for r in remote.received] == [("rfc9421", True)]
    await node.publish("alice", "Deux")
    await step.run_once()
    assert len(remote.refused) == 1  # the second delivery went straight with RFC 9421
    assert [r["scheme"] for r in remote.received] == ["rfc9421", "rfc9421"]
    assert {d.state for d in await node.deliveries()} == {"sent"}
