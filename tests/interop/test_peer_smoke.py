"""Self-tests of the Fedify peer harness: two peers federating with each other.

They prove the harness (install, start, control API, Fedify delivery and
verification on plain-http loopback) independently of Archipel's server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from .peer import FedifyPeer, PeerError

pytestmark = pytest.mark.interop

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"

Factory = Callable[..., Awaitable[FedifyPeer]]


async def _follow(follower: FedifyPeer, followed: FedifyPeer, target: str | None = None) -> str:
    """``follower`` follows ``followed`` and waits for the Accept; returns the Follow id."""
    result = await follower.follow(target or followed.actor_id)
    follow_id = result["id"]
    assert result["ok"] is True
    assert result["activity"]["type"] == "Follow"
    assert result["activity"]["object"] == followed.actor_id
    await follower.wait_for(
        lambda r: r["type"] == "Accept" and r["actor"] == followed.actor_id and r["object"] == follow_id
    )
    return follow_id


async def test_follow_then_post_reaches_the_follower(fedify_peer_factory: Factory) -> None:
    a = await fedify_peer_factory()
    b = await fedify_peer_factory()
    assert a.startup_seconds is not None and a.startup_seconds < 30

    follow_id = await _follow(a, b)
    follow = await b.wait_for(lambda r: r["type"] == "Follow" and r["id"] == follow_id)
    assert follow["actor"] == a.actor_id
    assert follow["verified"] is True
    assert follow["signature"] in {"rfc9421", "draft-cavage"}
    assert (await b.state())["followers"] == [a.actor_id]

    posted = await b.post("<p>Hello from b</p>")
    note_id = posted["id"]
    assert posted["ok"] is True
    # A post goes to the follower's shared inbox.
    assert posted["inboxes"] == [a.shared_inbox]

    create = await a.wait_for(lambda r: r["type"] == "Create" and r["object"] == note_id)
    assert create["verified"] is True
    assert create["actor"] == b.actor_id
    assert create["inbox"] == "/inbox"
    note = create["raw"]["object"]
    assert note["type"] == "Note"
    assert note["content"] == "<p>Hello from b</p>"
    assert note["attributedTo"] == b.actor_id
    assert AS_PUBLIC in _as_list(note["to"])
    assert b.followers_url in _as_list(note["cc"])

    # The note is dereferenceable, and Fedify parses it.
    looked_up = await a.lookup(note_id)
    assert looked_up["ok"] is True, looked_up
    assert looked_up["type"] == "Note"
    assert looked_up["raw"]["id"] == note_id


async def test_lookup_of_the_other_peers_actor(fedify_peer_factory: Factory) -> None:
    a = await fedify_peer_factory()
    b = await fedify_peer_factory()

    result = await a.lookup(b.actor_id)
    assert result["ok"] is True, result
    assert result["type"] == "Person"
    assert result["isActor"] is True
    assert result["id"] == b.actor_id
    actor = result["raw"]
    assert actor["preferredUsername"] == "bob"
    assert actor["inbox"] == b.inbox
    assert actor["endpoints"]["sharedInbox"] == b.shared_inbox
    assert actor["publicKey"]["id"] == f"{b.actor_id}#main-key"
    assert actor["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    # The lookup was a signed GET.
    gets = [r for r in await a.sent_requests() if r["method"] == "GET" and r["url"] == b.actor_id]
    assert gets and all(r["signature"] != "none" for r in gets)

    missing = await a.lookup(f"{b.base_url}/users/nobody")
    assert missing["ok"] is False
    assert "404" in missing["error"]


async def test_follow_by_handle_uses_plain_http_webfinger(fedify_peer_factory: Factory) -> None:
    a = await fedify_peer_factory()
    b = await fedify_peer_factory()
    await _follow(a, b, target=b.handle)
    assert (await a.state())["following"] == [b.actor_id]


async def test_reply_like_announce_update_delete_undo(fedify_peer_factory: Factory) -> None:
    a = await fedify_peer_factory()
    b = await fedify_peer_factory()
    await _follow(a, b)
    original = (await b.post("<p>Original</p>"))["id"]

    reply = await a.reply(original, b.actor_id, "<p>A reply</p>")
    create = await b.wait_for(lambda r: r["type"] == "Create" and r["object"] == reply["id"])
    note = create["raw"]["object"]
    assert note["inReplyTo"] == original
    assert b.actor_id in _as_list(note["cc"])
    mentions = [t for t in _as_list(note.get("tag")) if t["type"] == "Mention"]
    assert mentions == [{"type": "Mention", "href": b.actor_id, "name": f"@{b.handle}"}]

    like = await a.like(original)  # "to" defaults to the object's author
    got = await b.wait_for(lambda r: r["type"] == "Like" and r["id"] == like["id"])
    assert got["object"] == original and got["inbox"] == "/users/bob/inbox"

    announce = await a.announce(original, b.actor_id)
    got = await b.wait_for(lambda r: r["type"] == "Announce" and r["id"] == announce["id"])
    assert AS_PUBLIC in _as_list(got["raw"]["to"])

    undo = await a.undo(like["id"])
    got = await b.wait_for(lambda r: r["type"] == "Undo" and r["id"] == undo["id"])
    assert got["object"] == like["id"] and got["objectType"] == "Like"

    updated = await a.update(reply["id"], "<p>An edited reply</p>")
    got = await b.wait_for(lambda r: r["type"] == "Update" and r["id"] == updated["activity_id"])
    assert got["raw"]["object"]["content"] == "<p>An edited reply</p>"
    assert "updated" in got["raw"]["object"]

    deleted = await a.delete(reply["id"])
    got = await b.wait_for(lambda r: r["type"] == "Delete" and r["id"] == deleted["id"])
    assert got["object"] == reply["id"] and got["objectType"] == "Tombstone"
    gone = await b.lookup(reply["id"])
    assert gone["ok"] is False and "410" in gone["error"]

    await a.unfollow(b.actor_id)
    await b.wait_for(lambda r: r["type"] == "Undo" and r["objectType"] == "Follow")
    assert (await b.state())["followers"] == []


async def test_draft_cavage_first_knock(fedify_peer_factory: Factory) -> None:
    a = await fedify_peer_factory(first_knock="draft-cavage-http-signatures-12", rsa_only=True)
    b = await fedify_peer_factory()
    result = await a.follow(b.actor_id)
    posts = [r for r in result["requests"] if r["method"] == "POST"]
    assert [r["signature"] for r in posts] == ["draft-cavage"]
    follow = await b.wait_for(lambda r: r["type"] == "Follow")
    assert follow["signature"] == "draft-cavage" and follow["verified"] is True
    assert "proof" not in follow["raw"]  # no Ed25519 key, no Object Integrity Proof


async def test_delivery_failure_is_reported(fedify_peer_factory: Factory) -> None:
    a = await fedify_peer_factory()
    b = await fedify_peer_factory()
    await _follow(b, a)
    await b.stop()

    result = await a.post("<p>Nobody is listening</p>", check=False)
    assert result["ok"] is False
    assert "ECONNREFUSED" in result["error"]
    with pytest.raises(PeerError, match="ECONNREFUSED"):
        await a.post("<p>Again</p>")
    # A control call with a bad argument is a 4xx, raised as PeerError too.
    with pytest.raises(PeerError, match="not an actor"):
        await a.follow(f"{a.base_url}/users/bob/followers")


async def test_outgoing_activities_carry_fedify_signatures(fedify_peer_factory: Factory) -> None:
    """What Archipel receives from a Fedify server: LD signature, proof, context URLs."""
    a = await fedify_peer_factory()
    b = await fedify_peer_factory()
    await _follow(a, b)
    create = (await b.post("<p>Signed</p>"))["activity"]
    assert create["signature"]["type"] == "RsaSignature2017"
    assert create["signature"]["creator"] == f"{b.actor_id}#main-key"
    assert create["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    contexts = [c for c in create["@context"] if isinstance(c, str)]
    assert "https://www.w3.org/ns/activitystreams" in contexts
    assert "https://w3id.org/identity/v1" in contexts


async def test_unsigned_post_is_refused_and_recorded(fedify_peer: FedifyPeer) -> None:
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "http://127.0.0.1:9/activities/1",
        "type": "Like",
        "actor": "http://127.0.0.1:9/users/mallory",
        "object": fedify_peer.actor_id,
    }
    headers = {"Content-Type": "application/activity+json"}
    async with aiohttp.ClientSession() as session:
        async with session.post(fedify_peer.inbox, json=activity, headers=headers) as resp:
            assert resp.status == 401
    record = await fedify_peer.wait_for(lambda r: r["id"] == activity["id"])
    assert record["verified"] is False
    assert record["reason"] == {"type": "noSignature"}
    assert record["signature"] == "none"


def _as_list(value: object) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
