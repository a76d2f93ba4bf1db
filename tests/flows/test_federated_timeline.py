"""The federated timeline: local and replicated items, filters, cursor paging, live stream."""

import asyncio
import json

import aiohttp

from archipel import accounts
from federation import actions
from tests.flows.test_fiches import publish_file
from tests.nodes import island_follows, wait_for


async def archipelago(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await nantes.add_user("bob")
    await island_follows(nantes, brest)
    return brest, nantes


async def get(url: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            assert response.status == 200, url
            return await response.text()


async def test_timeline_shows_local_and_replicated_items_with_filters(make_island):
    brest, nantes = await archipelago(make_island)
    papi = await publish_file(brest, "papi-brest.md", "alice")
    atelier = await publish_file(brest, "atelier-wiki.md", "alice")
    local = await nantes.publish("bob", "Un article nantais", "Texte.", tags=["Vélo"])
    # Deliveries run side by side: the two may arrive in either order.
    for uri in (papi, atelier):
        await wait_for(lambda uri=uri: nantes.object(uri), message="replication")

    page = await get(f"{nantes.url}/federated")
    assert f'href="{local}"' in page  # ours, at its own URL
    for title in ("Les Points d&#39;Accès Public à Internet de Brest", "Atelier « contribuer à un wiki"):
        assert title in page  # replicas, at their local pages
    host = brest.url.split("//")[1]
    assert f"{nantes.url}/federated/islands/{host}" in page

    papi_title, atelier_title = "Les Points d&#39;Accès Public", "Atelier « contribuer à un wiki"
    only_brest = await get(f"{nantes.url}/federated?island={host}")
    assert papi_title in only_brest and local not in only_brest
    resources = await get(f"{nantes.url}/federated?type=resource")
    assert atelier_title in resources and papi_title not in resources
    theme = await get(f"{nantes.url}/federated?theme=MediationNumerique")
    assert papi_title in theme and atelier_title not in theme
    territory = await get(f"{nantes.url}/federated?territory=bretagne")
    assert papi_title in territory and local not in territory
    assert local not in await get(f"{nantes.url}/federated?language=en")

    state = await get(f"{nantes.url}/federated/islands/{host}")
    assert "<dd>2</dd>" in state and "Nous la suivons" not in state  # the follow is not public


async def test_cursor_paging_neither_skips_nor_repeats(make_island):
    nantes = await make_island("nantes")
    await nantes.add_user("bob")
    async with nantes.sessions() as session:
        bob = await accounts.get_actor(session, "bob")
        for n in range(35):
            await actions.publish_item(session, nantes.url, [bob], title=f"Article {n:02d}", source="x")
        await session.commit()
    first = await get(f"{nantes.url}/federated")
    assert first.count('class="card"') == 30
    next_link = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    await nantes.publish("bob", "Arrivé entre deux pages", "x")  # must not shift the second page
    second = await get(next_link)
    assert second.count('class="card"') == 5 and 'rel="next"' not in second
    titles = [f"Article {n:02d}" for n in range(35)]
    assert all((t in first) != (t in second) for t in titles)


async def test_the_stream_sends_new_items_matching_the_filters(make_island):
    brest, nantes = await archipelago(make_island)
    page = await get(f"{nantes.url}/federated?type=fiche")
    stream_url = page.split('data-stream="')[1].split('"')[0].replace("&amp;", "&")
    events = []

    async def listen():
        async with aiohttp.ClientSession() as http:
            async with http.get(stream_url) as response:
                assert response.headers["Content-Type"] == "text/event-stream"
                async for line in response.content:
                    if line.startswith(b"data: "):
                        events.append(json.loads(line[6:])["html"])

    listener = asyncio.create_task(listen())
    try:
        await asyncio.sleep(0.3)
        await brest.publish("alice", "Un article, pas une fiche", "x")
        fiche = await publish_file(brest, "papi-brest.md", "alice")
        await wait_for(lambda: events, timeout=15, message="an event")
        await asyncio.sleep(1.5)
    finally:
        listener.cancel()
    assert len(events) == 1 and "Les Points d&#39;Accès Public à Internet de Brest" in events[0]
    assert fiche  # published on brest; the card links to its local replica page on nantes


async def test_an_open_stream_does_not_hold_the_island_when_it_stops(make_island):
    """A reader left on the live timeline: stopping the island ends the stream at once instead
    of waiting for the reader to go (aiohttp would wait up to its shutdown timeout)."""
    brest, nantes = await archipelago(make_island)
    page = await get(f"{nantes.url}/federated")
    stream_url = page.split('data-stream="')[1].split('"')[0].replace("&amp;", "&")
    opened = asyncio.Event()

    async def listen():
        async with aiohttp.ClientSession() as http:
            async with http.get(stream_url) as response:
                opened.set()
                async for _ in response.content:
                    pass

    listener = asyncio.create_task(listen())
    try:
        await asyncio.wait_for(opened.wait(), 10)
        await asyncio.wait_for(nantes.stop(), 10)
        await asyncio.wait_for(listener, 5)  # the island ended the stream
    finally:
        listener.cancel()
