"""Three islands: a mesh of follows, a ring of hubs (no duplicates, no loops), spoofed updates refused."""

import asyncio

from sqlalchemy import func, select

from archipel.storage.tables import OutgoingActivity, StoredObject
from tests.flows.test_fiches import publish_file, snapshot_of
from tests.nodes import island_follows, wait_for


async def same_everywhere(origin, others, uri, check) -> None:
    async def ok():
        for node in others:
            snapshot = await snapshot_of(node, uri)
            if snapshot is None or not check(snapshot):
                return False
        return True

    # A bound for a loaded machine: the suite's load once held a step of the ring past 60 s (the
    # cause was not found; one delivery retried after its first backoff, 16–76 s, would do it).
    await wait_for(ok, timeout=150, message=f"{uri} on every island")


async def publish_update_withdraw_everywhere(origin, others):
    uri = await publish_file(origin, "papi-brest.md", "alice")
    await same_everywhere(origin, others, uri, lambda s: True)
    await origin.update(uri, title="Mis à jour à l'origine")
    await same_everywhere(origin, others, uri, lambda s: s[0]["name"] == "Mis à jour à l'origine")
    original = await snapshot_of(origin, uri)
    for node in others:
        assert (await snapshot_of(node, uri))[0] == original[0]
    await origin.withdraw(uri)
    await same_everywhere(origin, others, uri, lambda s: s[2].deleted_at is not None)
    return uri


async def outgoing_count(node) -> int:
    async with node.sessions() as session:
        return await session.scalar(select(func.count(OutgoingActivity.id))) or 0


async def test_a_mesh_of_islands(make_island):
    a, b, c = [await make_island(name) for name in ("brest", "nantes", "lyon")]
    await a.add_user("alice")
    for follower in (a, b, c):
        for followed in (a, b, c):
            if follower is not followed:
                await island_follows(follower, followed)
    await publish_update_withdraw_everywhere(a, [b, c])


async def test_a_ring_of_hubs_replicates_once_and_stops(make_island):
    """brest <- nantes <- lyon <- brest: each follows the next and re-shares what it receives."""
    a, b, c = [await make_island(name, hub=True) for name in ("brest", "nantes", "lyon")]
    await a.add_user("alice")
    await island_follows(b, a)
    await island_follows(c, b)
    await island_follows(a, c)
    uri = await publish_update_withdraw_everywhere(a, [b, c])  # lyon only hears of it through nantes
    for node in (a, b, c):
        async with node.sessions() as session:
            assert await session.scalar(select(func.count(StoredObject.id)).where(StoredObject.uri == uri)) == 1
    settled = [await outgoing_count(node) for node in (a, b, c)]
    await asyncio.sleep(2)  # a loop would keep re-sharing
    assert [await outgoing_count(node) for node in (a, b, c)] == settled


async def test_an_island_cannot_update_another_islands_fiche(make_island, remote):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await island_follows(nantes, brest)
    uri = await publish_file(brest, "papi-brest.md", "alice")
    await wait_for(lambda: nantes.object(uri), message="the fiche on nantes")
    spoofed = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.url}/updates/1",
               "type": "Update", "actor": remote.actor_uri("rosa"),
               "object": {"id": uri, "type": "Article", "attributedTo": brest.actor_uri("alice"),
                          "name": "Réécrit par quelqu'un d'autre", "updated": "2030-01-01T00:00:00Z"}}
    status, _ = await remote.post(f"{nantes.url}/inbox", spoofed)
    assert status == 202

    async def settled():
        rows = [r for r in await nantes.incoming() if r.activity_uri == f"{remote.url}/updates/1"]
        return rows and rows[0].state != "received" and rows[0]

    row = await wait_for(settled, message="the spoofed update to be settled")
    assert row.state == "ignored" and "foreign host" in row.last_error
    assert (await nantes.object(uri)).name == "Les Points d'Accès Public à Internet de Brest"
