"""Which servers an island federates with: block and allow lists; follow-back of islands."""

import pytest

from archipel.social import find_follow
from federation.domains import DomainPolicy
from tests.nodes import island_follows, wait_for


def test_domain_policy():
    policy = DomainPolicy.from_settings(["Example.org", "127.0.0.2:8000"], [])
    assert not policy.allows("example.org") and not policy.allows("social.example.org:443")
    assert not policy.allows("127.0.0.2:8000") and policy.allows("127.0.0.2:8001")
    assert policy.allows("example.com") and policy.allows("notexample.org")
    closed = DomainPolicy.from_settings(["bad.example.net"], ["example.net"])
    assert closed.allows("ile.example.net") and not closed.allows("bad.example.net")
    assert not closed.allows("other.org")


async def test_a_blocked_server_is_neither_heard_nor_contacted(make_island, remote):
    host = remote.url.split("//")[1]
    island = await make_island("brest", blocked_domains=(host,))
    await island.add_user("alice")
    status, body = await remote.post(f"{island.url}/users/alice/inbox", {
        "@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.url}/follows/1",
        "type": "Follow", "actor": remote.actor_uri("rosa"), "object": island.actor_uri("alice")})
    assert status == 202  # no hint
    assert remote.fetches == [] and await island.incoming() == []
    with pytest.raises(Exception, match="federates with"):
        await island.follow("alice", remote.actor_uri("rosa"))


async def test_an_allow_list_closes_the_island_to_everyone_else(make_island, remote):
    island = await make_island("brest", allowed_domains=("127.0.0.99",))
    await island.add_user("alice")
    status, _ = await remote.post(f"{island.url}/inbox", {
        "@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.url}/likes/1", "type": "Like",
        "actor": remote.actor_uri("rosa"), "object": f"{island.url}/o/x"})
    assert status == 202 and await island.incoming() == []


async def test_follow_back(make_island):
    brest = await make_island("brest", follow_back=True)
    nantes = await make_island("nantes")
    await island_follows(nantes, brest)

    async def followed_back():
        async with nantes.sessions() as session:
            follow = await find_follow(session, brest.actor_uri(brest.island_username),
                                       nantes.actor_uri(nantes.island_username))
            return follow is not None and follow.state == "accepted"

    await wait_for(followed_back, message="brest follows nantes back")
