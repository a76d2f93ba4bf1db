"""The map: /carte, /carte.geojson (clusters by bbox and zoom), /carte/embed, /carte/communes."""

import json
import math
import re
from datetime import timedelta
from html import unescape

import aiohttp
import pytest

from archipel import geo
from archipel.storage.tables import StoredObject, utcnow
from tests.flows.test_federated_timeline import archipelago
from tests.map_items import place
from tests.nodes import wait_for


async def get(url: str, status: int = 200) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            body = await response.read()
            assert response.status == status, (url, response.status, body[:300])
            response.body = body
            return response


async def features(url: str) -> list[dict]:
    response = await get(url)
    assert response.content_type == "application/geo+json"
    collection = json.loads(response.body)
    assert collection["type"] == "FeatureCollection"
    for feature in collection["features"]:
        assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
    return collection["features"]


async def test_geojson_has_public_positioned_items_in_longitude_latitude_order(island):
    papi = await place(island, "alice", "PAPI de Brest", 48.39, -4.49, pitch="Internet pour toutes et tous")
    await place(island, "alice", "Sans position", None, None)
    await island.publish("alice", "Un article")
    found = await features(f"{island.url}/carte.geojson")
    assert len(found) == 1
    assert found[0]["geometry"]["coordinates"] == [-4.49, 48.39]
    assert found[0]["properties"] == {"id": papi, "url": papi, "name": "PAPI de Brest",
                                      "summary": "Internet pour toutes et tous", "kind": "fiche",
                                      "island": island.url.split("/")[2], "island_name": island.name}


async def test_withdrawn_items_leave_the_map_and_its_list(island):
    kept = await place(island, "alice", "Gardée", 48.39, -4.49)
    gone = await place(island, "alice", "Retirée", 47.22, -1.55)
    await island.withdraw(gone)
    assert [f["properties"]["id"] for f in await features(f"{island.url}/carte.geojson")] == [kept]
    clustered = await features(f"{island.url}/carte.geojson?bbox=-180,-90,180,90&zoom=2")
    assert sum(f["properties"].get("count", 1) for f in clustered) == 1
    page = (await get(f"{island.url}/carte")).body.decode()
    assert "Gardée" in page and "Retirée" not in page
    listed = page.split('<ol class="map-items">')[1].split("</ol>")[0]
    assert f"{island.name} (ici)" in listed  # our own item: the island's name, and « here »


async def test_filters_and_the_list_link(island):
    await place(island, "alice", "Fiche bretonne", 48.39, -4.49, place="Brest", tags=["Numérique"])
    await place(island, "alice", "Ressource nantaise", 47.22, -1.55, kind="resource", place="Nantes",
                language="br")

    async def names(query: str) -> set[str]:
        return {f["properties"]["name"] for f in await features(f"{island.url}/carte.geojson?{query}")}

    assert await names("") == {"Fiche bretonne", "Ressource nantaise"}
    assert await names("kind=resource") == {"Ressource nantaise"}
    assert await names("theme=numerique") == {"Fiche bretonne"}
    assert await names("q=nantes") == {"Ressource nantaise"}  # the search's words
    assert await names("place=Nantes") == {"Ressource nantaise"}  # and its facets
    assert await names("language=br") == {"Ressource nantaise"}
    assert await names(f"island={island.url.split('/')[2]}") == {"Fiche bretonne", "Ressource nantaise"}
    assert await names("island=ailleurs.example") == set()
    assert await names("kind=resource&bbox=-10,40,10,55&zoom=5") == {"Ressource nantaise"}

    page = (await get(f"{island.url}/carte?kind=resource&q=nantes")).body.decode()
    assert "Ressource nantaise" in page and "Fiche bretonne" not in page
    assert f'href="{island.url}/recherche?q=nantes&amp;kind=resource">Voir en liste</a>' in page
    embed = (await get(f"{island.url}/carte/embed?kind=fiche")).body.decode()
    assert "Fiche bretonne" in embed and "Ressource nantaise" not in embed


async def add_many(island, points: list[tuple[float, float]], first: int = 0) -> None:
    """Positioned fiches straight into the table (thousands in a second), numbered from `first`,
    each a second older than the one before."""
    now = utcnow()
    async with island.sessions() as session:
        session.add_all(StoredObject(uri=f"{island.url}/o/bulk{n}", is_local=True, type="Article",
                                     author_uri=f"{island.url}/users/alice", kind="fiche", name=f"Fiche {n}",
                                     latitude=lat, longitude=lon, published=now - timedelta(seconds=n))
                        for n, (lat, lon) in enumerate(points, start=first))
        await session.commit()


