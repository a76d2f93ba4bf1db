"""A Mastodon-like remote server and a real island, the whole life of a relation:
rosa follows alice, reads what she publishes, replies, likes, boosts, takes it back, leaves.

Everything the island sends is checked on the remote side (signature verified against alice's
published key), everything rosa does is checked on the island (rows, stored reply, counts).
"""

from __future__ import annotations

import asyncio

import pytest

from archipel import social
from archipel.text import html_to_text
from federation.vocabulary import PUBLIC
from tests.nodes import wait_for

AS = "https://www.w3.org/ns/activitystreams"
MASTODON_NOTE_CONTEXT = [
    AS,
    {"ostatus": "http://ostatus.org#", "atomUri": "ostatus:atomUri", "sensitive": "as:sensitive",
     "toot": "http://joinmastodon.org/ns#"},
]


async def counts(island, uri: str) -> dict:
    async with island.sessions() as session:
        return await social.interaction_counts(session, uri)


async def settled(island, activity_id: str, timeout: float = 10.0):
    last = []

    async def done():
        last[:] = [r for r in await island.incoming() if r.payload.get("id") == activity_id]
        return last[0] if last and last[0].state != "received" else None

    try:
        row = await wait_for(done, timeout=timeout)
    except AssertionError:
        raise AssertionError(f"{activity_id} not processed: {[(r.state, r.last_error) for r in last]}") from None
    assert row.state != "failed", row.last_error
    return row


class Rosa:
    """rosa on the remote server, acting the way Mastodon does."""

    def __init__(self, island, remote):
        self.island, self.remote = island, remote
        self.uri = remote.actor_uri("rosa")
        self.alice = island.actor_uri("alice")
        self.personal_inbox = f"{island.url}/users/alice/inbox"
        self.shared_inbox = f"{island.url}/inbox"

    async def send(self, activity: dict, *, shared: bool, state: str = "processed"):
        status, text = await self.remote.post(self.shared_inbox if shared else self.personal_inbox, activity)
        assert status == 202, text
        row = await settled(self.island, activity["id"])
        assert row.state == state, f"{activity['type']}: {row.state} ({row.last_error})"
        assert row.body_trusted is True
        return activity

    def follow_activity(self) -> dict:
        return {"@context": AS, "id": f"{self.remote.url}/2f0c5a1e-follow", "type": "Follow",
                "actor": self.uri, "object": self.alice}

    def note(self, number: int, article: str, content: str, **extra) -> dict:
        note_id = f"{self.uri}/statuses/{number}"
        return {
            "id": note_id, "type": "Note", "summary": None, "inReplyTo": article,
            "published": "2025-05-14T09:30:12Z", "url": f"{self.remote.url}/@rosa/{number}",
            "attributedTo": self.uri, "to": [PUBLIC], "cc": [f"{self.uri}/followers", self.alice],
            "sensitive": False, "atomUri": note_id, "content": content,
            "tag": [{"type": "Mention", "href": self.alice, "name": "@alice"}], **extra,
        }


@pytest.fixture
def rosa(island, remote):
    return Rosa(island, remote)


def received(remote, kind: str, path: str | None = None) -> list[dict]:
    return [r for r in remote.received
            if r["activity"].get("type") == kind and (path is None or r["path"] == path)]


