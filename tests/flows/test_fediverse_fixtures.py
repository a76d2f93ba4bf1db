"""What Mastodon, GoToSocial, Pleroma/Akkoma and Misskey really send, delivered to a real island.

Each file of tests/data/fediverse/<software>/ is rewritten for loopback (the remote server's
placeholder host becomes the RemoteServer's URL, our placeholders become alice and her article),
signed with the fixtures' key as the software would sign it (GoToSocial's keyId is `…/main-key`,
a path that answers with an actor stub), POSTed to the inbox the software would use, and then
judged on its effect once the inbox worker is done with it. No fixture may ever end `failed`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archipel import social
from archipel.storage.tables import Follow, Notification, Report
from archipel.text import html_to_text
from federation.vocabulary import PUBLIC, PUBLIC_FORMS
from tests.nodes import wait_for

FIXTURES = Path(__file__).parent.parent / "data" / "fediverse"
PLACEHOLDER_HOST = "https://remote.example"
ACTOR_FILES = {"actor", "instance_actor"}

SOFTWARE = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and (p / "actor.json").exists())
CASES = [
    pytest.param(software, path.stem, id=f"{software}-{path.stem}")
    for software in SOFTWARE
    for path in sorted((FIXTURES / software).glob("*.json"))
    if path.stem not in ACTOR_FILES
]


async def counts(island, uri: str) -> dict:
    async with island.sessions() as session:
        return await social.interaction_counts(session, uri)


async def follow_of(island, follower: str, followed: str) -> Follow | None:
    async with island.sessions() as session:
        return await social.find_follow(session, follower, followed)


def _addressed_publicly(activity: dict) -> bool:
    audience = []
    for field in ("to", "cc"):
        value = activity.get(field)
        audience += value if isinstance(value, list) else [value]
    return any(a in PUBLIC_FORMS or a == PUBLIC for a in audience)


class Fediverse:
    """One software's fixtures, served and sent by the RemoteServer to one island."""

    def __init__(self, island, remote, software: str, article: str, our_follow: str):
        self.island, self.remote, self.software = island, remote, software
        self.values = {
            PLACEHOLDER_HOST: remote.url,
            "{{OUR_ACTOR}}": island.actor_uri("alice"),
            "{{OUR_ACTOR_FOLLOWERS}}": island.actor_uri("alice") + "/followers",
            "{{OUR_OBJECT}}": article,
            "{{OUR_INBOX}}": island.actor_uri("alice") + "/inbox",
            "{{OUR_FOLLOW}}": our_follow,
        }
        self.actors: dict[str, dict] = {}
        for name in sorted(ACTOR_FILES):
            if (FIXTURES / software / f"{name}.json").exists():
                self._serve_actor(self.load(name))
        self.rosa = self.load("actor")

    def load(self, name: str) -> dict:
        text = (FIXTURES / self.software / f"{name}.json").read_text("utf-8")
        for placeholder, value in self.values.items():
            text = text.replace(placeholder, value)
        assert "{{" not in text, f"{self.software}/{name}.json has a placeholder we do not know"
        return json.loads(text)

    def _serve_actor(self, document: dict) -> None:
        # The fixtures' PEM is the public half of tests/data/fediverse/keys/remote.example.pem.
        assert document["publicKey"]["publicKeyPem"].strip() == self.remote.public_pem.strip()
        self.remote.serve(document["id"], document)
        self.actors[document["id"]] = document
        key_url = document["publicKey"]["id"].split("#")[0]
        if key_url != document["id"]:
            # GoToSocial: the key id is a path of its own, which answers with an actor stub.
            self.remote.serve(key_url, {
                "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                "id": document["id"], "type": document["type"],
                "preferredUsername": document["preferredUsername"],
                "publicKey": document["publicKey"],
            })

    def inbox_for(self, activity: dict) -> str:
        """Where the software delivers it: public activities to the shared inbox when it has one."""
        actor = self.actors[activity["actor"]]
        shares = bool((actor.get("endpoints") or {}).get("sharedInbox") or actor.get("sharedInbox"))
        if shares and _addressed_publicly(activity):
            return f"{self.island.url}/inbox"
        return f"{self.island.url}/users/alice/inbox"

    async def send(self, name: str) -> dict:
        activity = self.load(name)
        signer = self.actors[activity["actor"]]
        status, text = await self.remote.post(self.inbox_for(activity), activity,
                                              key_id=signer["publicKey"]["id"])
        assert status == 202, f"{self.software}/{name}.json answered {status}: {text}"
        return activity

    async def settle(self, activity: dict, timeout: float = 10.0):
        """The activity's incoming row once the worker is done with it (never `failed`)."""
        last = []

        async def done():
            last[:] = [r for r in await self.island.incoming() if r.payload.get("id") == activity["id"]]
            return last[0] if last and last[0].state != "received" else None

        try:
            row = await wait_for(done, timeout=timeout)
        except AssertionError:
            seen = [(r.state, r.last_error) for r in last]
            raise AssertionError(f"{activity['id']} still not processed after {timeout}s: {seen}") from None
        assert row.state != "failed", f"{activity['type']} failed: {row.last_error}"
        return row

    async def deliver(self, name: str, expected_state: str | tuple[str, ...] | None = None):
        activity = await self.send(name)
        row = await self.settle(activity)
        if expected_state is not None:
            expected = (expected_state,) if isinstance(expected_state, str) else expected_state
            assert row.state in expected, f"{name}: {row.state} ({row.last_error})"
        return activity, row


