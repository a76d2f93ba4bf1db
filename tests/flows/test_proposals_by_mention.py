"""A proposal by mention: a Mastodon-like account writes `@ile@host` + text; it lands in the
moderators' queue with the sender as contact; on a decision the sender gets a direct Note from the
island (signature checked on the remote side). Replies stay conversations; floods per server stop."""

from __future__ import annotations

import re

import aiohttp
from sqlalchemy import select

from archipel import accounts
from archipel.storage.tables import Proposal, utcnow
from federation import documents
from federation import mentions
from federation import proposals as decisions
from federation.processing import Context
from federation.vocabulary import PUBLIC
from tests.flows.test_remote_interactions import MASTODON_NOTE_CONTEXT, settled
from tests.nodes import wait_for
from web import provision

NOTE_HTML = ('<p><span class="h-card" translate="no"><a href="{island}" class="u-url mention">@<span>{name}</span>'
             '</a></span> Les Incroyables Comestibles de Plougastel<br />Des bacs de légumes en libre-service '
             'devant la mairie, <script>alert(1)</script>chacun·e se sert.</p><p>On peut en faire une fiche ?</p>')


def mention(island, remote, number: int, *, in_reply_to: str | None = None, content: str | None = None,
            addressed_only: bool = False) -> dict:
    """A Create(Note) mentioning the island, the way Mastodon 4.x sends it."""
    rosa = remote.actor_uri("rosa")
    island_id = island.actor_uri(island.island_username)
    note = {
        "id": f"{remote.url}/users/rosa/statuses/{number}", "type": "Note", "attributedTo": rosa,
        "content": content or NOTE_HTML.format(island=island_id, name=island.island_username),
        "contentMap": {"fr": "…"}, "to": [PUBLIC], "cc": [f"{rosa}/followers", island_id],
        "published": documents.rfc3339(utcnow()), "inReplyTo": in_reply_to,
        "tag": [] if addressed_only else [{"type": "Mention", "href": island_id,
                                          "name": f"@{island.island_username}@{island.url.split('//')[1]}"}],
    }
    return {"@context": MASTODON_NOTE_CONTEXT, "id": f"{note['id']}/activity", "type": "Create", "actor": rosa,
            "published": note["published"], "to": note["to"], "cc": note["cc"], "object": note}


async def queue(island) -> list[Proposal]:
    async with island.sessions() as session:
        return list(await session.scalars(select(Proposal).order_by(Proposal.id)))


async def send(island, remote, activity: dict):
    status, text = await remote.post(f"{island.url}/inbox", activity)
    assert status == 202, text
    return await settled(island, activity["id"])


async def test_a_mention_lands_in_the_queue_and_the_decision_comes_back_as_a_direct_note(island, remote):
    await provision.add_user(island.sessions, username="mona", password="correct horse battery", role="moderator")
    activity = mention(island, remote, 1)
    row = await send(island, remote, activity)
    assert row.state == "processed", row.last_error
    [proposal] = await queue(island)
    assert proposal.origin == "mention" and proposal.state == "pending" and proposal.kind == "new"
    assert proposal.activity_uri == activity["id"] and proposal.proposer_actor_uri == remote.actor_uri("rosa")
    assert proposal.proposer_name == "Rosa" and proposal.proposer_email is None
    assert proposal.fields["title"] == "Les Incroyables Comestibles de Plougastel"
    assert proposal.fields["source"].startswith("Les Incroyables Comestibles de Plougastel\n\nDes bacs")
    assert "On peut en faire une fiche ?" in proposal.fields["source"]
    assert "@" + island.island_username not in proposal.fields["source"] and "<script" not in proposal.fields["source"]
    assert proposal.fields["language"] == "fr"
    assert await island.object(activity["object"]["id"]) is None  # a proposal, not a stored post

    # rosa hears at once, privately, with the link to follow her proposal.
    [thanks] = await wait_for(lambda: remote.received_of_type("Create"), message="the acknowledgement")
    assert thanks["object"]["to"] == [remote.actor_uri("rosa")] and PUBLIC not in str(thanks)
    assert_threaded_under(thanks, activity["object"]["id"], remote)
    link = re.search(r'href="([^"]+/proposition/[^"]+)"', thanks["object"]["content"]).group(1)
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as response:
            assert response.status == 200 and "En attente de relecture" in await response.text()

    # The same activity again (a retry, or the same post reaching two inboxes): still one proposal.
    await remote.post(f"{island.url}/inbox", activity)
    async with island.sessions() as session:
        context = Context(session, island.url, island.directory_service, None, activity)
        assert await mentions.take_proposal(context, activity["object"], remote.actor_uri("rosa")) is True
        await session.commit()
    assert len(await queue(island)) == 1

    async with island.sessions() as session:
        proposal = await session.get(Proposal, proposal.id)
        mona = await accounts.get_actor(session, "mona")
        item = await decisions.accept(session, island.url, proposal, mona)
        await session.commit()
    island.wake()
    assert item.fields["attribution"] == f"Proposée par Rosa ({remote.actor_uri('rosa')})."

    def the_note():
        return [a for a in remote.received_of_type("Create") if "acceptée" in a["object"].get("content", "")]

    [create] = await wait_for(the_note, message="the island's direct Note to rosa")
    note = create["object"]
    island_id = island.actor_uri(island.island_username)
    assert create["actor"] == island_id and note["attributedTo"] == island_id
    assert create["to"] == note["to"] == [remote.actor_uri("rosa")] and PUBLIC not in str(create)
    assert note["tag"] == [{"type": "Mention", "href": remote.actor_uri("rosa"),
                            "name": f"@rosa@{remote.url.split('//')[1]}"}]
    assert item.uri in note["content"] and "acceptée" in note["content"]
    assert_threaded_under(create, activity["object"]["id"], remote)
    [record] = [r for r in remote.received if r["activity"] is create]
    assert record["verified"] is True and record["path"] == "/users/rosa/inbox"


