"""A real island federating with an independent Fedify peer (``bob``), over http loopback.

The acceptance check of the island node: follows in both directions, an article going out,
replies, likes, updates and deletes coming in, with real signatures verified by Fedify on one
side and by Archipel on the other.  One test per case; each builds what it needs through the
helpers below (a peer starts in about a second).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from archipel import social
from tests.nodes import Node, wait_for

from .peer import FedifyPeer, Record

pytestmark = pytest.mark.interop

TIMEOUT = 15.0
AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass
class Scene:
    """Our island (user ``alice``) and a started Fedify peer (user ``bob``)."""

    island: Node
    peer: FedifyPeer

    @property
    def alice(self) -> str:
        return self.island.actor_uri("alice")

    @property
    def alice_handle(self) -> str:
        return f"alice@{self.island.url.removeprefix('http://')}"

    # -- reading our island's state -----------------------------------------

    async def follow_row(self, follower: str, followed: str):
        async with self.island.sessions() as session:
            return await social.find_follow(session, follower, followed)

    async def followers_of_alice(self) -> list[str]:
        async with self.island.sessions() as session:
            return await social.follower_uris(session, self.alice)

    async def counts(self, uri: str) -> dict[str, int]:
        async with self.island.sessions() as session:
            return await social.interaction_counts(session, uri)

    async def requests_to_island(self, method: str = "POST") -> list[Record]:
        """The peer's outgoing requests to our island (its double knocks included)."""
        return [r for r in await self.peer.sent_requests()
                if r["method"] == method and r["url"].startswith(self.island.url + "/")]

    # -- shared steps ---------------------------------------------------------

    async def peer_follows_alice(self) -> str:
        """bob follows alice by handle and gets her Accept; returns the Follow id."""
        result = await self.peer.follow(self.alice_handle)
        assert result["actor"] == self.alice
        follow_id = result["id"]
        await self.peer.wait_for(
            lambda r: r["type"] == "Accept" and r["object"] == follow_id, timeout=TIMEOUT)
        return follow_id

    async def alice_publishes(self, title: str = "Les PAPI de Brest") -> tuple[str, Record]:
        """alice publishes an article; returns its id and the Create bob received."""
        uri = await self.island.publish(
            "alice", title, "Des **ateliers** chaque semaine, voir [le site](https://example.org).",
            summary="Cent points d'accès publics", tags=["Médiation numérique"])
        create = await self.peer.wait_for(
            lambda r: r["type"] == "Create" and r["object"] == uri, timeout=TIMEOUT)
        return uri, create

    async def assert_peer_healthy(self) -> None:
        state = await self.peer.state()
        assert state["errors"] == [], state["errors"]
        unverified = [r for r in await self.peer.received() if not r["verified"]]
        assert unverified == [], [(r["type"], r["id"], r["reason"]) for r in unverified]


@pytest.fixture
async def scene(island: Node, fedify_peer: FedifyPeer) -> Scene:
    return Scene(island, fedify_peer)


# ---- 1. the peer follows alice by handle --------------------------------------------------

async def test_peer_follows_alice_by_handle(scene: Scene) -> None:
    peer = scene.peer
    follow_id = await scene.peer_follows_alice()

    # The handle was resolved through our WebFinger, over plain http.
    webfingers = [r for r in await peer.sent_requests()
                  if r["method"] == "GET" and "/.well-known/webfinger" in r["url"]]
    assert webfingers and webfingers[0]["url"].startswith(scene.island.url)
    assert webfingers[0]["status"] == 200

    row = await scene.follow_row(peer.actor_id, scene.alice)
    assert row is not None and row.state == "accepted"
    assert row.activity_uri == follow_id
    assert await scene.followers_of_alice() == [peer.actor_id]

    accept = (await peer.received("Accept"))[0]
    assert accept["actor"] == scene.alice
    assert accept["verified"] is True
    assert accept["inbox"] == "/users/bob/inbox"
    state = await peer.state()
    assert state["following"] == [scene.alice]
    await scene.assert_peer_healthy()


# ---- 2. alice's article reaches the peer, verified; Fedify parses our documents -----------

