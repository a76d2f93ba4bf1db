"""Manual approval: follows wait as requests until accepted or rejected."""

from archipel import accounts
from archipel.social import find_follow, follower_uris
from federation import actions
from tests.nodes import wait_for
from web import provision


async def follow_from(remote, island, name):
    uri = remote.add_actor(name)
    status, _ = await remote.post(f"{island.url}/users/carol/inbox", {
        "@context": "https://www.w3.org/ns/activitystreams", "id": f"{uri}#follows/1", "type": "Follow",
        "actor": uri, "object": island.actor_uri("carol")}, name=name)
    assert status == 202
    return uri


async def test_follow_requests_wait_and_are_accepted_or_rejected(island, remote):
    await provision.add_user(island.sessions, username="carol", password="x" * 10,
                             manually_approves_followers=True)
    rosa = await follow_from(remote, island, "rosa")
    max_ = await follow_from(remote, island, "max")

    async def both_pending():
        async with island.sessions() as session:
            follows = [await find_follow(session, uri, island.actor_uri("carol")) for uri in (rosa, max_)]
            return all(f is not None and f.state == "pending" for f in follows)

    await wait_for(both_pending, message="pending requests")
    assert remote.received_of_type("Accept") == []
    async with island.sessions() as session:
        carol = await accounts.get_actor(session, "carol")
        assert [f.follower_uri for f in await actions.pending_requests(session, island.url, carol)] == [rosa, max_]
        assert await follower_uris(session, island.actor_uri("carol")) == []
        rosa_actor = await island.directory_service.cached(rosa)
        max_actor = await island.directory_service.cached(max_)
        await actions.decide_follow_request(session, island.url, carol, rosa_actor, accept=True)
        await actions.decide_follow_request(session, island.url, carol, max_actor, accept=False)
        await session.commit()
    island.wake()

    [accept] = await wait_for(lambda: remote.received_of_type("Accept"), message="Accept")
    [reject] = await wait_for(lambda: remote.received_of_type("Reject"), message="Reject")
    assert accept["object"]["id"] == f"{rosa}#follows/1" and accept["actor"] == island.actor_uri("carol")
    assert reject["object"]["id"] == f"{max_}#follows/1"
    async with island.sessions() as session:
        assert await follower_uris(session, island.actor_uri("carol")) == [rosa]
    async with remote.session.get(island.actor_uri("carol"), headers={"Accept": "application/activity+json"}) as r:
        assert (await r.json(content_type=None))["manuallyApprovesFollowers"] is True
