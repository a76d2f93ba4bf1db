"""The inbox worker under load: fair across senders, many activities per transaction, each
activity handled once, nothing lost or half applied when one fails or the worker dies.

Activities arrive through the real inbox (signed POSTs from loopback servers); the island runs
without background workers and the tests step an InboxWorker themselves, round by round.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from archipel.storage.tables import IncomingActivity, Interaction, Notification, OutgoingActivity, utcnow
from federation import fair_queue, processing
from federation.handlers import HANDLERS, Ignored
from federation.processing import InboxWorker
from federation.vocabulary import PUBLIC
from tests.remote import RemoteServer

AS = "https://www.w3.org/ns/activitystreams"


def like(remote: RemoteServer, name: str, number: int, target: str) -> dict:
    return {"@context": AS, "id": f"{remote.url}/likes/{name}/{number}", "type": "Like",
            "actor": remote.actor_uri(name), "object": target}


def follow(remote: RemoteServer, name: str, target: str) -> dict:
    return {"@context": AS, "id": f"{remote.url}/follows/{name}", "type": "Follow",
            "actor": remote.actor_uri(name), "object": target}


def reply(remote: RemoteServer, name: str, number: int, target: str, *, actor: str | None = None) -> dict:
    author = remote.actor_uri(name)
    note = {"id": f"{remote.url}/notes/{name}/{number}", "type": "Note", "attributedTo": author,
            "inReplyTo": target, "content": "<p>Merci pour cette fiche.</p>", "to": [PUBLIC],
            "published": "2026-12-01T10:00:00Z"}
    return {"@context": AS, "id": f"{note['id']}/activity", "type": "Create",
            "actor": actor or author, "object": note, "to": [PUBLIC]}


async def send_all(remote: RemoteServer, inbox: str, activities: list[dict], *, name: str | None = None) -> None:
    for start in range(0, len(activities), 50):
        answers = await asyncio.gather(*(
            remote.post(inbox, activity, name=name or activity["actor"].rsplit("/", 1)[-1])
            for activity in activities[start:start + 50]))
        assert {status for status, _ in answers} == {202}, answers


async def states(island) -> dict[str, IncomingActivity]:
    # Keyed by the activity's own id: a copy signed by someone other than its actor is stored
    # under a derived key (federation.inbox.provenance_key), not under its id.
    return {row.payload.get("id") or row.activity_uri: row for row in await island.incoming()}


async def count(island, model, *conditions) -> int:
    async with island.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*conditions))


@pytest.fixture
async def quiet_island(make_island):
    """An island whose inbox stores but does not process: the tests step the worker."""
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    return node


@pytest.fixture
async def other_servers():
    servers: list[RemoteServer] = []

    async def make(*names: str) -> RemoteServer:
        server = RemoteServer()
        for name in names:
            server.add_actor(name)
        servers.append(await server.start())
        return server

    yield make
    for server in servers:
        await server.stop()


def worker_of(island) -> InboxWorker:
    return InboxWorker(island.sessions, island.directory_service, base_url=island.url)


# ---- fairness -------------------------------------------------------------------------------------

async def test_a_flood_of_likes_from_one_actor_does_not_hold_back_another_servers_reply(
        quiet_island, remote, other_servers):
    island = quiet_island
    article = await island.publish("alice", "Une fiche")
    flood = [like(remote, "rosa", n, article) for n in range(3 * processing.ROUND)]
    await send_all(remote, f"{island.url}/inbox", flood)
    other = await other_servers("zoe")
    answer = reply(other, "zoe", 1, article)
    await send_all(other, f"{island.url}/users/alice/inbox", [answer])

    worker = worker_of(island)
    assert await worker.run_once() > 0
    rows = await states(island)
    assert rows[answer["id"]].state == "processed", rows[answer["id"]].last_error
    assert await island.object(answer["object"]["id"]) is not None
    settled = sum(rows[activity["id"]].state != "received" for activity in flood)
    assert 0 < settled < len(flood), "the first round took the flood's share, not all of it"

    while await worker.run_once():
        pass
    rows = await states(island)
    # One actor's likes of one item collapse into one like; the rest are settled as ignored.
    assert Counter(rows[activity["id"]].state for activity in flood) == {"processed": 1, "ignored": len(flood) - 1}
    assert await count(island, Interaction) == 1


async def test_a_server_flooding_with_many_actors_gets_one_share_of_a_round(quiet_island, remote, other_servers):
    island = quiet_island
    article = await island.publish("alice", "Une fiche")
    names = [f"a{n}" for n in range(30)]
    for name in names:
        remote.add_actor(name)
    flood = [like(remote, name, n, article) for name in names for n in range(10)]
    await send_all(remote, f"{island.url}/inbox", flood)
    other = await other_servers("zoe")
    answer = reply(other, "zoe", 1, article)
    await send_all(other, f"{island.url}/inbox", [answer])

    await worker_of(island).run_once()
    rows = await states(island)
    assert rows[answer["id"]].state == "processed", rows[answer["id"]].last_error
    assert sum(rows[activity["id"]].state != "received" for activity in flood) < len(flood)


async def test_servers_take_turns_when_more_have_work_than_a_round_visits(
        quiet_island, remote, other_servers, monkeypatch):
    """Three servers, a round visits two: the one that sorts last (and replied last, behind two
    floods) gets its turn in the second round."""
    island = quiet_island
    article = await island.publish("alice", "Une fiche")
    servers = sorted([remote, await other_servers("rosa"), await other_servers("rosa")],
                     key=lambda server: server.url)
    for server in servers[:2]:
        await send_all(server, f"{island.url}/inbox",
                       [like(server, "rosa", n, article) for n in range(2 * processing.ROUND)])
    answer = reply(servers[2], "rosa", 1, article)
    await send_all(servers[2], f"{island.url}/inbox", [answer])

    monkeypatch.setattr(fair_queue, "MAX_HOSTS", 2)
    worker = worker_of(island)
    hosts_per_round = []
    for _ in range(2):
        before = {uri: row.state for uri, row in (await states(island)).items()}
        await worker.run_once()
        after = await states(island)
        hosts_per_round.append({row.actor_host for uri, row in after.items() if row.state != before[uri]})
    hosts = [server.url.split("//")[1] for server in servers]
    assert hosts_per_round[0] == set(hosts[:2]), hosts_per_round
    assert hosts[2] in hosts_per_round[1], "the third server waited more than two rounds"
    assert (await states(island))[answer["id"]].state == "processed"


async def test_the_worker_stores_each_senders_host(quiet_island, remote):
    article = await quiet_island.publish("alice", "Une fiche")
    await send_all(remote, f"{quiet_island.url}/inbox", [like(remote, "rosa", 1, article)])
    [row] = await quiet_island.incoming()
    assert row.actor_host == remote.url.split("//")[1]


# ---- batches --------------------------------------------------------------------------------------

def failing_on(bad_ids: set[str], failure) -> callable:
    """The real Like handler, then `failure(ctx)` for the activities in bad_ids: a failure in
    the middle of a batch, after the handler has written."""
    real = HANDLERS[("Like", None)]

    async def handler(ctx):
        await real(ctx)
        if ctx.incoming.activity_uri in bad_ids:
            await ctx.session.flush()
            await failure(ctx)
    return handler


async def _raise_bug(ctx):
    raise RuntimeError("a bug in the middle of a handler")


async def _raise_ignored(ctx):
    raise Ignored("changed its mind after writing")


async def _database_refuses(ctx):
    # The database itself refuses a write (a duplicate of a like already stored): on PostgreSQL
    # this aborts the whole transaction unless the activity had its own savepoint.
    first = await ctx.session.scalar(select(Interaction).order_by(Interaction.id).limit(1))
    ctx.session.add(Interaction(activity_uri=first.activity_uri, type="Like", actor_uri=first.actor_uri,
                                object_uri=first.object_uri))
    await ctx.session.flush()


@pytest.mark.parametrize("failure, state", [(_raise_bug, "failed"), (_raise_ignored, "ignored"),
                                            (_database_refuses, "failed")])
async def test_one_activity_failing_in_a_batch_rolls_back_only_itself(quiet_island, remote, monkeypatch,
                                                                      failure, state):
    island = quiet_island
    article = await island.publish("alice", "Une fiche")
    names = [f"a{n}" for n in range(10)]
    for name in names:
        remote.add_actor(name)
    likes = [like(remote, name, 1, article) for name in names]
    await send_all(remote, f"{island.url}/inbox", likes)
    bad = likes[5]["id"]
    monkeypatch.setitem(HANDLERS, ("Like", None), failing_on({bad}, failure))

    assert await worker_of(island).run_once() == len(likes)
    rows = await states(island)
    assert rows[bad].state == state and rows[bad].last_error
    assert [rows[activity["id"]].state for activity in likes if activity["id"] != bad] == ["processed"] * 9
    async with island.sessions() as session:
        stored = set(await session.scalars(select(Interaction.activity_uri)))
    assert stored == {activity["id"] for activity in likes} - {bad}, "the failed like was partly applied"
    assert await count(island, Notification) == 9, "the failed like's notification was kept"


async def test_a_follow_undone_and_made_again_in_one_batch_is_one_notice(quiet_island, remote):
    """Notices are written together at the end of a batch: a new follower's notice is still
    written only when the same one is not unread, the batch's own included."""
    island = quiet_island
    alice = island.actor_uri("alice")
    first, again = (dict(follow(remote, "rosa", alice), id=f"{remote.url}/follows/rosa/{n}") for n in (1, 2))
    undo = {"@context": AS, "id": f"{remote.url}/undo/1", "type": "Undo", "actor": remote.actor_uri("rosa"),
            "object": {key: value for key, value in first.items() if key != "@context"}}
    for activity in (first, undo, again):  # one after the other: stored in this order
        await send_all(remote, f"{island.url}/inbox", [activity])
    assert await worker_of(island).run_once() == 3
    rows = await states(island)
    assert [rows[activity["id"]].state for activity in (first, undo, again)] == ["processed"] * 3
    assert await count(island, Notification, Notification.kind == "follow") == 1


