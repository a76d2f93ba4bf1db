"""The fiche the real-server tests (snac, GoToSocial) publish, and how they read what a peer shows."""

from __future__ import annotations

import html
import re

from archipel import accounts
from archipel.markdown_items import read_item
from federation import actions
from tests.flows.test_fiches import FICHES

FICHE = "papi-brest.md"
COVER_ALT = "Une médiatrice et deux habitantes devant un ordinateur"
TITLE = read_item((FICHES / FICHE).read_text())["title"]


async def publish_fiche_with_cover(island) -> str:
    """Alice publishes the PAPI fiche with a cover (the island's header picture) and its alt text."""
    fields = read_item((FICHES / FICHE).read_text())
    fields.pop("authors")
    fields["cover"] = {"url": f"{island.actor_uri('alice')}/header.png", "name": COVER_ALT,
                       "mediaType": "image/png"}
    async with island.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        item = await actions.publish_item(session, island.url, [alice], **fields)
        await session.commit()
    island.wake()
    return item.uri


def visible_text(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))
