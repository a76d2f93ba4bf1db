"""Against a real GoToSocial server: its member follows an author of the island and sees a fiche
as a readable status (title, teaser, link, cover with its alt text, no content warning); edits,
withdrawals, likes, boosts, replies and blocks travel both ways; the island follows them back.

GoToSocial is built from its public source, never by the suite: set ARCHIPEL_GOTOSOCIAL (and
ARCHIPEL_GOTOSOCIAL_SOURCE, see tests/interop/gotosocial.py). Without it these tests skip.
"""

from __future__ import annotations


import pytest
from sqlalchemy import select

from archipel.social import find_follow
from archipel.storage.tables import Interaction, StoredObject
from tests.nodes import wait_for

from .fiche_for_peers import COVER_ALT, TITLE, publish_fiche_with_cover, visible_text
from .gotosocial import GOTOSOCIAL_ENV, GoToSocialServer, gotosocial_paths

pytestmark = pytest.mark.interop


@pytest.fixture
async def gts(tmp_path):
    paths = gotosocial_paths()
    if paths is None:
        pytest.skip(f"no GoToSocial binary: build it from its source and set {GOTOSOCIAL_ENV}")
    server = GoToSocialServer(*paths, tmp_path / "gts")
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


async def _follow_alice(island, gts) -> str:
    account = await gts.account_id(f"@alice@{island.url.removeprefix('http://')}")
    await gts.api("POST", f"/api/v1/accounts/{account}/follow")

    async def accepted():
        async with island.sessions() as session:
            follow = await find_follow(session, gts.actor_id, island.actor_uri("alice"))
            return follow is not None and follow.state == "accepted"

    await wait_for(accepted, timeout=30, message="GoToSocial's follow accepted")
    return account




async def test_a_fiche_shows_on_gotosocial_with_title_teaser_link_and_cover(island, gts):
    await _follow_alice(island, gts)
    uri = await publish_fiche_with_cover(island)
    status = await wait_for(lambda: gts.status_of(uri), timeout=60, message="the fiche on GoToSocial")

    assert status["spoiler_text"] == "", "shown behind a content warning"
    assert status["sensitive"] is False
    text = visible_text(status["content"])
    assert TITLE in text
    assert "Cent lieux de proximité" in text
    assert uri in status["content"] or status["url"] == uri
    images = [media for media in status["media_attachments"] if media["type"] == "image"]
    assert images and images[0]["description"] == COVER_ALT


async def test_edits_withdrawals_and_interactions_travel_both_ways(island, gts):
    await _follow_alice(island, gts)
    uri = await publish_fiche_with_cover(island)
    status = await wait_for(lambda: gts.status_of(uri), timeout=60, message="the fiche on GoToSocial")

    await gts.api("POST", f"/api/v1/statuses/{status['id']}/favourite")
    await gts.api("POST", f"/api/v1/statuses/{status['id']}/reblog")
    await gts.api("POST", "/api/v1/statuses", json={
        "status": "@alice@" + island.url.removeprefix("http://") + " Merci, nous allons essayer !",
        "in_reply_to_id": status["id"], "visibility": "public"})

    async def arrived():
        async with island.sessions() as session:
            kinds = set(await session.scalars(select(Interaction.type).where(
                Interaction.object_uri == uri, Interaction.actor_uri == gts.actor_id)))
            reply = await session.scalar(select(StoredObject.id).where(StoredObject.in_reply_to == uri))
            return {"Like", "Announce"} <= kinds and reply is not None

    await wait_for(arrived, timeout=60, message="GoToSocial's like, boost and reply on the island")

    await island.update(uri, title="Les PAPI de Brest, dix ans après")

    async def edited():
        current = await gts.status_of(uri)
        return current is not None and "dix ans après" in current["content"]

    await wait_for(edited, timeout=60, message="the edit on GoToSocial")

    await island.withdraw(uri)
    await wait_for(lambda: _gone(gts, uri), timeout=60, message="the withdrawal on GoToSocial")


async def _gone(gts, uri) -> bool:
    return await gts.status_of(uri) is None


async def test_a_block_from_gotosocial_ends_the_follows(island, gts):
    account = await _follow_alice(island, gts)
    await island.follow("alice", gts.actor_id)

    async def island_follows():
        async with island.sessions() as session:
            follow = await find_follow(session, island.actor_uri("alice"), gts.actor_id)
            return follow is not None and follow.state == "accepted"

    await wait_for(island_follows, timeout=30, message="alice follows lou")
    await gts.api("POST", f"/api/v1/accounts/{account}/block")

    async def no_follows():
        async with island.sessions() as session:
            return (await find_follow(session, island.actor_uri("alice"), gts.actor_id) is None and
                    await find_follow(session, gts.actor_id, island.actor_uri("alice")) is None)

    await wait_for(no_follows, timeout=30, message="the block ends both follows")


async def test_the_island_receives_what_a_gotosocial_member_posts(island, gts):
    await island.follow("alice", gts.actor_id)

    async def accepted():
        async with island.sessions() as session:
            follow = await find_follow(session, island.actor_uri("alice"), gts.actor_id)
            return follow is not None and follow.state == "accepted"

    await wait_for(accepted, timeout=30, message="alice follows lou")
    posted = await gts.api("POST", "/api/v1/statuses", json={
        "status": "Un atelier réparation ce samedi à la médiathèque", "visibility": "public"})

    async def arrived():
        async with island.sessions() as session:
            return await session.scalar(select(StoredObject.id).where(StoredObject.uri == posted["uri"]))

    await wait_for(arrived, timeout=60, message="lou's post on the island")
