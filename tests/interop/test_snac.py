"""Against a real snac2 server: a member on snac follows an author of the island, sees a fiche as
a readable post (title, teaser, link, cover with its alt text, no content warning), and answers,
likes and boosts it back.

snac is built from its public source, never installed by the suite: set ARCHIPEL_SNAC to the
binary (see tests/interop/snac.py). Without it these tests skip and say so.
"""

from __future__ import annotations

import html
import re

import aiohttp
import pytest
from sqlalchemy import select

from archipel.social import find_follow
from archipel.storage.tables import Interaction, StoredObject
from tests.nodes import wait_for

from .fiche_for_peers import COVER_ALT, TITLE, publish_fiche_with_cover, visible_text
from .snac import SNAC_ENV, SnacServer, snac_binary

pytestmark = pytest.mark.interop


@pytest.fixture
async def snac(tmp_path):
    binary = snac_binary()
    if binary is None:
        pytest.skip(f"no snac binary: build snac2 from its source and set {SNAC_ENV}")
    server = SnacServer(binary, tmp_path / "snac")
    await server.start()
    yield server
    await server.stop()


async def _followed_from_snac(island, snac) -> None:
    await snac.command("follow", island.actor_uri("alice"))

    async def accepted():
        async with island.sessions() as session:
            follow = await find_follow(session, snac.actor_id, island.actor_uri("alice"))
            return follow is not None and follow.state == "accepted"

    await wait_for(accepted, timeout=30, message="snac's follow accepted")




async def test_a_fiche_shows_on_snac_with_title_teaser_link_and_cover(island, snac):
    await _followed_from_snac(island, snac)
    uri = await publish_fiche_with_cover(island)
    post = await wait_for(lambda: snac.post_html(uri), timeout=30, message="the fiche on snac's timeline")

    title = TITLE
    text = visible_text(post)
    assert title in text
    # snac folds a picture's description in <details>; a content warning folds the whole post.
    unfolded = re.sub(r"<details><summary>Alt\.\.\.</summary>.*?</details>", "", post, flags=re.S)
    assert "SENSITIVE CONTENT" not in post and "<details" not in unfolded, "shown behind a content warning"
    # No entity left for the reader to see (snac escapes what it takes as plain text).
    assert not re.search(r"&(#\d+|[a-z]+);", text), text
    assert "Cent lieux de proximité" in text  # the pitch, as a teaser
    assert f'href="{uri}"' in post or f"href=\"{html.escape(uri)}\"" in post
    assert re.search(r"<img[^>]*header\.png", post), "no cover image"
    assert COVER_ALT in text, "the cover's description is not shown"


async def test_replies_likes_and_boosts_from_snac_reach_the_island(island, snac):
    await _followed_from_snac(island, snac)
    uri = await publish_fiche_with_cover(island)
    await wait_for(lambda: snac.post_html(uri), timeout=30, message="the fiche on snac's timeline")

    await snac.command("boost", uri)
    assert await snac.post_form("action", {"id": uri, "actor": island.actor_uri("alice"), "action": "Like"}) < 400
    reply = aiohttp.FormData()
    reply.add_field("content", "Merci, nous allons essayer à Quimper !")
    reply.add_field("in_reply_to", uri)
    reply.add_field("visibility", "public")
    assert await snac.post_form("note", reply) < 400

    async def arrived():
        async with island.sessions() as session:
            kinds = set(await session.scalars(
                select(Interaction.type).where(Interaction.object_uri == uri,
                                               Interaction.actor_uri == snac.actor_id)))
            reply = await session.scalar(select(StoredObject.id).where(StoredObject.in_reply_to == uri))
            return {"Like", "Announce"} <= kinds and reply is not None

    await wait_for(arrived, timeout=60, message="snac's like, boost and reply on the island")
