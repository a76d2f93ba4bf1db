"""« Répondre », « Aimer », « Partager » on an item's page for a visitor from another server:
/interagir sends them to their own server's interaction page for the item (WebFinger, then the
OStatus subscribe template with the item's id), asks their address when it is not given, and
never becomes a way to probe addresses (rate limit, the client's guard)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from sqlalchemy import update

from archipel.storage.tables import StoredObject
from tests.flows.test_fiches import publish_file
from tests.web.test_follow_button import SUBSCRIBE, host_of, nodeinfo

ACTIONS = ("repondre", "aimer", "partager")


@pytest.fixture
async def island(make_island):
    node = await make_island("brest", remote_lookup_seconds=0.2, remote_lookups_per_hour=1000)
    await node.add_user("alice")
    return node


async def fetch(url: str, **params) -> tuple[int, str, str | None]:
    async with aiohttp.ClientSession() as http, http.get(url, params=params, allow_redirects=False) as response:
        return response.status, await response.text(), response.headers.get("Location")


def serve_webfinger(remote, template: str | None = None) -> None:
    remote.serve(f"{remote.url}/.well-known/webfinger", {"subject": "acct:rosa@x", "links": [
        {"rel": "self", "type": "application/activity+json", "href": remote.actor_uri("rosa")},
        {"rel": SUBSCRIBE, "template": template or f"{remote.url}/authorize_interaction?uri={{uri}}"}]})


async def item_id(node, uri: str) -> int:
    return (await node.object(uri)).id


async def test_fiche_and_article_pages_offer_the_three_actions(island):
    fiche = await publish_file(island, "papi-brest.md", "alice")
    article = await island.publish("alice", "Un article")
    for uri in (fiche, article):
        ident = await item_id(island, uri)
        status, page, _ = await fetch(uri)
        assert status == 200
        for action in ACTIONS:
            assert f'href="{island.url}/interagir?objet={ident}&amp;action={action}"' in page
        assert "static/follow.js" in page
    # Without an address: the small form, which works without JavaScript.
    ident = await item_id(island, fiche)
    status, page, _ = await fetch(f"{island.url}/interagir", objet=str(ident), action="aimer")
    assert status == 200 and "Aimer depuis votre serveur" in page
    assert f'<code class="handle" id="interaction-uri">{fiche}</code>' in page
    assert f'name="objet" value="{ident}"' in page and 'name="action" value="aimer"' in page
    assert 'class="follow-form"' in page and 'name="from"' in page  # follow.js remembers the address


async def test_an_address_goes_to_the_interaction_page_of_its_own_server(island, remote):
    serve_webfinger(remote)
    fiche = await publish_file(island, "papi-brest.md", "alice")
    ident = await item_id(island, fiche)
    for action in ACTIONS:
        status, _, location = await fetch(f"{island.url}/interagir", objet=str(ident), action=action,
                                          **{"from": f"@rosa@{host_of(remote)}"})
        assert status == 303, action
        assert location.startswith(f"{remote.url}/authorize_interaction?")
        assert parse_qs(urlsplit(location).query) == {"uri": [fiche]}
    # An instance alone: its /authorize_interaction when its NodeInfo says it has one.
    nodeinfo(remote, "mastodon")
    status, _, location = await fetch(f"{island.url}/interagir", objet=str(ident), action="aimer",
                                      **{"from": host_of(remote)})
    assert status == 303 and parse_qs(urlsplit(location).query) == {"uri": [fiche]}
    # A template naming another server is not followed: instructions instead, with the address.
    serve_webfinger(remote, "https://evil.example/authorize_interaction?uri={uri}")
    status, page, location = await fetch(f"{island.url}/interagir", objet=str(ident), action="partager",
                                         **{"from": f"@rosa@{host_of(remote)}"})
    assert status == 200 and location is None and 'id="interaction-instructions"' in page
    assert fiche in page


async def test_only_public_items_and_bounded_inputs(island):
    article = await island.publish("alice", "Un article")
    ident = await item_id(island, article)
    for objet in ("999999", "-1", "abc", "9" * 40):
        status, _, _ = await fetch(f"{island.url}/interagir", objet=objet, action="aimer")
        assert status in (400, 404), objet
    status, page, _ = await fetch(f"{island.url}/interagir", objet=str(ident), **{"from": "pas une adresse"})
    assert status == 400 and 'id="interaction-error"' in page
    status, page, _ = await fetch(f"{island.url}/interagir", objet=str(ident), action="<script>")
    assert status == 200 and "Répondre depuis votre serveur" in page and "<script>" not in page.split("<main")[1]
    async with island.sessions() as session:
        await session.execute(update(StoredObject).where(StoredObject.id == ident).values(state="draft"))
        await session.commit()
    assert (await fetch(f"{island.url}/interagir", objet=str(ident)))[0] == 404


async def test_no_probing_of_internal_addresses_and_a_rate_limit(make_island, remote):
    """On an island that refuses private networks, an address on loopback is never reached (the
    client's guard), and the visitor only gets the instructions; look-ups are limited."""
    island = await make_island("brest", allow_private_networks=False, remote_lookup_seconds=0.2,
                               remote_lookups_per_hour=2)
    await island.add_user("alice")
    serve_webfinger(remote)
    ident = await item_id(island, await island.publish("alice", "Un article"))
    for _ in range(2):
        status, page, location = await fetch(f"{island.url}/interagir", objet=str(ident),
                                             **{"from": f"@rosa@{host_of(remote)}"})
        assert status == 200 and location is None and 'id="interaction-instructions"' in page
    assert remote.fetches == []
    status, page, location = await fetch(f"{island.url}/interagir", objet=str(ident),
                                         **{"from": f"@rosa@{host_of(remote)}"})
    assert status == 429 and location is None and 'id="interaction-error"' in page
