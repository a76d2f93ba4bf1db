"""Backfill on a new follow, resumable walks, and catch-up after an island was down."""

from datetime import timedelta

from sqlalchemy import func, select, update

from archipel import accounts
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