async def test_life_of_a_relation_with_a_mastodon_like_server(island, remote, rosa):
    alice = island.actor_uri("alice")

    # ---- rosa follows alice: an Accept comes back, signed by alice -------------------------
    follow = await rosa.send(rosa.follow_activity(), shared=False)
    relation = await _follow(island, rosa.uri, alice)
    assert relation is not None and relation.state == "accepted"

    [accept] = await wait_for(lambda: received(remote, "Accept"), message="Accept at the remote")
    assert accept["verified"] is True, "Accept not signed by alice's published key"
    assert accept["path"] == "/users/rosa/inbox"
    answer = accept["activity"]
    assert answer["actor"] == alice
    answered = answer["object"]
    assert (answered if isinstance(answered, str) else answered["id"]) == follow["id"]
    if isinstance(answered, dict):
        assert answered["actor"] == rosa.uri and answered["object"] == alice

    # ---- alice publishes: a Create(Article) reaches rosa's shared inbox ---------------------
    article = await island.publish("alice", "Réparer son vélo à la médiathèque",
                                   "Un atelier **chaque samedi**, voir [le programme](https://example.org/p).",
                                   summary="Atelier de réparation, Saint-Nazaire, tous les samedis")
    [create] = await wait_for(lambda: received(remote, "Create"), message="Create at the remote")
    assert create["verified"] is True
    assert create["path"] == "/inbox", "a post goes to the shared inbox"
    activity = create["activity"]
    assert activity["actor"] == alice
    obj = activity["object"]
    assert obj["id"] == article
    assert obj["type"] == "Article"
    # The title is a language map only and the teaser is in the card (content), with no summary
    # (federation.documents.object_document: other servers read both as a content warning).
    assert list(obj["nameMap"].values()) == ["Réparer son vélo à la médiathèque"]
    assert "name" not in obj and "summary" not in obj
    assert "Atelier de réparation" in html_to_text(obj["content"])
    assert obj["url"].startswith(island.url)
    assert obj["attributedTo"] == alice
    assert PUBLIC in obj["to"]
    assert obj["cc"] == [f"{alice}/followers"]
    assert activity["to"] == obj["to"] and activity["cc"] == obj["cc"]

    # ---- rosa replies --------------------------------------------------------------------------
    note = rosa.note(1001, article, '<p><span class="h-card"><a href="%s" class="u-url mention">@'
                     "<span>alice</span></a></span> Merci, on essaie samedi !</p>" % alice)
    create_reply = {"@context": MASTODON_NOTE_CONTEXT, "id": f"{note['id']}/activity", "type": "Create",
                    "actor": rosa.uri, "published": note["published"], "to": note["to"],
                    "cc": note["cc"], "object": note}
    await rosa.send(create_reply, shared=True)
    stored = await island.object(note["id"])
    assert stored is not None and stored.in_reply_to == article and stored.author_uri == rosa.uri
    assert "on essaie samedi" in html_to_text(stored.content)
    assert await counts(island, article) == {"Like": 0, "Announce": 0, "replies": 1}

    # ---- rosa likes and boosts -------------------------------------------------------------------
    like = {"@context": AS, "id": f"{rosa.uri}#likes/77", "type": "Like", "actor": rosa.uri,
            "object": article}
    await rosa.send(like, shared=False)
    assert await counts(island, article) == {"Like": 1, "Announce": 0, "replies": 1}

    boost = {"@context": AS, "id": f"{rosa.uri}/statuses/1002/activity", "type": "Announce",
             "actor": rosa.uri, "published": "2025-05-14T09:32:40Z", "to": [PUBLIC],
             "cc": [alice, f"{rosa.uri}/followers"], "object": article}
    await rosa.send(boost, shared=True)
    assert await counts(island, article) == {"Like": 1, "Announce": 1, "replies": 1}

    # ---- Undo of the like ----------------------------------------------------------------------
    undo_like = {"@context": AS, "id": f"{rosa.uri}#likes/77/undo", "type": "Undo", "actor": rosa.uri,
                 "object": {k: v for k, v in like.items() if k != "@context"}}
    await rosa.send(undo_like, shared=False)
    assert await counts(island, article) == {"Like": 0, "Announce": 1, "replies": 1}

    # ---- Update, then Delete of the reply ---------------------------------------------------------
    edited = {**note, "content": "<p>Merci, on essaie samedi 17 mai !</p>", "updated": "2025-05-14T09:41:03Z"}
    update = {"@context": MASTODON_NOTE_CONTEXT, "id": f"{note['id']}#updates/1747215663", "type": "Update",
              "actor": rosa.uri, "published": edited["updated"], "to": note["to"], "cc": note["cc"],
              "object": edited}
    await rosa.send(update, shared=True)
    stored = await island.object(note["id"])
    assert "samedi 17 mai" in html_to_text(stored.content)
    assert stored.deleted_at is None
    assert (await counts(island, article))["replies"] == 1

    delete = {"@context": AS, "id": f"{note['id']}#delete", "type": "Delete", "actor": rosa.uri,
              "to": [PUBLIC], "object": {"id": note["id"], "type": "Tombstone", "atomUri": note["id"]}}
    await rosa.send(delete, shared=True)
    stored = await island.object(note["id"])
    assert stored.deleted_at is not None
    assert await counts(island, article) == {"Like": 0, "Announce": 1, "replies": 0}

    # ---- Undo(Follow): rosa is no longer a follower, and no longer hears of alice ----------------
    undo_follow = {"@context": AS, "id": f"{rosa.uri}#follows/12/undo", "type": "Undo", "actor": rosa.uri,
                   "object": {k: v for k, v in follow.items() if k != "@context"}}
    await rosa.send(undo_follow, shared=False)
    assert await _follow(island, rosa.uri, alice) is None

    creates_before = len(received(remote, "Create"))
    later = await island.publish("alice", "Après le départ de rosa", "Personne ne suit plus.")
    outgoing = [d for d in await island.deliveries() if remote.url in d.inbox_url]
    # One delivery for the Accept, one for the first Create: nothing for `later`.
    assert len(outgoing) == 2, [(d.inbox_url, d.state) for d in outgoing]
    island.wake()
    await asyncio.sleep(1.0)
    assert len(received(remote, "Create")) == creates_before
    assert all(r["activity"].get("object", {}).get("id") != later
               for r in remote.received if isinstance(r["activity"].get("object"), dict))


async def _follow(island, follower: str, followed: str):
    async with island.sessions() as session:
        return await social.find_follow(session, follower, followed)


async def test_reply_from_someone_not_following_is_kept_but_a_second_create_is_not_duplicated(
        island, remote, rosa):
    """A reply does not need a follow; the same Create sent twice (shared and personal inbox,
    as Mastodon may do) stores one reply."""
    article = await island.publish("alice", "Fiche", "Texte.")
    note = rosa.note(2001, article, "<p>Une question sur la fiche</p>")
    create = {"@context": MASTODON_NOTE_CONTEXT, "id": f"{note['id']}/activity", "type": "Create",
              "actor": rosa.uri, "to": note["to"], "cc": note["cc"], "object": note}
    await rosa.send(create, shared=True)
    status, _ = await remote.post(rosa.personal_inbox, create)
    assert status == 202
    again = {**create, "id": f"{note['id']}/activity-bis"}  # another activity, same object
    await rosa.send(again, shared=False, state="ignored")
    assert (await counts(island, article))["replies"] == 1


async def test_boost_and_like_of_a_withdrawn_article_are_not_counted(island, remote, rosa):
    article = await island.publish("alice", "Bientôt retirée", "Texte.")
    await island.withdraw(article)
    like = {"@context": AS, "id": f"{rosa.uri}#likes/88", "type": "Like", "actor": rosa.uri, "object": article}
    await rosa.send(like, shared=False, state="ignored")
    assert (await counts(island, article))["Like"] == 0