@pytest.fixture
async def article(island):
    return await island.publish("alice", "Réparer son vélo", "Un atelier **chaque samedi**.",
                                summary="Atelier vélo à la médiathèque")


def _sanitised(content: str) -> None:
    lowered = content.lower()
    for forbidden in ("<script", "alert(1)", "javascript:", "<iframe", "style="):
        assert forbidden not in lowered, f"{forbidden!r} survived in {content!r}"
    assert not re.search(r"\son[a-z]+\s*=", content, re.IGNORECASE), content


async def _assert_reply_stored(fedi, island, article, activity, text: str) -> None:
    stored = await island.object(activity["object"]["id"])
    assert stored is not None, "reply not stored"
    assert stored.is_local is False
    assert stored.in_reply_to == article
    assert stored.author_uri == fedi.rosa["id"]
    assert stored.deleted_at is None
    _sanitised(stored.content)
    assert text in html_to_text(stored.content), stored.content
    assert (await counts(island, article))["replies"] == 1


@pytest.mark.parametrize(("software", "name"), CASES)
async def test_fixture_has_its_expected_effect(island, remote, article, software, name):
    fedi = Fediverse(island, remote, software, article, our_follow=f"{island.url}/a/never-sent")
    rosa = fedi.rosa["id"]
    alice = island.actor_uri("alice")

    if name == "follow":
        activity, _ = await fedi.deliver("follow", "processed")
        follow = await follow_of(island, rosa, alice)
        assert follow is not None and follow.state == "accepted"
        assert follow.activity_uri == activity["id"]

        def accept_received():
            return [r for r in remote.received if r["activity"].get("type") == "Accept"]

        [accept] = await wait_for(accept_received, message="Accept delivered to the remote")
        assert accept["verified"] is True
        assert accept["path"] == fedi.rosa["inbox"].removeprefix(remote.url)
        answered = accept["activity"]["object"]
        assert (answered if isinstance(answered, str) else answered["id"]) == activity["id"]
        assert accept["activity"]["actor"] == alice

    elif name == "undo_follow":
        await fedi.deliver("follow", "processed")
        assert await follow_of(island, rosa, alice) is not None
        await fedi.deliver("undo_follow", "processed")
        assert await follow_of(island, rosa, alice) is None

    elif name in ("like", "like_custom_emoji", "emoji_react_akkoma"):
        await fedi.deliver(name, "processed")
        assert (await counts(island, article))["Like"] == 1

    elif name == "undo_like":
        await fedi.deliver("like", "processed")
        assert (await counts(island, article))["Like"] == 1
        await fedi.deliver("undo_like", "processed")
        assert (await counts(island, article))["Like"] == 0

    elif name == "announce":
        await fedi.deliver("announce", "processed")
        assert (await counts(island, article))["Announce"] == 1

    elif name == "undo_announce":
        await fedi.deliver("announce", "processed")
        assert (await counts(island, article))["Announce"] == 1
        await fedi.deliver("undo_announce", "processed")
        assert (await counts(island, article))["Announce"] == 0

    elif name == "announce_remote":
        await fedi.deliver(name, "ignored")
        assert await counts(island, article) == {"Like": 0, "Announce": 0, "replies": 0}

    elif name.startswith("emoji_react"):
        # Pleroma's EmojiReact: no handler needed, but it must be recorded without an error.
        await fedi.deliver(name, ("processed", "ignored"))

    elif name.startswith("create_note_reply"):
        activity, _ = await fedi.deliver(name, "processed")
        text = "Super fiche" if name == "create_note_reply_script" else "Merci pour cette fiche"
        await _assert_reply_stored(fedi, island, article, activity, text)

    elif name == "create_note_mention":
        activity, _ = await fedi.deliver(name, "processed")
        stored = await island.object(activity["object"]["id"])
        assert stored is not None and stored.in_reply_to is None
        assert stored.author_uri == rosa
        assert "accepte" in html_to_text(stored.content), stored.content
        _sanitised(stored.content)

    elif name == "create_note_public":
        # Not addressed to us, not a reply, from someone nobody here follows.
        activity, _ = await fedi.deliver(name, "ignored")
        assert await island.object(activity["object"]["id"]) is None

    elif name == "update_note":
        created, _ = await fedi.deliver("create_note_reply", "processed")
        before = (await island.object(created["object"]["id"])).content
        update, _ = await fedi.deliver("update_note", "processed")
        assert update["object"]["id"] == created["object"]["id"]
        after = await island.object(update["object"]["id"])
        assert "Merci pour cette fiche" in html_to_text(before), before
        assert after.content != before
        assert "17 mai" in html_to_text(after.content), after.content
        assert after.updated is not None
        _sanitised(after.content)

    elif name == "delete_note":
        created, _ = await fedi.deliver("create_note_reply", "processed")
        assert (await counts(island, article))["replies"] == 1
        await fedi.deliver("delete_note", "processed")
        stored = await island.object(created["object"]["id"])
        assert stored is not None and stored.deleted_at is not None
        assert (await counts(island, article))["replies"] == 0

    elif name == "delete_actor":
        created, _ = await fedi.deliver("create_note_reply", "processed")
        await fedi.deliver("like", "processed")
        # The account is gone: its documents answer 410 from now on (the key stays cached here).
        remote.serve(rosa, {"@context": "https://www.w3.org/ns/activitystreams", "id": rosa,
                            "type": "Tombstone"})
        await fedi.deliver("delete_actor", "processed")
        stored = await island.object(created["object"]["id"])
        assert stored.deleted_at is not None
        assert await counts(island, article) == {"Like": 0, "Announce": 0, "replies": 0}

    elif name == "flag":
        # Each server's report of alice and her article lands in the moderation queue.
        await fedi.deliver(name, "processed")
        async with island.sessions() as session:
            [report] = list(await session.scalars(select(Report)))
        assert report.direction == "received" and report.state == "open"
        assert report.target_actor_uri == island.actor_uri("alice")
        assert report.object_uris == ([] if software == "misskey" else [article])  # Misskey reports accounts
        assert "licence non libre" in report.content

    elif name in ("accept_follow", "reject_follow"):
        # Answers to a Follow alice never sent.
        await fedi.deliver(name, "ignored")
        async with island.sessions() as session:
            assert list(await session.scalars(select(Follow))) == []

    elif name in ("block", "undo_block"):
        # rosa and alice follow each other; rosa blocks alice: both follows end, quietly.
        await fedi.deliver("follow", "processed")
        await wait_for(lambda: remote.received_of_type("Accept"), message="the Accept of rosa's follow")
        await island.follow("alice", rosa)
        [sent] = await wait_for(lambda: remote.received_of_type("Follow"), message="alice's Follow")
        async with island.sessions() as session:
            ours = await social.find_follow(session, alice, rosa)
            await social.set_follow_state(session, ours, "accepted")
            await session.commit()
            notices = await session.scalar(select(func.count(Notification.id)))
        sent_before = len(remote.received)
        await fedi.deliver("block", "processed")
        assert await follow_of(island, rosa, alice) is None and await follow_of(island, alice, rosa) is None
        if name == "undo_block":
            await fedi.deliver("undo_block", "processed")  # understood; nothing comes back by itself
            assert await follow_of(island, rosa, alice) is None and await follow_of(island, alice, rosa) is None
        async with island.sessions() as session:
            assert await session.scalar(select(func.count(Notification.id))) == notices
        assert len(remote.received) == sent_before, "a block is answered with nothing"

    else:
        # A fixture added after this test was written: at least it must not fail.
        await fedi.deliver(name)

    assert [r.state for r in await island.incoming() if r.state == "failed"] == []


@pytest.mark.parametrize("software", SOFTWARE)
@pytest.mark.parametrize("answer", ["accept_follow", "reject_follow"])
async def test_answer_to_a_follow_alice_sent(island, remote, article, software, answer):
    """Accept/Reject that do match: alice follows rosa, rosa's server answers in its own shape."""
    probe = Fediverse(island, remote, software, article, our_follow="")
    rosa = probe.rosa["id"]
    await island.follow("alice", rosa)

    def follow_sent():
        return [r for r in remote.received if r["activity"].get("type") == "Follow"]

    [sent] = await wait_for(follow_sent, message="alice's Follow delivered to the remote")
    assert sent["verified"] is True
    fedi = Fediverse(island, remote, software, article, our_follow=sent["activity"]["id"])
    await fedi.deliver(answer, "processed")
    follow = await follow_of(island, island.actor_uri("alice"), rosa)
    if answer == "accept_follow":
        assert follow is not None and follow.state == "accepted"
    else:
        assert follow is None
