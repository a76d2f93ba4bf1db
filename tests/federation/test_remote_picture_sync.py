"""Which remote pictures are wanted is read incrementally: between two rare full passes, a pass
reads only the actors and replicas changed since the last one, and still adds a new avatar or
cover and removes the one nothing shows any more. A real island (workers stepped by the test)
and a picture host on loopback."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from archipel import remote_media
from archipel.storage.tables import RemoteActor, RemoteImage, StoredObject, utcnow
from federation.remote_images import RemoteImageWorker
from tests.images import picture_worker, png
from tests.query_plans import plan


def incremental_worker(node) -> RemoteImageWorker:
    """Syncs at every round; a full pass only the first time (then incremental ones)."""
    worker = picture_worker(node)
    worker.full_sync_every = 3600.0
    return worker


async def add_actor(node, number: int, icon: str | None) -> int:
    async with node.sessions() as session:
        uri = f"https://far.example/users/u{number}"
        actor = RemoteActor(uri=uri, host="far.example", type="Person", inbox=f"{uri}/inbox", icon_url=icon,
                            document={})
        session.add(actor)
        await session.commit()
        return actor.id


async def change_actor(node, actor_id: int, icon: str | None, *, as_a_store: bool = True) -> None:
    async with node.sessions() as session:
        actor = await session.get(RemoteActor, actor_id)
        actor.icon_url = icon
        if as_a_store:
            actor.fetched_at = utcnow()  # as ActorDirectory.store does on every fetch or Update
        await session.commit()


async def add_replica(node, number: int, cover: str) -> int:
    async with node.sessions() as session:
        item = StoredObject(uri=f"https://far.example/items/{number}", is_local=False, type="Article",
                            author_uri="https://far.example/users/u0", cover={"url": cover, "name": ""})
        session.add(item)
        await session.commit()
        return item.id


async def images(node) -> dict[str, str]:
    async with node.sessions() as session:
        return {row.url: row.state for row in await session.scalars(select(RemoteImage))}


def stored_file(node, url: str):
    return remote_media.file_path(node.settings.effective_media_directory, remote_media.image_key(url))


async def test_a_changed_avatar_is_picked_up_and_the_old_one_removed_between_full_passes(
        make_island, pictures):
    node = await make_island("suivi", workers=False)
    old, new = pictures.put("/old.png", png(8, 8)), pictures.put("/new.png", png(9, 9))
    actor_id = await add_actor(node, 0, old)
    worker = incremental_worker(node)
    await worker.run_once()  # the full pass
    assert await images(node) == {old: "stored"}
    assert stored_file(node, old).is_file()
    full_at = worker._full_synced_at

    await change_actor(node, actor_id, new)
    await worker.run_once()
    assert worker._full_synced_at == full_at  # an incremental pass did it
    assert await images(node) == {new: "stored"}
    assert not stored_file(node, old).exists()

    await change_actor(node, actor_id, None)  # the avatar dropped altogether
    await worker.run_once()
    assert await images(node) == {}
    assert not stored_file(node, new).exists()


async def test_an_incremental_pass_reads_only_the_rows_changed_since_its_mark(make_island, pictures):
    node = await make_island("mesure", workers=False)
    ids = [await add_actor(node, number, pictures.put(f"/{number}.png", png(8, 8))) for number in range(30)]
    cover = await add_replica(node, 0, pictures.put("/cover.png", png(8, 8)))
    async with node.sessions() as session:
        assert len(await remote_media.shown_pictures(session)) == 31
        mark = await remote_media.sync_mark(session)
        assert await remote_media.shown_pictures(session, since=mark) == {
            ("actor", actor_id): (pictures.url + f"/{number}.png", "avatar") for number, actor_id in enumerate(ids)
        }  # stored within the overlap before the mark: read again, once
    async with node.sessions() as session:
        far_back = remote_media.SyncMark(utcnow() + remote_media.MARK_OVERLAP, mark.object_id)
        assert await remote_media.shown_pictures(session, since=far_back) == {}
    await change_actor(node, ids[7], pictures.url + "/seven.png")
    replica = await add_replica(node, 1, pictures.url + "/cover-2.png")
    async with node.sessions() as session:
        changed = await remote_media.shown_pictures(session, since=far_back)
    assert changed == {("actor", ids[7]): (pictures.url + "/seven.png", "avatar"),
                       ("object", replica): (pictures.url + "/cover-2.png", "cover")}
    assert ("object", cover) not in changed


async def test_covers_follow_updates_and_deletions_of_replicas(make_island, pictures):
    node = await make_island("couvertures", workers=False)
    first, second = pictures.put("/c1.png", png(8, 8)), pictures.put("/c2.png", png(8, 8))
    worker = incremental_worker(node)
    await worker.run_once()  # the full pass, on nothing yet
    item_id = await add_replica(node, 0, first)  # a new replica: found by its id
    await worker.run_once()
    assert await images(node) == {first: "stored"}
    async with node.sessions() as session:
        item = await session.get(StoredObject, item_id)
        item.cover, item.updated = {"url": second, "name": ""}, utcnow()  # as replicas.update does
        await session.commit()
    await worker.run_once()
    assert await images(node) == {second: "stored"}
    async with node.sessions() as session:
        item = await session.get(StoredObject, item_id)
        # A Delete marks the row withdrawn; its `updated` (the other server's clock) may be old.
        item.deleted_at, item.updated = utcnow(), utcnow() - timedelta(days=30)
        await session.commit()
    await worker.run_once()
    assert await images(node) == {}


async def test_a_picture_two_rows_show_stays_while_one_still_shows_it(make_island, pictures):
    node = await make_island("partage", workers=False)
    shared = pictures.put("/shared.png", png(8, 8))
    first = await add_actor(node, 0, shared)
    await add_actor(node, 1, shared)
    worker = incremental_worker(node)
    await worker.run_once()
    await change_actor(node, first, None)
    await worker.run_once()
    assert await images(node) == {shared: "stored"}


async def test_what_an_incremental_pass_misses_the_full_pass_finds(make_island, pictures):
    node = await make_island("rattrapage", workers=False)
    old, new = pictures.put("/old.png", png(8, 8)), pictures.put("/new.png", png(9, 9))
    actor_id = await add_actor(node, 0, old)
    worker = incremental_worker(node)
    await worker.run_once()
    async with node.sessions() as session:  # changed long ago, as a late transaction would show it
        actor = await session.get(RemoteActor, actor_id)
        actor.icon_url, actor.fetched_at = new, utcnow() - remote_media.MARK_OVERLAP * 3
        await session.commit()
    await worker.run_once()
    assert await images(node) == {old: "stored"}
    worker.full_sync_every = 0.0
    await worker.run_once()
    assert await images(node) == {new: "stored"}


async def test_an_incremental_pass_reads_replicas_through_indexes_only(make_island):
    """An island holding 100,000 replicas runs this every ten seconds, with nothing to do."""
    node = await make_island("plans", workers=False)
    async with node.sessions() as session:
        mark = await remote_media.sync_mark(session)
        explained = await plan(session, remote_media.covers_shown(mark))
    # SQLite: "SCAN objects" walks the table, "SEARCH objects USING INDEX … (is_local=?)" walks
    # every replica; PostgreSQL (scans forbidden) must bound each of the three ranges by an index.
    assert "SCAN objects" not in explained and "Seq Scan on objects" not in explained, explained
    assert "(is_local=?)" not in explained, explained
    if "Index Cond" in explained:
        assert explained.count("Index Cond") == 3, explained