async def test_a_batch_hands_what_needs_the_network_to_a_transaction_of_its_own(
        quiet_island, remote, other_servers):
    """A reply forwarded by someone else (its object fetched from its origin) among likes: the
    likes are handled in the batch, the reply alone; a fetch that fails waits for its retry."""
    island = quiet_island
    article = await island.publish("alice", "Une fiche")
    origin = await other_servers("zoe")
    forwarded = reply(origin, "zoe", 1, article)
    missing = reply(origin, "zoe", 2, article)
    for n in range(5):
        remote.add_actor(f"a{n}")
    likes = [like(remote, f"a{n}", 1, article) for n in range(5)]
    await send_all(remote, f"{island.url}/inbox", likes[:3])
    # Signed by rosa for zoe: not trusted, so the worker must fetch each note from zoe's server.
    await send_all(remote, f"{island.url}/inbox", [forwarded, missing], name="rosa")
    await send_all(remote, f"{island.url}/inbox", likes[3:])
    origin.serve(forwarded["object"]["id"], {"@context": AS, **forwarded["object"]})

    worker = worker_of(island)
    await worker.run_once()
    rows = await states(island)
    assert [rows[activity["id"]].state for activity in likes] == ["processed"] * 5
    assert rows[forwarded["id"]].state == "processed", rows[forwarded["id"]].last_error
    assert await island.object(forwarded["object"]["id"]) is not None
    waiting = rows[missing["id"]]
    assert (waiting.state, waiting.attempts) == ("received", 1)
    assert timedelta(seconds=20) < waiting.next_try_at - utcnow() <= timedelta(seconds=30)

    assert await worker.run_once() == 0, "a fetch that failed is retried only after its backoff"
    origin.serve(missing["object"]["id"], {"@context": AS, **missing["object"]})
    async with island.sessions() as session:
        await session.execute(update(IncomingActivity).values(next_try_at=utcnow() - timedelta(seconds=1))
                              .where(IncomingActivity.state == "received"))
        await session.commit()
    await worker.run_once()
    retried = (await states(island))[missing["id"]]
    assert (retried.state, retried.attempts) == ("processed", 2)


