"""Floods from one actor collapse: many Follows of one account give one follow, one Accept and one
notification; many Likes (or boosts) of one item by one actor give one like and one notification,
down to the database, where two transactions racing on the same pair end with one row."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from archipel import social
from archipel.storage.tables import Delivery, Follow, Interaction, Notification, OutgoingActivity, utcnow
from tests.flows.test_remote_interactions import AS, counts, settled
from tests.nodes import wait_for

BURST = 20


async def _post_all(remote, inbox: str, activities: list[dict]) -> None:
    answers = await asyncio.gather(*(remote.post(inbox, activity) for activity in activities))
    assert [status for status, _ in answers] == [202] * len(activities), answers


async def _notifications(island, kind: str) -> int:
    async with island.sessions() as session:
        return await session.scalar(select(func.count(Notification.id)).where(Notification.kind == kind)) or 0


async def _deliveries_done(island) -> None:
    async def done():
        return all(d.state not in ("pending", "in_flight") for d in await island.deliveries())

    await wait_for(done, message="every delivery made")


def _follow(remote, island, n: int) -> dict:
    return {"@context": AS, "id": f"{remote.url}/follows/{n}", "type": "Follow",
            "actor": remote.actor_uri("rosa"), "object": island.actor_uri("alice")}


@pytest.mark.parametrize("inbox_delay", [0.0, 1.0])  # the first Accept delivered at once, or still on its way
async def test_a_burst_of_follows_is_one_follow_one_accept_one_notification(island, remote, inbox_delay):
    remote.inbox_delay = inbox_delay
    follows = [_follow(remote, island, n) for n in range(BURST)]
    await _post_all(remote, f"{island.url}/users/alice/inbox", follows)
    rows = [await settled(island, follow["id"]) for follow in follows]
    assert sorted({row.state for row in rows}) <= ["ignored", "processed"]
    await _deliveries_done(island)
    remote.inbox_delay = 0

    async with island.sessions() as session:
        relations = list(await session.scalars(select(Follow)))
    assert [(f.follower_uri, f.followed_uri, f.state) for f in relations] == [
        (remote.actor_uri("rosa"), island.actor_uri("alice"), "accepted")]
    assert len(remote.received_of_type("Accept")) == 1
    assert await _notifications(island, "follow") == 1

    # Later, rosa's server asks again (it lost the Accept, or its account re-follows after
    # lifting a block): it is answered again, still one row, no new notice.
    async with island.sessions() as session:
        await session.execute(update(OutgoingActivity).values(created_at=utcnow() - timedelta(minutes=2)))
        await session.execute(update(Notification).values(read_at=utcnow()))  # alice has seen it
        await session.commit()
    again = _follow(remote, island, BURST + 1)
    await _post_all(remote, f"{island.url}/users/alice/inbox", [again])
    assert (await settled(island, again["id"])).state == "processed"
    await wait_for(lambda: len(remote.received_of_type("Accept")) == 2, message="the second Accept")
    answered = remote.received_of_type("Accept")[1]["object"]
    assert (answered if isinstance(answered, str) else answered["id"]) == again["id"]
    async with island.sessions() as session:
        assert await session.scalar(select(func.count(Follow.id))) == 1
    assert await _notifications(island, "follow") == 1


async def test_a_burst_of_follows_of_a_manually_approved_account_is_one_request(island, remote):
    async with island.sessions() as session:
        from archipel.accounts import find_actor

        (await find_actor(session, "alice")).manually_approves_followers = True
        await session.commit()
    follows = [_follow(remote, island, n) for n in range(BURST)]
    await _post_all(remote, f"{island.url}/users/alice/inbox", follows)
    for follow in follows:
        await settled(island, follow["id"])
    async with island.sessions() as session:
        assert [f.state for f in await session.scalars(select(Follow))] == ["pending"]
    assert await _notifications(island, "follow") == 1
    assert remote.received_of_type("Accept") == []


async def test_bursts_of_likes_and_boosts_are_one_of_each(island, remote):
    article = await island.publish("alice", "Réparer son vélo", "Un atelier.")
    rosa = remote.actor_uri("rosa")
    likes = [{"@context": AS, "id": f"{rosa}#likes/{n}", "type": "Like", "actor": rosa, "object": article}
             for n in range(BURST)]
    boosts = [{"@context": AS, "id": f"{rosa}/statuses/{n}/activity", "type": "Announce", "actor": rosa,
               "object": article, "to": ["https://www.w3.org/ns/activitystreams#Public"]}
              for n in range(BURST)]
    await _post_all(remote, f"{island.url}/inbox", likes + boosts)
    rows = [await settled(island, activity["id"]) for activity in likes + boosts]
    assert sorted({row.state for row in rows}) <= ["ignored", "processed"]
    assert await counts(island, article) == {"Like": 1, "Announce": 1, "replies": 0}
    assert await _notifications(island, "like") == 1 and await _notifications(island, "boost") == 1


async def test_two_transactions_racing_on_one_like_or_one_follow_end_with_one_row(island, remote):
    """What the inbox worker's transactions do when two of them meet the same pair at once: the
    second waits for the first (a unique key) and finds its row, instead of failing."""
    article = await island.publish("alice", "Réparer son vélo", "Un atelier.")
    rosa, alice = remote.actor_uri("rosa"), island.actor_uri("alice")

    async def race(first, second):
        async with island.sessions() as a, island.sessions() as b:
            first_result = await first(a)
            later = asyncio.create_task(second(b))
            await asyncio.sleep(0.3)  # b is now waiting on a's uncommitted row
            await a.commit()
            second_result = await later
            await b.commit()
        return first_result, second_result

    def like(n):
        return lambda session: social.record_interaction(session, kind="Like", activity_uri=f"{rosa}#likes/{n}",
                                                         actor_uri=rosa, object_uri=article)

    assert await race(like(1), like(2)) == (True, False)

    def follow(n, state):
        return lambda session: social.upsert_follow(session, follower_uri=rosa, followed_uri=alice,
                                                    activity_uri=f"{remote.url}/follows/{n}", state=state)

    (_, before_first), (relation, before_second) = await race(follow(1, "accepted"), follow(2, "accepted"))
    assert before_first is None and before_second == "accepted" and relation.state == "accepted"
    async with island.sessions() as session:
        assert await session.scalar(select(func.count(Interaction.id))) == 1
        assert await session.scalar(select(func.count(Follow.id))) == 1
        assert await session.scalar(select(func.count(Delivery.id))) == 0
