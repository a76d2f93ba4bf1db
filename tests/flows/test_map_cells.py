"""The map's cells kept per zoom (archipel/map_cells.py), SQLite and PostgreSQL alike: after
creations, moves, withdrawals, hiding, replicas that change, and follows that change, they sum to
what counting the items gives at every zoom; the map answers the same from either; compaction
and `archipel reindex` leave the same sums."""

import json

import aiohttp
from sqlalchemy import delete, func, select, update

from archipel import accounts, content, geo, map_cells, search
from archipel.storage.tables import Follow, MapCell, StoredObject, utcnow
from federation import actions
from tests.map_items import place
from tests.nodes import island_follows, wait_for
from web import cli

# Every kind the map shows: a filter that lets everything through, so that the items are
# counted instead of the kept cells being read.
EVERY_KIND = "&".join(f"kind={kind}" for kind in geo.KINDS)
VIEWS = ["-180,-85,180,85&zoom=2", "-5.5,41,10,51.5&zoom=6", "-5.2,47,-1,49&zoom=8",
         "-4.56,48.36,-4.41,48.42&zoom=12", "-4.56,48.36,-4.41,48.42&zoom=13", "-4.6,48.3,-4.4,48.5&zoom=20"]


async def assert_kept_equal_counted(node) -> int:
    """At every kept zoom, over the whole world: the kept cells of the origins shown equal the
    cells counted from the items the map shows. The number of items."""
    async with node.sessions() as session:
        shown = geo.kept_origins(search.SearchRequest())
        for zoom in range(map_cells.KEPT_ZOOM + 1):
            world = ((0, 4 * 2 ** zoom), (0, 2 * 2 ** zoom))
            kept = await map_cells.cells(session, zoom, *world, shown)
            counted = await geo.counted_cells(session, zoom, *world)
            assert kept == counted, zoom
        total, _ = await geo.overview(session, kept=shown)
        assert total == (await geo.overview(session))[0]
        return total


async def geojson(node, query: str) -> list:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.url}/carte.geojson?{query}") as response:
            assert response.status == 200
            return (await response.json())["features"]


async def assert_same_answers(node) -> None:
    """Each view's GeoJSON from the kept cells (no filter) equals the one counted (a filter
    letting every item through)."""
    for view in VIEWS:
        assert await geojson(node, f"bbox={view}") == await geojson(node, f"bbox={view}&{EVERY_KIND}"), view


async def move(node, uri: str, lat: float, lon: float) -> None:
    async with node.sessions() as session:
        item = await content.get_local_object(session, uri)
        alice = await accounts.get_actor(session, "alice")
        territory = {**(item.fields.get("territory") or {}), "latitude": lat, "longitude": lon}
        await actions.edit_item(session, node.url, item, editor=alice, data={**item.fields, "territory": territory})
        await session.commit()
    node.wake()


async def test_kept_cells_follow_items_replicas_and_follows(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await nantes.add_user("alice")
    await island_follows(nantes, brest)
    theirs = [await place(brest, "alice", f"Fiche brestoise {n}", 48.38 + n / 1000, -4.48 - n / 1000)
              for n in range(4)]
    theirs.append(await place(brest, "alice", "Ressource quimpéroise", 47.996, -4.102, kind="resource"))
    ours = [await place(nantes, "alice", "Fiche nantaise", 47.218, -1.554),
            await place(nantes, "alice", "Fiche nantaise voisine", 47.2181, -1.5541),
            await place(nantes, "alice", "Sans position", None, None)]
    for uri in theirs:
        await wait_for(lambda uri=uri: nantes.object(uri), timeout=30, message="replication")
    assert await assert_kept_equal_counted(nantes) == 7
    await assert_same_answers(nantes)

    # A replica moves (its cells change on both islands), one is withdrawn, one of ours hidden.
    await move(brest, theirs[0], 43.296, 5.370)

    async def moved():
        replica = await nantes.object(theirs[0])
        return replica.latitude == 43.296
    await wait_for(moved, timeout=30, message="the move")
    await brest.withdraw(theirs[1])

    async def withdrawn():
        return (await nantes.object(theirs[1])).deleted_at is not None
    await wait_for(withdrawn, timeout=30, message="the withdrawal")
    await move(nantes, ours[1], 45.764, 4.836)
    async with nantes.sessions() as session:
        hidden = await content.get_local_object(session, ours[0])
        hidden.hidden_at = hidden.published
        await session.commit()
    assert await assert_kept_equal_counted(nantes) == 5
    assert await assert_kept_equal_counted(brest) == 4
    await assert_same_answers(nantes)

    # Brest's items leave Nantes's map as soon as Nantes stops following it: the cells of
    # every origin are kept, the read sums those shown.
    async with nantes.sessions() as session:
        await session.execute(update(Follow).values(state="rejected"))
        await session.commit()
    assert await assert_kept_equal_counted(nantes) == 1
    await assert_same_answers(nantes)
    async with nantes.sessions() as session:
        await session.execute(update(Follow).values(state="accepted"))
        await session.commit()
    assert await assert_kept_equal_counted(nantes) == 5

    # Folding the rows changes no sum; a second time finds nothing to fold.
    async with nantes.sessions() as session:
        assert await map_cells.compact(session) > 0
        await session.commit()
    async with nantes.sessions() as session:
        assert await map_cells.compact(session) == 0
        rows = await session.scalar(select(func.count()).select_from(MapCell))
    assert await assert_kept_equal_counted(nantes) == 5
    await assert_same_answers(nantes)

    # `archipel reindex` rebuilds them from the items.
    async with nantes.sessions() as session:
        await session.execute(delete(MapCell))
        await session.commit()
        assert (await geo.overview(session, kept=geo.kept_origins(search.SearchRequest())))[0] == 0
    await cli.cmd_reindex(type("Args", (), {"directory": str(nantes.directory)}))
    assert await assert_kept_equal_counted(nantes) == 5
    async with nantes.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(MapCell)) == rows