async def test_article_reaches_peer_verified(scene: Scene) -> None:
    peer = scene.peer
    await scene.peer_follows_alice()
    uri, create = await scene.alice_publishes()

    assert create["verified"] is True
    assert create["actor"] == scene.alice
    assert create["inbox"] == "/inbox"  # posts go to the shared inbox
    assert create["objectType"] == "Article"
    article = create["raw"]["object"]
    assert article["id"] == uri
    assert article["type"] == "Article"
    assert article["nameMap"] == {"fr": "Les PAPI de Brest"} and "name" not in article  # see documents.py
    assert article["attributedTo"] == scene.alice
    assert "summary" not in article  # other software takes a summary for a content warning
    assert article["content"].startswith("<p><strong>Les PAPI de Brest</strong></p>")
    assert "Cent points d'accès publics" in article["content"] and "#MediationNumerique" in article["content"]
    assert f'<a href="{uri}">' in article["content"]
    assert article["replies"]["first"]["partOf"] == f"{uri}/replies"
    assert isinstance(article["url"], str) and article["url"].startswith(scene.island.url + "/")
    assert AS_PUBLIC in _as_list(article["to"])
    # Fedify's own reading of the activity agrees.
    assert create["fedify"]["type"] == "Create"

    actor = await peer.lookup(scene.alice)
    assert actor["ok"] is True, actor
    assert actor["type"] == "Person" and actor["isActor"] is True
    assert actor["id"] == scene.alice

    looked_up = await peer.lookup(uri)
    assert looked_up["ok"] is True, looked_up
    assert looked_up["type"] == "Article"
    assert looked_up["id"] == uri
    assert looked_up["raw"]["attributedTo"] == scene.alice
    await scene.assert_peer_healthy()


# ---- 3. the peer replies and likes: stored, counted, accepted at the first knock -----------

async def test_reply_and_like_are_stored_at_first_knock(scene: Scene) -> None:
    peer = scene.peer
    await scene.peer_follows_alice()
    uri, _ = await scene.alice_publishes()

    reply = await peer.reply(uri, scene.alice, "<p>Merci pour la liste !</p>")
    stored = await wait_for(lambda: scene.island.object(reply["id"]), timeout=TIMEOUT,
                            message="the reply stored on the island")
    assert stored.is_local is False
    assert stored.in_reply_to == uri
    assert stored.author_uri == peer.actor_id
    assert "Merci pour la liste" in stored.content

    like = await peer.like(uri)

    async def liked():
        return (await scene.counts(uri))["Like"] == 1

    await wait_for(liked, timeout=TIMEOUT, message="the like counted")
    assert await scene.counts(uri) == {"Like": 1, "Announce": 0, "replies": 1}

    # Fedify knocks with RFC 9421 first; our inbox must take it at once (no fall-back).
    for result in (reply, like):
        posts = [r for r in result["requests"] if r["method"] == "POST"]
        assert [(r["signature"], r["status"]) for r in posts] == [("rfc9421", 202)], posts
    posts = await scene.requests_to_island("POST")
    assert posts and {(r["signature"], r["status"]) for r in posts} == {("rfc9421", 202)}, [
        (r["url"], r["body"]["type"] if isinstance(r["body"], dict) else None,
         r["signature"], r["status"]) for r in posts]
    # Our signed GETs and deliveries were accepted by Fedify too.
    await scene.assert_peer_healthy()


# ---- 4. the peer edits then deletes its reply, and undoes its like -------------------------

async def test_reply_update_delete_and_undo_like(scene: Scene) -> None:
    peer = scene.peer
    await scene.peer_follows_alice()
    uri, _ = await scene.alice_publishes()
    reply = await peer.reply(uri, scene.alice, "<p>Première version</p>")
    await wait_for(lambda: scene.island.object(reply["id"]), timeout=TIMEOUT, message="reply stored")
    like = await peer.like(uri)

    async def like_count(n: int):
        return (await scene.counts(uri))["Like"] == n

    await wait_for(lambda: like_count(1), timeout=TIMEOUT, message="the like counted")

    await peer.update(reply["id"], "<p>Version corrigée</p>")

    async def edited():
        item = await scene.island.object(reply["id"])
        return "Version corrigée" in item.content and item.updated is not None

    await wait_for(edited, timeout=TIMEOUT, message="the reply updated")

    await peer.delete(reply["id"])

    async def deleted():
        return (await scene.island.object(reply["id"])).deleted_at is not None

    await wait_for(deleted, timeout=TIMEOUT, message="the reply deleted")
    assert (await scene.counts(uri))["replies"] == 0

    await peer.undo(like["id"])
    await wait_for(lambda: like_count(0), timeout=TIMEOUT, message="the like undone")
    assert await scene.counts(uri) == {"Like": 0, "Announce": 0, "replies": 0}

    posts = await scene.requests_to_island("POST")
    assert {r["status"] for r in posts} == {202}
    await scene.assert_peer_healthy()


