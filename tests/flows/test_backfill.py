"""Backfill on a new follow, resumable walks, and catch-up after an island was down."""

import asyncio
from datetime import timedelta

import aiohttp
from sqlalchemy import func, select, update

from archipel import accounts, content
from archipel.storage.tables import CatalogSync, Delivery, StoredObject, utcnow
from federation import actions
from federation.catalog_sync import CatalogSyncWorker
from tests.flows.test_fiches import snapshot_of
from tests.nodes import island_follows, wait_for
from web import appkeys


async def publish_many(node, count: int, prefix: str = "Fiche") -> list[str]:
    async with node.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        uris = []
        for n in range(count):
            item = await actions.publish_item(
                session, node.url, [alice], kind="fiche", title=f"{prefix} {n:03d}", source=f"Texte {n}",
                tags=["Médiation numérique"], data={"pitch": f"Accroche {n}",
                                                    "territory": {"place": "Brest"}, "steps": ["Un", "Deux"]})
            uris.append(item.uri)
        await session.commit()
    node.wake()
    return uris


async def replicated_count(node, origin) -> int:
    async with node.sessions() as session:
        return await session.scalar(select(func.count(StoredObject.id)).where(
            StoredObject.uri.like(f"{origin.url}/o/%"))) or 0


async def test_a_new_follow_backfills_everything_already_published(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    uris = await publish_many(brest, 300)
    await brest.update(uris[7], title="Fiche 007, corrigée")
    await brest.update(uris[7], title="Fiche 007, corrigée deux fois")
    await brest.withdraw(uris[9])

    await island_follows(nantes, brest)
    await wait_for(lambda: _all_there(nantes, brest, 300), timeout=60, message="300 fiches backfilled")
    for uri in (uris[0], uris[7], uris[299]):
        assert (await snapshot_of(nantes, uri))[0] == (await snapshot_of(brest, uri))[0]
    assert (await snapshot_of(nantes, uris[7]))[0]["name"] == "Fiche 007, corrigée deux fois"
    assert (await nantes.object(uris[9])).deleted_at is not None  # a tombstone: never re-created
    async with nantes.sessions() as session:
        sync = await session.scalar(select(CatalogSync))
        assert sync.backfilled and sync.items_applied == 300


async def _all_there(node, origin, count) -> bool:
    return await replicated_count(node, origin) == count


async def test_an_interrupted_walk_resumes_from_its_cursor_without_duplicates(make_island):
    brest = await make_island("brest")
    nantes = await make_island("nantes")
    await brest.add_user("alice")
    await publish_many(brest, 120)
    # Follow, but let no background walk run: the test walks one page at a time.
    nantes.app[appkeys.CATALOG_WORKER].max_pages = 0
    await island_follows(nantes, brest)
    for expected in (50, 100, 120, 120):
        walker = CatalogSyncWorker(nantes.sessions, nantes.directory_service, max_pages=1)  # as after a restart
        await walker.run_once()
        assert await replicated_count(nantes, brest) == expected
    async with nantes.sessions() as session:
        sync = await session.scalar(select(CatalogSync))
        assert sync.backfilled and sync.items_applied == 120


async def test_an_island_that_was_down_catches_up(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await island_follows(nantes, brest)
    await nantes.stop()
    missed = await publish_many(brest, 5, prefix="Pendant la panne")
    await wait_for(lambda: _deliveries_failed(brest), message="deliveries to the stopped island failing")
    await nantes.restart()
    async with nantes.sessions() as session:  # the next catch-up walk is due now
        await session.execute(update(CatalogSync).values(next_run_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    await wait_for(lambda: _all_there(nantes, brest, 5), timeout=20, message="catch-up")
    for uri in missed:
        assert (await snapshot_of(nantes, uri))[0] == (await snapshot_of(brest, uri))[0]
    # The retried deliveries arrive later: recognised, nothing duplicated.
    async with brest.sessions() as session:
        await session.execute(update(Delivery).where(Delivery.state == "pending").values(next_try_at=utcnow()))
        await session.commit()
    brest.wake()
    await wait_for(lambda: _no_pending(brest), timeout=20, message="the retried deliveries")
    assert await replicated_count(nantes, brest) == 5


async def _deliveries_failed(node) -> bool:
    return any(d.last_error for d in await node.deliveries())


async def _no_pending(node) -> bool:
    return all(d.state == "sent" for d in await node.deliveries())


async def test_two_workers_storing_the_same_item_never_fail(make_island, remote):
    """A catalog walk and the inbox worker may store one item at the same moment."""
    import asyncio

    from federation import replicas

    island = await make_island("brest")
    obj = {"id": f"{remote.url}/notes/1", "type": "Note", "attributedTo": remote.actor_uri("rosa"),
           "content": "<p>Bonjour</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"]}

    async def store_once():
        async with island.sessions() as session:
            try:
                await replicas.store(session, obj, remote.actor_uri("rosa"))
            except replicas.AlreadyStored:
                return "already"
            await session.commit()
            return "stored"

    outcomes = await asyncio.gather(store_once(), store_once(), store_once())
    assert sorted(outcomes) == ["already", "already", "stored"]


async def test_the_catalog_lists_items_in_the_order_they_last_changed_with_their_authors(make_island):
    """Pages walked by cursor give every item once, in the order of its last change (an update
    or a withdrawal moves it to the end), each with all its authors."""
    brest = await make_island("brest")
    await brest.add_user("alice")
    await brest.add_user("bob")
    uris = await publish_many(brest, 70)
    await asyncio.sleep(1.1)  # an update's moment is whole seconds: past every publication
    async with brest.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        for uri in (uris[3], uris[60], uris[0]):  # edited in this order, after every publication
            item = await session.scalar(select(StoredObject).where(StoredObject.uri == uri))
            await actions.edit_item(session, brest.url, item, editor=alice, tags=["Vélo"])
            await session.commit()
        item = await session.scalar(select(StoredObject).where(StoredObject.uri == uris[5]))
        await content.set_authors(session, item, [brest.actor_uri("alice"), brest.actor_uri("bob")])
        await session.commit()
    await brest.withdraw(uris[10])
    walked, authors, cursor = [], {}, ""
    async with aiohttp.ClientSession(headers={"Accept": "application/activity+json"}) as http:
        for _ in range(10):
            async with http.get(f"{brest.url}/users/{brest.island_username}/catalog", params={"after": cursor}) as answer:
                assert answer.status == 200
                page = await answer.json(content_type=None)
            if not page["orderedItems"]:
                break
            walked += [entry["id"] for entry in page["orderedItems"]]
            authors.update({entry["id"]: entry.get("coAuthors") for entry in page["orderedItems"]})
            cursor = page["next"].partition("after=")[2]
    async with brest.sessions() as session:
        changed = {item.uri: (item.updated or item.published, item.id) for item in await session.scalars(
            select(StoredObject).where(StoredObject.uri.in_(uris)))}
    assert walked == sorted(uris, key=changed.get)
    assert set(walked[-4:]) == {uris[0], uris[3], uris[10], uris[60]}  # changed after every publication
    assert authors[uris[5]] == [brest.actor_uri("alice"), brest.actor_uri("bob")]
    assert authors[uris[6]] == [brest.actor_uri("alice")]