async def test_clusters_are_bounded_and_count_every_item_in_the_box(island):
    # A 40 x 40 lattice over metropolitan France, and 10 items outside the box asked for.
    lattice = [(42.0 + 9.0 * i / 39, -4.5 + 12.5 * j / 39) for i in range(40) for j in range(40)]
    await add_many(island, lattice + [(-33.9, 18.4)] * 10)
    box = "-5,41.5,8.5,51.5"
    for zoom in (0, 3, 5, 7, 9, 20):
        found = await features(f"{island.url}/carte.geojson?bbox={box}&zoom={zoom}")
        assert len(found) <= (geo.GRID_SIDE + 1) ** 2
        assert sum(f["properties"].get("count", 1) for f in found) == len(lattice), zoom
        assert all(-5 <= f["geometry"]["coordinates"][0] <= 8.5 for f in found)
    coarse = await features(f"{island.url}/carte.geojson?bbox={box}&zoom=3")
    assert len(coarse) < 50 and all(f["properties"].get("cluster") for f in coarse)
    # Zoomed in on one corner: each lattice point is alone in its cell, so it comes as an item.
    close = await features(f"{island.url}/carte.geojson?bbox=-4.6,41.9,-4.1,42.3&zoom=12")
    assert {f["properties"]["name"] for f in close} == {"Fiche 0", "Fiche 1"} | {"Fiche 40", "Fiche 41"}


async def test_high_zoom_gives_points_but_never_more_than_the_limit(island):
    await add_many(island, [(48.39, -4.49)] * (geo.MAX_POINTS + 5) + [(48.3901, -4.4901)] * 3)
    found = await features(f"{island.url}/carte.geojson?bbox=-4.5,48.38,-4.48,48.40&zoom=18")
    assert len(found) <= (geo.GRID_SIDE + 1) ** 2  # too many for points: clusters again
    assert sum(f["properties"].get("count", 1) for f in found) == geo.MAX_POINTS + 8
    few = await features(f"{island.url}/carte.geojson?bbox=-4.4902,48.39005,-4.49,48.3902&zoom=18")
    assert len(few) == 3 and not any(f["properties"].get("cluster") for f in few)


@pytest.mark.parametrize("query", [
    "bbox=NaN,40,10,50&zoom=5", "bbox=-10,40,10&zoom=5", "bbox=a,b,c,d&zoom=5", "bbox=-10,inf,10,50&zoom=5",
    "bbox=10,40,-10,50&zoom=5", "bbox=-10,50,10,40&zoom=5", "bbox=-10,40,10,50&zoom=1e3",
    "bbox=-10,40,10,50&zoom=cinq", "bbox=-10,40,10,50&zoom=99999999", "bbox=200,95,300,99&zoom=5",
])
async def test_hostile_parameters_are_refused(island, query):
    await get(f"{island.url}/carte.geojson?{query}", status=400)


async def test_out_of_range_boxes_and_zooms_are_clamped(island):
    await add_many(island, [(48.39, -4.49)] * geo.MAX_POINTS + [(-33.9, 18.4)])
    found = await features(f"{island.url}/carte.geojson?bbox=-900,-100,900,100&zoom=5000")
    assert sum(f["properties"].get("count", 1) for f in found) == geo.MAX_POINTS + 1


async def test_only_the_embed_page_may_be_framed_and_it_sets_no_cookie(island):
    await place(island, "alice", "PAPI de Brest", 48.39, -4.49)
    for path in ("/carte", "/", "/federated"):
        response = await get(f"{island.url}{path}")
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
    embed = await get(f"{island.url}/carte/embed?lang=en&kind=fiche")
    assert "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    assert "img-src 'self';" in embed.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in embed.headers
    assert "PAPI de Brest" in embed.body.decode()


async def test_tiles_setting_allows_that_host_only_on_map_pages(make_island):
    island = await make_island("brest", map_tiles="https://tuiles.example:8443/osm/{z}/{x}/{y}.png",
                               map_tiles_attribution="© contributeurs OpenStreetMap")
    page = await get(f"{island.url}/carte")
    assert "img-src 'self' https://tuiles.example:8443;" in page.headers["Content-Security-Policy"]
    assert 'data-tiles="https://tuiles.example:8443/osm/{z}/{x}/{y}.png"' in page.body.decode()
    assert "© contributeurs OpenStreetMap" in page.body.decode()
    home = await get(f"{island.url}/")
    assert "img-src 'self';" in home.headers["Content-Security-Policy"]


