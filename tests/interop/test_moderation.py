"""Moderation of the federation with the independent Fedify peer (``bob``), which runs on its own
loopback address (127.0.0.3) so that a domain block names it and nothing else.

A domain block stops both directions at once; a Flag sent by the peer lands in the moderation
queue; a report made on the island reaches the peer as a Flag whose signature Fedify verifies.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from archipel.storage.tables import Follow, Report
from tests.flows.test_blocks import add_moderator, rule
from tests.nodes import Node, wait_for
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like, hidden_csrf

from .peer import FedifyPeer

pytestmark = pytest.mark.interop

TIMEOUT = 15.0
AS = "https://www.w3.org/ns/activitystreams"


@pytest.fixture
async def peer(fedify_peer_factory) -> FedifyPeer:
    return await fedify_peer_factory(host="127.0.0.3")


def handle(island: Node, username: str) -> str:
    return f"{username}@{island.url.removeprefix('http://')}"


async def peer_follows_alice(island: Node, peer: FedifyPeer) -> None:
    result = await peer.follow(handle(island, "alice"))
    await peer.wait_for(lambda r: r["type"] == "Accept" and r["object"] == result["id"], timeout=TIMEOUT)


async def test_a_domain_block_of_the_peer_stops_both_directions_at_once(island: Node, peer: FedifyPeer) -> None:
    alice = island.actor_uri("alice")
    await peer_follows_alice(island, peer)
    article = await island.publish("alice", "Avant le blocage")
    await peer.wait_for(lambda r: r["type"] == "Create" and r["object"] == article, timeout=TIMEOUT)
    first = await peer.reply(article, alice, "<p>Première réponse</p>")
    await wait_for(lambda: island.object(first["id"]), timeout=TIMEOUT, message="the first reply stored")

    block = await rule(island, "domain", "127.0.0.3", reason="Serveur de test bloqué")

    # Their reply is removed from our pages; their follow is gone.
    assert (await island.object(first["id"])).deleted_at is not None
    async with island.sessions() as session:
        assert list(await session.scalars(select(Follow))) == []

    # Incoming: the peer's next reply is answered 202 (no hint), and nothing is stored.
    second = await peer.reply(article, alice, "<p>Réponse après le blocage</p>")
    posts = [r for r in second["requests"] if r["method"] == "POST"]
    assert posts and {r["status"] for r in posts} == {202}, posts
    assert await island.object(second["id"]) is None
    assert not [r for r in await island.incoming() if r.received_at > block.created_at]

    # Outgoing: our next Create does not reach the peer (no delivery is even queued).
    await peer.clear_received()
    later = await island.publish("alice", "Après le blocage")
    assert not [d for d in await island.deliveries() if d.host.startswith("127.0.0.3")
                and d.created_at > block.created_at]
    assert [r for r in await peer.received() if r["object"] == later] == []


async def test_a_flag_from_the_peer_lands_in_the_queue(island: Node, peer: FedifyPeer) -> None:
    await add_moderator(island, "gwen")
    alice = island.actor_uri("alice")
    article = await island.publish("alice", "Un article signalé")
    island_actor = island.actor_uri(island.island_username)
    sent = await peer.send(island_actor, {
        "@context": AS, "type": "Flag", "object": [alice, article], "content": "Contenu trompeur"})
    assert [r["status"] for r in sent["requests"] if r["method"] == "POST"][-1] == 202

    async def report():
        async with island.sessions() as session:
            return await session.scalar(select(Report))

    found = await wait_for(report, timeout=TIMEOUT, message="the peer's Flag in the queue")
    assert found.direction == "received" and found.reporter_uri == peer.actor_id
    assert found.target_actor_uri == alice and found.object_uris == [article]
    assert found.content == "Contenu trompeur"
    async with browser_like() as http:
        await log_in(http, island, "gwen")
        async with http.get(f"{island.url}/espace/moderation/signalements") as response:
            page = await response.text()
    assert "Contenu trompeur" in page and "Un article signalé" in page


async def test_a_report_from_the_island_reaches_the_peer_as_a_flag(island: Node, peer: FedifyPeer) -> None:
    await add_moderator(island, "gwen")
    alice = island.actor_uri("alice")
    await peer_follows_alice(island, peer)
    article = await island.publish("alice", "Un article")
    reply = await peer.reply(article, alice, "<p>Une réponse déplacée</p>")
    await wait_for(lambda: island.object(reply["id"]), timeout=TIMEOUT, message="the reply stored")

    async with browser_like() as http:
        await log_in(http, island, "gwen")
        async with http.get(f"{island.url}/espace/moderation/signaler", params={"uri": reply["id"]}) as response:
            token = hidden_csrf(await response.text())
        async with http.post(f"{island.url}/espace/moderation/signaler", allow_redirects=False,
                             data={"csrf_token": token, "target": reply["id"],
                                   "comment": "Réponse déplacée"}) as response:
            assert response.status == 303

    flag = await peer.wait_for(lambda r: r["type"] == "Flag", timeout=TIMEOUT)
    assert flag["verified"] is True, flag["reason"]
    assert flag["actor"] == island.actor_uri(island.island_username)
    assert flag["inbox"] == "/inbox", "sent to the peer's shared inbox"
    assert flag["raw"]["object"] == [peer.actor_id, reply["id"]]
    assert flag["raw"]["content"] == "Réponse déplacée"
    state = await peer.state()
    assert state["errors"] == [], state["errors"]
