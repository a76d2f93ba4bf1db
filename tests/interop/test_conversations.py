"""A conversation under a fiche with an independent Fedify peer (``bob``): each step the peer
takes (reply, like, boost, undo, edit, delete) is checked on the fiche's HTML page, and a reply
written on the page reaches the peer, signed and verified by Fedify."""

from __future__ import annotations

import re

import pytest

from tests.flows.test_conversations import fetch_page, publish_fiche, reply_ids
from tests.nodes import wait_for
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like, hidden_csrf

from .test_island_interop import TIMEOUT, Scene

pytestmark = pytest.mark.interop


@pytest.fixture
async def scene(island, fedify_peer) -> Scene:
    return Scene(island, fedify_peer)


async def page_until(url: str, predicate, message: str) -> str:
    """The fiche page, once it shows what the peer did (the inbox worker runs apart)."""
    last = [""]

    async def shown():
        async with browser_like() as http:
            last[0] = await fetch_page(http, url)
        return predicate(last[0])

    await wait_for(shown, timeout=TIMEOUT, message=message)
    return last[0]


def count(html: str, label: str) -> int:
    return int(re.search(rf"(\d+) {label}", html).group(1))


async def test_a_conversation_with_the_peer_on_the_fiche_page(scene: Scene) -> None:
    peer, island = scene.peer, scene.island
    await scene.peer_follows_alice()
    fiche = await publish_fiche(island)
    await peer.wait_for(lambda r: r["type"] == "Create" and r["object"] == fiche.uri, timeout=TIMEOUT)

    # bob replies: his reply, his name and the link to his note appear under the fiche.
    reply = await peer.reply(fiche.uri, scene.alice, "<p>Première version <script>alert(1)</script></p>")
    html = await page_until(fiche.uri, lambda h: "Première version" in h, "bob's reply on the page")
    assert "Bob (Fedify peer)" in html and "<script>alert" not in html
    assert f'href="{reply["id"]}"' in html or reply["id"] in html
    assert "1 réponse" in html

    # bob likes and boosts the fiche; then takes both back.
    like = await peer.like(fiche.uri)
    boost = await peer.announce(fiche.uri)
    html = await page_until(fiche.uri, lambda h: count(h, "j'aime") == 1 and count(h, "partage") == 1,
                            "the like and the boost counted on the page")
    await peer.undo(like["id"])
    await peer.undo(boost["id"])
    await page_until(fiche.uri, lambda h: count(h, "j'aime") == 0 and count(h, "partage") == 0,
                     "the like and the boost undone on the page")

    # bob edits his reply: the page shows the new text only.
    await peer.update(reply["id"], "<p>Version corrigée</p>")
    html = await page_until(fiche.uri, lambda h: "Version corrigée" in h, "the edit on the page")
    assert "Première version" not in html and "modifié" in html

    # alice answers bob from the page: Fedify receives the Note, signed by alice.
    stored = await island.object(reply["id"])
    async with browser_like() as http:
        await log_in(http, island, "alice")
        form = {"csrf_token": hidden_csrf(await fetch_page(http, fiche.uri)), "in_reply_to": str(stored.id),
                "text": "Merci **Bob**, à samedi !"}
        async with http.post(f"{island.url}/discussion/repondre", data=form, allow_redirects=False) as response:
            assert response.status == 303
    answer = await peer.wait_for(lambda r: r["type"] == "Create" and r["objectType"] == "Note"
                                 and r["actor"] == scene.alice, timeout=TIMEOUT)
    assert answer["verified"] is True
    note = answer["raw"]["object"]
    assert note["inReplyTo"] == reply["id"]
    assert peer.actor_id in note["cc"]
    assert any(tag.get("type") == "Mention" and tag.get("href") == peer.actor_id for tag in note["tag"])
    assert "<strong>Bob</strong>" in note["content"]
    looked_up = await peer.lookup(note["id"])
    assert looked_up["ok"] is True and looked_up["type"] == "Note", looked_up

    # bob answers alice's answer and likes it: nested under it, counted on it.
    again = await peer.reply(note["id"], scene.alice, "<p>Avec plaisir</p>")
    await peer.like(note["id"])
    html = await page_until(fiche.uri, lambda h: "Avec plaisir" in h and h.count("1 j'aime") == 1,
                            "bob's second reply and his like of alice's answer")
    ours = (await island.object(note["id"])).id
    alice_block = html[html.index(f'id="reponse-{ours}"'):]
    assert "Avec plaisir" in alice_block and alice_block.index("1 j'aime") < alice_block.index("Avec plaisir")

    # bob deletes his first reply: it is gone, the answers below it stay under a placeholder.
    await peer.delete(reply["id"])
    html = await page_until(fiche.uri, lambda h: "Version corrigée" not in h, "bob's reply gone from the page")
    assert "Message supprimé" in html and "à samedi" in html and "Avec plaisir" in html
    assert reply_ids(html) == [str(stored.id), str(ours), str((await island.object(again["id"])).id)]
    assert "2 réponses" in html
    await scene.assert_peer_healthy()