async def test_replicated_items_are_on_the_following_islands_map(make_island):
    brest, nantes = await archipelago(make_island)
    uri = await place(brest, "alice", "PAPI de Brest", 48.39, -4.49)
    await wait_for(lambda: nantes.object(uri), message="replication")
    found = await features(f"{nantes.url}/carte.geojson")
    assert [f["properties"]["id"] for f in found] == [uri]
    host = brest.url.split("/")[2]
    assert found[0]["properties"]["island"] == host  # the key for programs
    assert found[0]["properties"]["island_name"] == "Île brest"  # what the popup shows
    assert found[0]["properties"]["url"].startswith(f"{nantes.url}/r/")  # our copy's page
    [clustered] = await features(f"{nantes.url}/carte.geojson?bbox=-5,48,-4,49&zoom=18")
    assert clustered["properties"]["island_name"] == "Île brest"
    # The list beside the map (its text alternative) names the island too, never its host.
    listed = (await get(f"{nantes.url}/carte")).body.decode().split('<ol class="map-items">')[1].split("</ol>")[0]
    assert "PAPI de Brest" in listed and "Île brest" in listed and host not in listed.split("</a>")[1]


async def test_commune_lookup(island):
    async def lookup(q):
        return json.loads((await get(f"{island.url}/carte/communes?q={q}")).body)

    brest = await lookup("brest")
    assert brest[0]["name"] == "Brest" and brest[0]["departement"] == "29" and brest[0]["region"] == "Bretagne"
    assert math.isclose(brest[0]["latitude"], 48.39, abs_tol=0.01)
    assert math.isclose(brest[0]["longitude"], -4.49, abs_tol=0.01)
    assert (await lookup("Besancon"))[0]["name"] == "Besançon"
    saint = await lookup("saint")
    assert len(saint) == 10 and all(c["name"].startswith("Saint") for c in saint)
    populations = [c["population"] for c in saint]
    assert populations == sorted(populations, reverse=True) and populations[0] > 100_000
    assert (await lookup("29200"))[0]["name"] == "Brest"
    assert await lookup("") == [] and await lookup("zzzz") == []


def png_tile() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (170, 211, 223)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_a_self_hosted_pmtiles_file_is_served_by_ranges(make_island, tmp_path):
    from tests.map_items import write_pmtiles

    island = await make_island("brest", map_tiles="fond.pmtiles", map_tiles_attribution="Fond maison")
    write_pmtiles(island.directory / "fond.pmtiles", png_tile())
    page = await get(f"{island.url}/carte")
    assert "img-src 'self' blob:;" in page.headers["Content-Security-Policy"]
    assert f'data-pmtiles="{island.url}/carte/fond.pmtiles"' in page.body.decode()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{island.url}/carte/fond.pmtiles", headers={"Range": "bytes=0-7"}) as response:
            assert response.status == 206 and await response.read() == b"PMTiles\x03"
    other = await make_island("nantes")
    await get(f"{other.url}/carte/fond.pmtiles", status=404)


async def test_the_list_beside_a_filtered_map_pages_through_every_match_once(island):
    """A search's list (words or choices) pages by the `before` cursor of its last item, as the
    whole map's does: past the first LIST_SIZE items, none lost, none twice."""
    from web.routes.map import LIST_SIZE

    for n in range(LIST_SIZE + 3):
        await place(island, "alice", f"Fiche n{n}", 48.0 + n / 1000, -4.0)
    await place(island, "alice", "Ressource à part", 47.0, -1.5, kind="resource")

    def names(page: str) -> list[str]:
        return re.findall(r'<li data-id="\d+"[^>]*>\s*<a href="[^"]*">(Fiche n\d+|Ressource à part)</a>', page)

    first = (await get(f"{island.url}/carte?kind=fiche")).body.decode()
    [following] = re.findall(r'href="([^"]*)" rel="next"', first)
    second = (await get(unescape(following))).body.decode()  # an absolute address
    seen = names(first) + names(second)
    assert len(names(first)) == LIST_SIZE and "before=" in unescape(following)
    assert sorted(seen) == sorted(f"Fiche n{n}" for n in range(LIST_SIZE + 3))  # the resource is filtered out
