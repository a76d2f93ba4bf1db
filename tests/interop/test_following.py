"""Following from the fediverse, checked with an independent Fedify peer (``bob``): bob follows
an island, an author and a theme actor, and receives the fiches of each; the theme actor of one
island shares a fiche published on another island."""

from __future__ import annotations

import pytest

from archipel import accounts
from tests.flows.test_fiches import publish_file
from tests.flows.test_theme_actors import backfilled
from tests.nodes import island_follows, wait_for

from .peer import FedifyPeer

pytestmark = pytest.mark.interop

TIMEOUT = 20.0


def handle(node, username: str) -> str:
    return f"{username}@{node.url.removeprefix('http://')}"


async def follow(peer: FedifyPeer, target: str, actor_id: str) -> None:
    result = await peer.follow(target)
    assert result["actor"] == actor_id
    await peer.wait_for(lambda r: r["type"] == "Accept" and r["object"] == result["id"], timeout=TIMEOUT)


async def test_the_peer_follows_an_island_an_author_and_a_theme_and_receives_their_fiches(
        make_island, fedify_peer: FedifyPeer) -> None:
    peer = fedify_peer
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await island_follows(nantes, brest)
    await backfilled(nantes)
    await publish_file(brest, "papi-brest.md", "alice")  # its themes now exist on both islands

    async def nantes_theme():
        async with nantes.sessions() as session:
            return await accounts.theme_actor(session, "inclusion")

    await wait_for(nantes_theme, message="the theme Inclusion on nantes")

    island_id = brest.actor_uri(brest.island_username)
    theme_id = nantes.actor_uri("inclusion")
    await follow(peer, handle(brest, brest.island_username), island_id)
    await follow(peer, handle(brest, "alice"), brest.actor_uri("alice"))
    # Any spelling of the theme finds its actor (WebFinger answers with the canonical handle).
    await follow(peer, handle(nantes, "Inclusion"), theme_id)
    state = await peer.state()
    assert set(state["following"]) == {island_id, brest.actor_uri("alice"), theme_id}

    uri = await publish_file(brest, "papi-brest.md", "alice")
    create = await peer.wait_for(lambda r: r["type"] == "Create" and r["object"] == uri, timeout=TIMEOUT)
    from_island = await peer.wait_for(
        lambda r: r["type"] == "Announce" and r["actor"] == island_id and r["object"] == uri, timeout=TIMEOUT)
    from_theme = await peer.wait_for(
        lambda r: r["type"] == "Announce" and r["actor"] == theme_id and r["object"] == uri, timeout=TIMEOUT)
    assert create["actor"] == brest.actor_uri("alice")
    for record in (create, from_island, from_theme):
        assert record["verified"] is True
    # Nantes's theme actor shares brest's fiche: the id stays brest's, the Announce is nantes's.
    assert from_theme["raw"]["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert from_theme["raw"]["cc"] == [f"{theme_id}/followers"]

    # Fedify reads our profiles: Group for the theme and the island, pictures and pins.
    for actor_id, kind in ((theme_id, "Group"), (island_id, "Group"), (brest.actor_uri("alice"), "Person")):
        looked_up = await peer.lookup(actor_id)
        assert looked_up["ok"] and looked_up["isActor"] and looked_up["type"] == kind, looked_up
        parsed = looked_up["object"]
        assert parsed["icon"]["url"].endswith("/avatar.png") and parsed["image"]["url"].endswith("/header.png")
        featured = await peer.lookup(looked_up["raw"]["featured"])
        assert featured["ok"] and featured["type"] == "OrderedCollection", featured
    featured = await peer.lookup(f"{theme_id}/collections/featured")
    assert uri in featured["raw"]["orderedItems"]

    # The fiche leaves the theme on brest: nantes's theme actor takes its share back.
    await brest.update(uri, tags=["Médiation numérique"])
    undo = await peer.wait_for(lambda r: r["type"] == "Undo" and r["actor"] == theme_id, timeout=TIMEOUT)
    assert undo["verified"] is True and undo["raw"]["object"]["id"] == from_theme["id"]
    state = await peer.state()
    assert state["errors"] == [], state["errors"]
    unverified = [r for r in await peer.received() if not r["verified"]]
    assert unverified == []