# ---- 5. our node follows the peer and stores its public note ------------------------------

async def test_island_follows_peer_and_stores_its_note(scene: Scene) -> None:
    peer, island = scene.peer, scene.island
    await island.follow("alice", peer.actor_id)

    follow = await peer.wait_for(
        lambda r: r["type"] == "Follow" and r["actor"] == scene.alice, timeout=TIMEOUT)
    assert follow["verified"] is True
    assert follow["object"] == peer.actor_id

    async def peer_has_follower():
        return (await peer.state())["followers"] == [scene.alice]

    await wait_for(peer_has_follower, timeout=TIMEOUT, message="alice among bob's followers")

    async def accepted():
        row = await scene.follow_row(scene.alice, peer.actor_id)
        return row is not None and row.state == "accepted"

    await wait_for(accepted, timeout=TIMEOUT, message="bob's Accept processed")

    posted = await peer.post("<p>Atelier vélo samedi</p>")
    # A post goes to our shared inbox.
    assert posted["inboxes"] == [f"{island.url}/inbox"]
    stored = await wait_for(lambda: island.object(posted["id"]), timeout=TIMEOUT,
                            message="bob's note stored on the island")
    assert stored.is_local is False
    assert stored.type == "Note"
    assert stored.author_uri == peer.actor_id
    assert stored.public is True
    assert "Atelier vélo samedi" in stored.content
    await scene.assert_peer_healthy()


# ---- 6. alice updates then withdraws her article ------------------------------------------

async def test_article_update_and_withdraw_reach_peer(scene: Scene) -> None:
    peer = scene.peer
    await scene.peer_follows_alice()
    uri, create = await scene.alice_publishes()

    await scene.island.update(uri, title="Les 105 PAPI de Brest")
    update = await peer.wait_for(
        lambda r: r["type"] == "Update" and r["object"] == uri, timeout=TIMEOUT)
    assert update["verified"] is True
    assert update["actor"] == scene.alice
    article = update["raw"]["object"]
    assert article["type"] == "Article"
    assert article["nameMap"] == {"fr": "Les 105 PAPI de Brest"}
    assert article["updated"] >= create["raw"]["object"]["published"]

    await scene.island.withdraw(uri)
    delete = await peer.wait_for(
        lambda r: r["type"] == "Delete" and r["object"] == uri, timeout=TIMEOUT)
    assert delete["verified"] is True
    assert delete["actor"] == scene.alice
    assert delete["objectType"] == "Tombstone"

    gone = await peer.lookup(uri)
    assert gone["ok"] is False and "410" in gone["error"], gone
    await scene.assert_peer_healthy()


# ---- 7. the peer unfollows alice ----------------------------------------------------------

async def test_peer_unfollow_removes_follower(scene: Scene) -> None:
    peer = scene.peer
    await scene.peer_follows_alice()
    assert await scene.followers_of_alice() == [peer.actor_id]

    undo = await peer.unfollow(scene.alice)
    assert undo["activity"]["type"] == "Undo"
    assert undo["activity"]["object"]["type"] == "Follow"

    async def gone():
        return await scene.follow_row(peer.actor_id, scene.alice) is None

    await wait_for(gone, timeout=TIMEOUT, message="bob's follow removed")
    assert await scene.followers_of_alice() == []
    assert (await peer.state())["following"] == []

    # A new article no longer goes to bob.
    before = [d.id for d in await scene.island.deliveries() if d.inbox_url.startswith(peer.base_url)]
    await scene.island.publish("alice", "Après le départ de Bob")
    after = [d.id for d in await scene.island.deliveries() if d.inbox_url.startswith(peer.base_url)]
    assert after == before
    await scene.assert_peer_healthy()