async def test_an_island_filter_is_read_from_the_kept_cells(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await nantes.add_user("alice")
    await island_follows(nantes, brest)
    theirs = await place(brest, "alice", "Fiche brestoise", 48.39, -4.49)
    await place(nantes, "alice", "Fiche nantaise", 47.218, -1.554)
    await wait_for(lambda: nantes.object(theirs), timeout=30, message="replication")
    host = brest.url.split("/")[2]
    assert geo.kept_origins(search.SearchRequest.from_params({"island": host})) is not None
    assert geo.kept_origins(search.SearchRequest.from_params({"region": "Bretagne"})) is None
    assert geo.kept_origins(search.SearchRequest.from_params({"q": "fiche"})) is None
    found = await geojson(nantes, f"bbox=-180,-85,180,85&zoom=2&island={host}")
    assert [f["properties"]["name"] for f in found] == ["Fiche brestoise"]
    assert found == await geojson(nantes, f"bbox=-180,-85,180,85&zoom=2&island={host}&{EVERY_KIND}")


async def test_clusters_are_the_cells_the_box_touches_whole(island):
    """An item just outside the box counts with its cell, whole; one a cell away does not. The
    cluster is where its items are, whatever the box: it stays put when the map pans."""
    size = map_cells.cell_size(6)  # 1.40625 degrees
    # Cell x = 124, y = 98 at zoom 6: longitude -5.625 to -4.21875, latitude 47.8125 to 49.21875.
    for lat, lon in [(48.0, -5.0), (48.5, -4.5), (49.0, -5.5)]:
        await place(island, "alice", "Fiche", lat, lon)
    await place(island, "alice", "Loin", 48.5, -5.625 - size / 2)  # the next cell to the west
    for box in ("-4.9,47.9,-3,48.6", "-5.6,48.9,-5.0,49.1", "-4.3,47.85,-4.22,47.9"):
        found = await geojson(island, f"bbox={box}&zoom=6")
        assert [(f["properties"]["count"], f["geometry"]["coordinates"]) for f in found] == [
            (3, [round((-5.0 - 4.5 - 5.5) / 3, 6), 48.5])], box
    assert sum(f["properties"].get("count", 1) for f in await geojson(island, "bbox=-5.7,47.9,-3,48.6&zoom=6")) == 4
    page_total = json.dumps(await geojson(island, "bbox=-180,-85,180,85&zoom=0"))
    assert '"count": 4' in page_total


async def test_an_item_for_followers_only_is_on_no_view(island):
    """The map shows what the search indexes, whichever way a view is answered."""
    await place(island, "alice", "Publique", 48.39, -4.49)
    async with island.sessions() as session:
        session.add(StoredObject(uri=f"{island.url}/o/abonnes", is_local=True, type="Article", public=False,
                                 author_uri=f"{island.url}/users/alice", kind="fiche", name="Pour les abonnés",
                                 latitude=48.3901, longitude=-4.4901, published=utcnow()))
        await session.commit()
    for view in VIEWS + ["-4.5,48.38,-4.48,48.40&zoom=18"]:
        for query in (f"bbox={view}", f"bbox={view}&{EVERY_KIND}"):
            assert sum(f["properties"].get("count", 1) for f in await geojson(island, query)) == 1, query
    assert [f["properties"]["name"] for f in await geojson(island, "")] == ["Publique"]
    async with island.sessions() as session:
        assert (await geo.overview(session))[0] == 1