# ---- exactly once ---------------------------------------------------------------------------------

async def test_concurrent_rounds_handle_each_activity_once(quiet_island, remote):
    island = quiet_island
    article = await island.publish("alice", "Une fiche")
    names = [f"f{n}" for n in range(40)]
    for name in names:
        remote.add_actor(name)
    follows = [follow(remote, name, island.actor_uri("alice")) for name in names]
    likes = [like(remote, name, 1, article) for name in names]
    await send_all(remote, f"{island.url}/inbox", follows + likes)

    first, second = worker_of(island), worker_of(island)
    await asyncio.gather(first.run_once(), first.run_once(), second.run_once())
    while await first.run_once():
        pass
    rows = await states(island)
    assert Counter((row.state, row.attempts) for row in rows.values()) == {("processed", 1): 80}
    assert await count(island, OutgoingActivity, OutgoingActivity.activity_type == "Accept") == 40
    assert await count(island, Notification) == 80, "an activity was handled twice (or not at all)"


class Crash(BaseException):
    """The process dies here (what kill -9 does to a worker, seen from the database)."""


async def test_a_worker_dying_in_the_middle_of_a_batch_loses_nothing_and_applies_nothing_twice(
        quiet_island, remote, monkeypatch):
    island = quiet_island
    article = await island.publish("alice", "Une fiche")
    for n in range(12):
        remote.add_actor(f"a{n}")
    likes = [like(remote, f"a{n}", 1, article) for n in range(12)]
    await send_all(remote, f"{island.url}/inbox", likes)
    real = HANDLERS[("Like", None)]

    async def dying(ctx):
        await real(ctx)
        if ctx.incoming.activity_uri == likes[7]["id"]:
            raise Crash()
    monkeypatch.setitem(HANDLERS, ("Like", None), dying)
    with pytest.raises(Crash):
        await worker_of(island).run_once()
    monkeypatch.setitem(HANDLERS, ("Like", None), real)

    # Each row's state went with its effects: a like is stored exactly when its row is processed
    # (on PostgreSQL other lanes of the round may have committed; the dying one did not).
    rows = await states(island)
    async with island.sessions() as session:
        stored = set(await session.scalars(select(Interaction.activity_uri)))
    assert stored == {uri for uri, row in rows.items() if row.state == "processed"}
    assert rows[likes[7]["id"]].state == "received" and likes[7]["id"] not in stored
    assert await worker_of(island).run_once() == 0, "the dead worker's claim still holds"

    async with island.sessions() as session:  # the claim's lease runs out
        await session.execute(update(IncomingActivity).values(next_try_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    waiting = sum(row.state == "received" for row in rows.values())
    assert await worker_of(island).run_once() == waiting
    assert {row.state for row in (await states(island)).values()} == {"processed"}
    assert await count(island, Interaction) == len(likes)


async def test_a_round_that_runs_long_hands_back_its_claims_and_the_turn_continues(
        quiet_island, remote, other_servers, monkeypatch):
    """A slow round stops after its first transaction: what it did not reach goes back to the
    queue untouched, and the hosts it did not serve come next."""
    island = quiet_island
    article = await island.publish("alice", "Une fiche")
    servers = sorted([remote, await other_servers("rosa"), await other_servers("rosa")],
                     key=lambda server: server.url)
    for server in servers:
        server.add_actor("zoe")
        await send_all(server, f"{island.url}/inbox",
                       [like(server, "rosa", 1, article), like(server, "zoe", 1, article)])
    monkeypatch.setattr(processing, "BATCH", 1)
    monkeypatch.setattr(processing, "ROUND_SECONDS", 0)
    monkeypatch.setattr(processing, "LANES", 1)  # PostgreSQL: one lane, as on SQLite
    worker = worker_of(island)
    served = []
    for _ in range(3):
        assert await worker.run_once() == 1
        rows = await island.incoming()
        served.append({row.actor_host for row in rows if row.state != "received"})
        waiting = [row for row in rows if row.state == "received"]
        assert all((row.attempts, row.next_try_at) == (0, None) for row in waiting), "a claim was kept"
    hosts = [server.url.split("//")[1] for server in servers]
    assert served == [set(hosts[:1]), set(hosts[:2]), set(hosts)]
    while await worker.run_once():
        pass
    assert {(row.state, row.attempts) for row in await island.incoming()} == {("processed", 1)}


async def test_the_store_and_the_worker_of_one_process_share_their_turns(island):
    """A batch holds SQLite's write lock for its transaction: the inbox's store waits its turn
    behind the worker's batch rather than in SQLite's busy handler; on PostgreSQL they write
    side by side."""
    from web import appkeys

    store, worker = island.app[appkeys.INCOMING], island.app[appkeys.INBOX_WORKER]
    assert store.write_turns is not None and store.write_turns is worker.write_turns
    one_writer = island.sessions.kw["bind"].dialect.name == "sqlite"
    assert store.write_turns.one_writer is one_writer
    async with worker.write_turns.worker():
        storing = asyncio.create_task(store.add(
            activity_uri="https://elsewhere.example/likes/1", activity_type="Like",
            actor_uri="https://elsewhere.example/users/rosa", actor_host="elsewhere.example",
            signer_uri="https://elsewhere.example/users/rosa", body_trusted=True,
            payload={"id": "https://elsewhere.example/likes/1", "type": "Like"}))
        await asyncio.sleep(0.2)
        assert storing.done() is not one_writer
    assert await asyncio.wait_for(storing, 10) is True


async def test_the_workers_batches_grow_to_match_what_the_store_wrote(quiet_island, remote, monkeypatch):
    """Under a flood the worker keeps pace with the store: its next transaction holds what the
    store wrote since its last one, and a little more, instead of a fixed 25."""
    from federation.write_turns import WriteTurns

    island = quiet_island
    article = await island.publish("alice", "Une fiche")
    await send_all(remote, f"{island.url}/inbox",
                   [like(remote, "rosa", number, article) for number in range(processing.ROUND)])
    worker = worker_of(island)
    worker.write_turns = WriteTurns(one_writer=worker.one_writer)
    worker.write_turns.stored(60)  # what the store wrote in the turns the worker missed
    batches = []
    process_batch = worker._process_batch

    async def recorded(ids, lease, actors):
        batches.append(len(ids))
        return await process_batch(ids, lease, actors)
    monkeypatch.setattr(worker, "_process_batch", recorded)
    # Sizes, not time: a loaded machine's first batch may outlast the round's half second.
    monkeypatch.setattr(processing, "ROUND_SECONDS", 3600)
    assert await worker.run_once() == processing.ROUND
    assert batches == [processing.BATCH + 60, processing.ROUND - processing.BATCH - 60]
    # One like recorded; the flood's repeats collapse into it.
    assert Counter(row.state for row in await island.incoming()) == {"processed": 1, "ignored": 99}
