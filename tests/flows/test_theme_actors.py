"""Theme actors: one followable Group per theme, sharing every fiche of its theme, local or
received from another island; Undo when an item leaves the theme; Update/Delete to its followers."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import aiohttp
from sqlalchemy import func, select, update

from archipel import accounts, content
from archipel.storage.tables import CatalogSync, Delivery, LocalActor, OutgoingActivity, Share, utcnow
from federation import theme_actors
from tests.flows.test_fiches import publish_file
from tests.nodes import island_follows, wait_for

AS2 = {"Accept": "application/activity+json"}
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


async def get_json(url: str, **params) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(url, params=params, headers=AS2) as response:
        return response.status, await response.json(content_type=None) if response.status < 400 else {}


async def theme_actor(node, key: str) -> LocalActor | None:
    async with node.sessions() as session:
        return await accounts.theme_actor(session, key)


async def remote_follows(node, remote, username: str, name: str = "rosa") -> str:
    """The remote actor follows one of the island's actors; returns the followed actor's id."""
    target = node.actor_uri(username)
    status, _ = await remote.post(f"{target}/inbox", {
        "@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.url}/follows/{name}-{username}",
        "type": "Follow", "actor": remote.actor_uri(name), "object": target}, name=name)
    assert status == 202
    await wait_for(lambda: [a for a in remote.received_of_type("Accept") if a["actor"] == target],
                   message=f"Accept from {username}")
    return target


async def backfilled(node) -> None:
    async def done():
        async with node.sessions() as session:
            return await session.scalar(select(CatalogSync.id).where(CatalogSync.backfilled.is_(True)))

    await wait_for(done, message="the first catalog walk")


def of_actor(remote, kind: str, actor: str) -> list[dict]:
    return [a for a in remote.received_of_type(kind) if a["actor"] == actor]


async def test_a_theme_gets_an_actor_with_a_readable_handle_found_by_any_spelling(island):
    uri = await publish_file(island, "papi-brest.md", "alice")  # Médiation numérique, Inclusion, …
    actor = await theme_actor(island, "mediationnumerique")
    assert actor.username == "mediation-numerique" and actor.display_name == "Médiation numérique"
    assert actor.kind == "theme"
    host = island.url.split("://", 1)[1]
    for spelling in ("mediation-numerique", "MediationNumerique", "mediation_numerique", "Mediation-Numerique"):
        status, document = await get_json(f"{island.url}/.well-known/webfinger", resource=f"acct:{spelling}@{host}")
        assert status == 200, spelling
        assert document["subject"] == f"acct:mediation-numerique@{host}"
        [self_link] = [link for link in document["links"] if link["rel"] == "self"]
        assert self_link["href"] == island.actor_uri("mediation-numerique")
    status, _ = await get_json(f"{island.url}/.well-known/webfinger", resource=f"acct:nothing-here@{host}")
    assert status == 404

    status, document = await get_json(island.actor_uri("mediation-numerique"))
    assert status == 200 and document["type"] == "Group" and document["name"] == "Médiation numérique"
    assert document["preferredUsername"] == "mediation-numerique" and "Médiation numérique" in document["summary"]
    assert document["icon"]["url"].endswith("/users/mediation-numerique/avatar.png")
    assert document["image"]["url"].endswith("/users/mediation-numerique/header.png")
    status, featured = await get_json(document["featured"])
    assert featured["type"] == "OrderedCollection" and featured["orderedItems"] == [uri]
    assert featured["totalItems"] == 1


async def test_theme_handles_never_take_a_name_already_used_or_reserved(island):
    await island.add_user("inclusion")
    async with island.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        await content.create_article(session, base_url=island.url, author=alice, title="Rien", source="x")
        first = await theme_actors.ensure(session, "Inclusion")
        tags = await theme_actors.ensure(session, "Tags")
        again = await theme_actors.ensure(session, "#inclusion")
        empty = await theme_actors.ensure(session, "!!")
        await session.commit()
    assert first.username == "inclusion-theme" and again.id == first.id
    assert tags.username == "tags-theme" and empty is None
    host = island.url.split("://", 1)[1]
    # The person keeps their handle, in any case; the theme answers to its other spellings.
    status, document = await get_json(f"{island.url}/.well-known/webfinger", resource=f"acct:Inclusion@{host}")
    assert document["subject"] == f"acct:inclusion@{host}"
    status, document = await get_json(f"{island.url}/.well-known/webfinger", resource=f"acct:inclusion-theme@{host}")
    assert document["subject"] == f"acct:inclusion-theme@{host}"


async def test_sharing_twice_shares_once(island, remote):
    await publish_file(island, "papi-brest.md", "alice")
    await remote_follows(island, remote, "inclusion")
    uri = await publish_file(island, "papi-brest.md", "alice")
    async with island.sessions() as session:
        item = await content.get_object(session, uri)
        await theme_actors.sync_shares(session, island.url, item)
        await theme_actors.sync_shares(session, island.url, item)
        await session.commit()
        shares = await session.scalar(select(func.count(Share.id)).where(Share.object_uri == uri))
        announces = await session.scalar(select(func.count(OutgoingActivity.id)).where(
            OutgoingActivity.object_uri == uri, OutgoingActivity.activity_type == "Announce"))
    # One share per theme of the fiche; an Announce only where someone listens.
    assert shares == 3 and announces == 1


async def test_theme_followers_get_local_fiches_their_updates_and_their_deletion(island, remote):
    await publish_file(island, "papi-brest.md", "alice")  # the theme appears
    theme = await remote_follows(island, remote, "inclusion")
    uri = await publish_file(island, "papi-brest.md", "alice")
    [announce] = await wait_for(lambda: of_actor(remote, "Announce", theme), message="the theme's Announce")
    assert announce["object"] == uri and announce["to"] == [PUBLIC] and announce["cc"] == [f"{theme}/followers"]
    assert remote.received_of_type("Create") == []  # rosa follows the theme, not alice

    await island.update(uri, title="Les PAPI, mis à jour")
    [update] = await wait_for(lambda: remote.received_of_type("Update"), message="the Update")
    assert update["object"]["id"] == uri

    await island.withdraw(uri)
    [delete] = await wait_for(lambda: remote.received_of_type("Delete"), message="the Delete")
    assert delete["object"]["id"] == uri
    [undo] = await wait_for(lambda: of_actor(remote, "Undo", theme), message="the Undo")
    assert undo["object"]["id"] == announce["id"] and undo["object"]["object"] == uri
    assert all(entry["verified"] for entry in remote.received)


async def test_a_theme_actor_shares_fiches_of_other_islands_and_undoes_when_they_leave(make_island, remote):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await island_follows(nantes, brest)
    await backfilled(nantes)  # from now on fiches arrive live (a walk stores without sharing)
    first = await publish_file(brest, "papi-brest.md", "alice")
    await wait_for(lambda: theme_actor(nantes, "inclusion"), message="the theme on nantes")
    theme = await remote_follows(nantes, remote, "inclusion")

    second = await publish_file(brest, "papi-brest.md", "alice")
    [announce] = await wait_for(lambda: of_actor(remote, "Announce", theme), message="nantes's theme shares it")
    assert announce["object"] == second  # an id of brest, shared by nantes's theme actor
    status, featured = await get_json(f"{theme}/collections/featured")
    assert set(featured["orderedItems"]) == {first, second}

    # Brest takes "Inclusion" off the fiche: nantes's theme undoes its share.
    await brest.update(second, tags=["Médiation numérique"])
    [undo] = await wait_for(lambda: of_actor(remote, "Undo", theme), message="the Undo of the share")
    assert undo["object"]["id"] == announce["id"] and undo["object"]["type"] == "Announce"
    async with nantes.sessions() as session:
        assert await session.scalar(select(func.count(Share.id)).where(Share.object_uri == second)) == 1

    # Brest withdraws the first fiche: the share rosa could still see goes too.
    await brest.withdraw(first)
    undos = await wait_for(lambda: len(of_actor(remote, "Undo", theme)) == 2 and of_actor(remote, "Undo", theme),
                           message="the Undo after the withdrawal")
    assert undos[1]["object"]["object"] == first
    async with nantes.sessions() as session:
        assert await session.scalar(select(func.count(Share.id)).where(Share.object_uri == first)) == 0
    assert all(entry["verified"] for entry in remote.received)


async def test_webfinger_of_a_theme_actor_round_trips_like_mastodon_does(island):
    await publish_file(island, "papi-brest.md", "alice")
    status, actor = await get_json(island.actor_uri("education-populaire"))
    host = island.url.split("://", 1)[1]
    handle = f"acct:{actor['preferredUsername']}@{host}"
    status, document = await get_json(f"{island.url}/.well-known/webfinger?resource={quote(handle)}")
    assert [link["href"] for link in document["links"] if link["rel"] == "self"] == [actor["id"]]


async def test_themes_of_items_stored_before_theme_actors_become_followable(island):
    async with island.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        # Written straight through the domain, as before theme actors existed: no actor made.
        await content.create_article(session, base_url=island.url, author=alice, title="Ancien",
                                     source="x", tags=["Tiers-lieux"])
        await session.commit()
    assert await theme_actor(island, "tierslieux") is None
    host = island.url.split("://", 1)[1]
    status, document = await get_json(f"{island.url}/.well-known/webfinger", resource=f"acct:TiersLieux@{host}")
    assert status == 200 and document["subject"] == f"acct:tiers-lieux@{host}"
    assert (await theme_actor(island, "tierslieux")).display_name == "Tiers-lieux"
    # A theme nothing here carries is not invented.
    status, _ = await get_json(f"{island.url}/.well-known/webfinger", resource=f"acct:Inconnu@{host}")
    assert status == 404 and await theme_actor(island, "inconnu") is None


async def test_a_fiche_missed_live_is_shared_when_the_catch_up_walk_brings_it(make_island, remote):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await island_follows(nantes, brest)
    await backfilled(nantes)
    async with nantes.sessions() as session:
        await theme_actors.ensure(session, "Inclusion")
        await session.commit()
    theme = await remote_follows(nantes, remote, "inclusion")
    # Nantes is down while brest publishes, and brest gives up on those deliveries.
    await nantes.stop()
    missed = await publish_file(brest, "papi-brest.md", "alice")

    async def failing():
        return any(delivery.last_error for delivery in await brest.deliveries())

    await wait_for(failing, message="deliveries to the stopped island failing")
    async with brest.sessions() as session:
        await session.execute(update(Delivery).values(state="gave_up"))
        await session.commit()
    await nantes.restart()
    async with nantes.sessions() as session:  # the next catch-up walk is due now
        await session.execute(update(CatalogSync).values(next_run_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    await wait_for(lambda: nantes.object(missed), timeout=20, message="the catch-up walk")
    [announce] = await wait_for(lambda: of_actor(remote, "Announce", theme), message="the theme shares it")
    assert announce["object"] == missed and announce["actor"] == theme


async def test_fiches_walked_from_a_catalog_make_their_themes_followable_without_sharing(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    uri = await publish_file(brest, "papi-brest.md", "alice")  # before nantes follows: backfill
    await island_follows(nantes, brest)
    await wait_for(lambda: nantes.object(uri), message="the backfilled fiche")
    actor = await wait_for(lambda: theme_actor(nantes, "inclusion"), message="the theme on nantes")
    assert actor.username == "inclusion"
    async with nantes.sessions() as session:
        assert await session.scalar(select(func.count(Share.id))) == 0
