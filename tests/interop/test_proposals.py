"""A proposal by mention from the independent Fedify peer (``bob``): his post mentioning the island
lands in the moderators' queue and bob is thanked privately with the status link; when it is
accepted, bob receives the island's direct Note (a verified signature, addressed to him only) with
the link to the published fiche."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from archipel import accounts
from archipel.storage.tables import Proposal
from federation import proposals as decisions
from tests.nodes import wait_for
from web import provision

pytestmark = pytest.mark.interop

TIMEOUT = 15.0
AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


async def test_the_peer_proposes_by_mention_and_hears_the_decision(island, fedify_peer):
    await provision.add_user(island.sessions, username="mona", password="correct horse battery", role="moderator")
    island_id = island.actor_uri(island.island_username)
    sent = await fedify_peer.post("<p>Une fiche à écrire : la cantine 100 % bio de Langouët</p>"
                                  "<p>Les repas sont bio et locaux depuis 2004.</p>", mention=[island_id])

    async def in_queue():
        async with island.sessions() as session:
            return await session.scalar(select(Proposal).where(Proposal.activity_uri == sent["activity_id"]))

    proposal = await wait_for(in_queue, timeout=TIMEOUT, message="bob's proposal in the queue")
    assert proposal.state == "pending" and proposal.origin == "mention"
    assert proposal.proposer_actor_uri == fedify_peer.actor_id
    assert proposal.fields["title"] == "Une fiche à écrire : la cantine 100 % bio de Langouët"
    assert "depuis 2004" in proposal.fields["source"]

    async with island.sessions() as session:
        proposal = await session.get(Proposal, proposal.id)
        item = await decisions.accept(session, island.url, proposal, await accounts.get_actor(session, "mona"))
        await session.commit()
    island.wake()
    thanks = await fedify_peer.wait_for(
        lambda r: r["type"] == "Create" and r["actor"] == island_id and "/proposition/" in str(r["raw"]),
        timeout=TIMEOUT)
    assert thanks["verified"] is True and thanks["raw"]["object"]["to"] == [fedify_peer.actor_id]
    record = await fedify_peer.wait_for(
        lambda r: r["type"] == "Create" and r["actor"] == island_id and item.uri in str(r["raw"]), timeout=TIMEOUT)
    assert record["verified"] is True
    note = record["raw"]["object"]
    assert note["to"] == [fedify_peer.actor_id] and AS_PUBLIC not in str(record["raw"])
    assert item.uri in note["content"]
    assert {"type": "Mention", "href": fedify_peer.actor_id} == {k: v for k, v in note["tag"][0].items() if k != "name"}