async def test_a_refusal_sends_the_reason(island, remote):
    await provision.add_user(island.sessions, username="mona", password="correct horse battery", role="moderator")
    await send(island, remote, mention(island, remote, 7))
    [proposal] = await queue(island)
    async with island.sessions() as session:
        proposal = await session.get(Proposal, proposal.id)
        await decisions.refuse(session, island.url, proposal, await accounts.get_actor(session, "mona"),
                               "Hors du champ du réseau <b>désolé</b>")
        await session.commit()
    island.wake()
    [create] = await wait_for(lambda: [a for a in remote.received_of_type("Create")
                                       if "pas retenue" in a["object"]["content"]], message="the refusal Note")
    assert "Hors du champ du réseau &lt;b&gt;désolé&lt;/b&gt;" in create["object"]["content"]
    assert_threaded_under(create, f"{remote.url}/users/rosa/statuses/7", remote)


async def test_a_proposal_addressed_without_a_mention_tag_is_answered_in_its_thread(island, remote):
    """The island only in `cc`, no Mention tag (some servers): the answer still replies to the post."""
    activity = mention(island, remote, 8, addressed_only=True)
    assert (await send(island, remote, activity)).state == "processed"
    [thanks] = await wait_for(lambda: remote.received_of_type("Create"), message="the acknowledgement")
    assert_threaded_under(thanks, activity["object"]["id"], remote)


def assert_threaded_under(create: dict, post: str, remote) -> None:
    """The island's Note replies to the proposer's post, addressed to them and mentioning them the
    way Mastodon addresses a reply seen only by the people it mentions: it shows in the thread."""
    note, rosa = create["object"], remote.actor_uri("rosa")
    assert note["inReplyTo"] == post
    assert note["to"] == create["to"] == [rosa] and note["cc"] == create["cc"] == []
    assert {"type": "Mention", "href": rosa, "name": f"@rosa@{remote.url.split('//')[1]}"} in note["tag"]
    assert f'href="{rosa}"' in note["content"] or "@rosa" in note["content"]


async def test_a_reply_to_our_item_mentioning_the_island_is_a_conversation(island, remote):
    uri = await island.publish("alice", "Les PAPI")
    row = await send(island, remote, mention(island, remote, 2, in_reply_to=uri))
    assert row.state == "processed"
    assert await queue(island) == []
    assert (await island.object(f"{remote.url}/users/rosa/statuses/2")).in_reply_to == uri


async def test_a_reply_elsewhere_that_carries_the_islands_mention_is_no_proposal(island, remote):
    """Mastodon copies earlier mentions into replies: answering a post that named the island does
    not propose a fiche; only a new post does."""
    row = await send(island, remote, mention(island, remote, 4, in_reply_to=f"{remote.url}/users/rosa/statuses/1"))
    assert row.state in ("processed", "ignored")
    assert await queue(island) == []


async def test_addressed_without_a_mention_tag_is_a_proposal_too(island, remote):
    await send(island, remote, mention(island, remote, 3, addressed_only=True))
    assert len(await queue(island)) == 1


async def test_a_flood_from_one_server_is_stopped(make_island, remote):
    island = await make_island("flood", proposals_per_host_per_hour=2)
    rows = [await send(island, remote, mention(island, remote, number)) for number in range(4)]
    assert [row.state for row in rows] == ["processed", "processed", "ignored", "ignored"]
    assert "Trop de propositions" in rows[2].last_error
    assert len(await queue(island)) == 2


async def test_a_mention_with_many_links_too_much_text_or_none_is_ignored(make_island, remote):
    island = await make_island("liens", proposal_max_links=2, proposal_max_chars=1000)
    island_id = island.actor_uri(island.island_username)
    links = "".join(f'<a href="https://spam{n}.example/">https://spam{n}.example/</a> ' for n in range(3))
    spam = await send(island, remote, mention(island, remote, 1, content=f"<p>@{island.island_username} {links}</p>"))
    empty = await send(island, remote, mention(island, remote, 2, content=f'<p><a href="{island_id}">@x</a></p>'))
    huge = await send(island, remote, mention(island, remote, 3, content=f"<p>@{island.island_username} "
                                                                        f"{'blabla ' * 200}</p>"))
    assert (spam.state, empty.state, huge.state) == ("ignored", "ignored", "ignored")
    assert "plus longue" in huge.last_error
    assert await queue(island) == []
