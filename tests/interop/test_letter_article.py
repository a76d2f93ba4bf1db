"""The letter's issue, published as an Article of the island's actor, reaches a follower that is
not Archipel: an independent Fedify peer follows the island by its handle, the letter is sent,
and the peer receives a verified Create of the Article with the issue's items in its content."""

from __future__ import annotations

import pytest

from tests.map_items import place
from web import appkeys
from web.app import letter_sender

from .test_island_interop import TIMEOUT

pytestmark = pytest.mark.interop


async def test_the_issue_reaches_a_fedify_follower_of_the_island(make_island, fedify_peer) -> None:
    island = await make_island("brest", letter_weekday=0)  # sent when the test says so
    await island.add_user("alice")
    handle = f"{island.island_username}@{island.url.removeprefix('http://')}"
    follow = await fedify_peer.follow(handle)
    await fedify_peer.wait_for(lambda r: r["type"] == "Accept" and r["object"] == follow["id"], timeout=TIMEOUT)
    await place(island, "alice", "Repair café du quartier", 48.39, -4.49, pitch="On répare ensemble.")

    sender = letter_sender(island.settings, island.sessions, island.app[appkeys.TEMPLATES],
                           island.app[appkeys.WAKEUPS])
    issue = await sender.send_now()
    create = await fedify_peer.wait_for(
        lambda r: r["type"] == "Create" and r["object"] == issue.article_uri, timeout=TIMEOUT)
    assert create["verified"]
    article = create["raw"]["object"]
    assert article["type"] == "Article" and article["attributedTo"] == island.actor_uri(island.island_username)
    assert "Repair café du quartier" in article["content"]
