"""What the inbox worker remembers while it handles a batch (archipel/read_cache.py): rows read
once per batch must never hide what the batch itself, or anyone between two batches, changed."""

from __future__ import annotations

from sqlalchemy import select

from archipel.accounts import find_actor
from archipel.storage.tables import Follow, Notification, StoredObject
from tests.flows.test_inbox_fairness import follow, quiet_island, reply, send_all, states, worker_of  # noqa: F401


async def test_a_reply_to_a_reply_stored_earlier_in_the_same_batch_is_kept(quiet_island, remote):
    """The first reply is not there when the batch starts: an absent row is never remembered."""
    island = quiet_island
    article = await island.publish("alice", "Une fiche")
    first = reply(remote, "rosa", 1, article)
    second = reply(remote, "rosa", 2, first["object"]["id"])
    # One after the other: sent at once, the second was once accepted first on a loaded machine,
    # handled first, and ignored (a reply to nothing known).
    await send_all(remote, f"{island.url}/inbox", [first])
    await send_all(remote, f"{island.url}/inbox", [second])

    assert await worker_of(island).run_once() == 2
    rows = await states(island)
    assert [rows[first["id"]].state, rows[second["id"]].state] == ["processed", "processed"]
    async with island.sessions() as session:
        stored = set(await session.scalars(select(StoredObject.uri).where(StoredObject.is_local.is_(False))))
        told = list(await session.scalars(select(Notification.object_uri).where(Notification.kind == "reply")))
    assert stored == {first["object"]["id"], second["object"]["id"]}
    # alice hears of both: the second hangs under her article through the first.
    assert sorted(told) == sorted([first["object"]["id"], second["object"]["id"]])


async def test_a_change_between_two_batches_is_seen_by_the_next(quiet_island, remote):
    """Nothing is remembered beyond its batch: alice asks to approve followers, the next
    batch's Follow waits for her."""
    island = quiet_island
    remote.add_actor("bea")
    alice = f"{island.url}/users/alice"
    worker = worker_of(island)
    await send_all(remote, f"{island.url}/inbox", [follow(remote, "rosa", alice)])
    assert await worker.run_once() == 1
    async with island.sessions() as session:
        (await find_actor(session, "alice")).manually_approves_followers = True
        await session.commit()
    await send_all(remote, f"{island.url}/inbox", [follow(remote, "bea", alice)])
    assert await worker.run_once() == 1
    async with island.sessions() as session:
        follows = dict((await session.execute(select(Follow.follower_uri, Follow.state))).all())
    assert follows == {remote.actor_uri("rosa"): "accepted", remote.actor_uri("bea"): "pending"}
