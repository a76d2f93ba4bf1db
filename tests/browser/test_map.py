"""The map in Chromium: markers and clusters drawn from /carte.geojson, the list beside them, the
embed page, the item form's place picker; axe on each; and no request leaving the island."""

from __future__ import annotations

import re

from tests.browser.conftest import axe_violations, describe_violations
from tests.browser.test_authoring import log_in, open_sections
from tests.map_items import place
from tests.nodes import wait_for
from tests.web.test_map import add_many
from web.routes.map import LIST_SIZE
from web.search_guard import GATE


async def watch_requests(page, island, seen: list[str] | None = None) -> list[str]:
    """Every request the page makes (into `seen`); any not to the island is aborted and recorded."""
    outside: list[str] = []

    async def check(route):
        if seen is not None:
            seen.append(route.request.url)
        if route.request.url.startswith(island.url + "/"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", check)
    return outside


async def assert_accessible(page) -> None:
    violations = await axe_violations(page)
    assert not violations, f"axe on {page.url}:\n{describe_violations(violations)}"


async def test_the_map_shows_clusters_markers_and_the_list_and_stays_on_the_island(island, page):
    seen: list[str] = []
    outside = await watch_requests(page, island, seen)
    await place(island, "alice", "PAPI de Brest", 48.39, -4.49, pitch="Internet pour toutes et tous")
    await place(island, "alice", "Atelier nantais", 47.22, -1.55, kind="resource")
    await add_many(island, [(43.6 + i * 0.001, 3.87) for i in range(30)])  # Montpellier: a cluster
    await add_many(island, [(50.63, 3.06)] * 1500, first=30)  # Lille: a large one, in one cell

    await page.goto(f"{island.url}/carte")
    await page.wait_for_selector("#map[data-loaded]")
    clusters = page.locator("#map .leaflet-marker-icon.marker-cluster")
    markers = page.locator("#map .leaflet-marker-icon:not(.marker-cluster)")
    assert await clusters.count() >= 1
    counts = await clusters.all_inner_texts()
    assert "30" in counts
    # Thousands shortened in the page's language, on one line: « 1,5 k ».
    assert any(re.fullmatch(r"1,5\s?k", count.strip()) for count in counts), counts
    assert {await m.get_attribute("alt") for m in await markers.all()} == {"PAPI de Brest", "Atelier nantais"}
    listed = await page.locator(".map-items li > a").all_inner_texts()
    assert "PAPI de Brest" in listed and "Atelier nantais" in listed and len(listed) == LIST_SIZE  # of 1,532
    assert await page.locator(".map-list a[rel=next]").count() == 1

    await page.get_by_role("button", name="PAPI de Brest").click()
    popup = page.locator(".leaflet-popup-content")
    await popup.get_by_role("link", name="PAPI de Brest").wait_for()
    assert "Internet pour toutes et tous" in await popup.inner_text()
    assert f"{island.name} · fiche" in await popup.inner_text()  # the island by its name, not its host
    # The popup fades in: axe measures contrast once it is opaque.
    await wait_for(lambda: page.evaluate("(p => p !== null && getComputedStyle(p).opacity === '1')"
                                         "(document.querySelector('.leaflet-popup'))"),
                   message="popup shown")
    await assert_accessible(page)

    zooms = [int(url.rsplit("zoom=", 1)[1]) for url in seen if "/carte.geojson?" in url]
    await clusters.filter(has_text="30").click()  # zooms in by two: the map asks for finer cells
    await wait_for(lambda: any(url.endswith(f"zoom={zooms[-1] + 2}") for url in seen), message="zoom in")
    assert outside == []


async def test_a_click_held_while_the_view_reloads_still_opens_the_popup(island, page):
    """The map reloads its data at every move: a marker redrawn between a button's press and its
    release lost the click (the suite met it once, a reload landing during its click)."""
    await place(island, "alice", "PAPI de Brest", 48.39, -4.49)
    await place(island, "alice", "Atelier nantais", 47.22, -1.55, kind="resource")
    asked: list[str] = []
    reloads: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/carte.geojson?" in request.url else None)
    page.on("requestfinished", lambda request: reloads.append(request.url) if "/carte.geojson?" in request.url else None)
    await page.goto(f"{island.url}/carte")
    await page.wait_for_selector("#map[data-loaded]")
    assert len(asked) == 1  # the first view placed at once: not loaded again after a move under the pointer
    await page.locator("#map").scroll_into_view_if_needed()
    box = await page.get_by_role("button", name="PAPI de Brest").bounding_box()
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.down()
    # While the button is held, the map moves away by the keyboard and back: two reloads.
    await page.evaluate("document.getElementById('map').focus({preventScroll: true})")
    for key in ("ArrowLeft", "ArrowRight"):
        before = len(reloads)
        await page.keyboard.press(key)
        await wait_for(lambda: len(reloads) > before, message=f"a reload after {key}")
        await page.wait_for_selector("#map[data-loaded]")
    await page.mouse.up()
    popup = page.locator(".leaflet-popup-content")
    await popup.get_by_role("link", name="PAPI de Brest").wait_for()

    # An open popup stays open while the view around it reloads.
    before = len(reloads)
    await page.keyboard.press("ArrowUp")
    await wait_for(lambda: len(reloads) > before, message="a reload after ArrowUp")
    await page.wait_for_selector("#map[data-loaded]")
    assert await popup.get_by_role("link", name="PAPI de Brest").is_visible()


async def test_a_view_the_island_was_too_busy_to_send_is_loaded_when_it_says(make_island, page):
    """Answered 503 while searches fill the island (web/search_guard.py), the map loads its view
    again after the answer's Retry-After, the reader having done nothing."""
    island = await make_island("brest", concurrent_searches=1, waiting_searches=0)
    await island.add_user("alice")
    await place(island, "alice", "PAPI de Brest", 48.39, -4.49)
    await place(island, "alice", "Atelier nantais", 47.22, -1.55, kind="resource")
    statuses: list[int] = []
    page.on("response", lambda response: statuses.append(response.status)
            if "/carte.geojson?" in response.url else None)
    await page.goto(f"{island.url}/carte")
    await page.wait_for_selector("#map[data-loaded]")
    async with island.app[GATE].slot("the test"):  # the only search slot taken, none may wait
        await page.evaluate("document.getElementById('map').focus({preventScroll: true})")
        await page.keyboard.press("ArrowLeft")
        await page.wait_for_selector("#map[data-error]")
        assert statuses[-1] == 503 and not await page.locator("#map[data-loaded]").count()
        await page.get_by_role("status").get_by_text("L'île est très occupée").wait_for()
    # Retry-After: 5 — then the same view, with no move, and nothing more to say.
    await page.wait_for_selector("#map[data-loaded]:not([data-error])", timeout=15_000)
    assert statuses[-1] == 200 and not await page.locator(".map-status").is_visible()


async def test_the_embed_page_shows_the_filtered_map_and_stays_on_the_island(island, page):
    outside = await watch_requests(page, island)
    await place(island, "alice", "PAPI de Brest", 48.39, -4.49)
    await place(island, "alice", "Atelier nantais", 47.22, -1.55, kind="resource")
    await page.goto(f"{island.url}/carte/embed?kind=resource")
    await page.wait_for_selector("#map[data-loaded]")
    markers = page.locator("#map .leaflet-marker-icon")
    assert [await m.get_attribute("alt") for m in await markers.all()] == ["Atelier nantais"]
    assert await page.locator(".map-items li > a").all_inner_texts() == ["Atelier nantais"]
    await assert_accessible(page)
    assert outside == []
    assert await page.context.cookies() == []


async def test_the_map_page_without_javascript_is_the_list(island, new_page):
    await place(island, "alice", "PAPI de Brest", 48.39, -4.49)
    page = await new_page(java_script_enabled=False)
    await page.goto(f"{island.url}/carte")
    assert not await page.locator("#map").is_visible()
    assert await page.locator(".map-items li > a").all_inner_texts() == ["PAPI de Brest"]
    await assert_accessible_without_js(page)


async def assert_accessible_without_js(page) -> None:
    """axe needs script: run it in a second page holding the same HTML, scripts stripped."""
    html = await page.content()
    checker = await page.context.browser.new_page()
    try:
        await checker.set_content(html.replace("<script", "<template").replace("</script>", "</template>"))
        await assert_accessible(checker)
    finally:
        await checker.close()


async def test_the_item_form_places_a_fiche_by_commune_or_by_click(island, page):
    outside = await watch_requests(page, island)
    await log_in(page, island)
    await page.goto(f"{island.url}/espace/nouveau?kind=fiche")
    await open_sections(page)
    await page.get_by_label("Chercher une commune").fill("Besancon")
    await page.get_by_role("button", name="Besançon (25000, Bourgogne-Franche-Comté)").click()
    assert await page.get_by_label("Lieu", exact=True).input_value() == "Besançon"
    assert await page.get_by_label("Région", exact=True).input_value() == "Bourgogne-Franche-Comté"
    assert await page.get_by_label("Latitude").input_value() == "47.24878"
    assert await page.get_by_label("Longitude").input_value() == "6.01815"
    assert "Besançon (25)" in await page.locator("#place-status").inner_text()
    await assert_accessible(page)

    box = await page.locator("#place-map").bounding_box()
    await page.mouse.click(box["x"] + box["width"] / 4, box["y"] + box["height"] / 2)
    latitude = float(await page.get_by_label("Latitude").input_value())
    longitude = float(await page.get_by_label("Longitude").input_value())
    assert abs(latitude - 47.25) < 0.2 and longitude < 6.0  # left of Besançon, same latitude
    assert outside == []


async def test_a_self_hosted_pmtiles_background_is_drawn_from_the_island(make_island, page):
    from tests.map_items import write_pmtiles
    from tests.web.test_map import png_tile

    island = await make_island("brest", map_tiles="fond.pmtiles", map_tiles_attribution="Fond maison")
    await island.add_user("alice")
    write_pmtiles(island.directory / "fond.pmtiles", png_tile())
    await place(island, "alice", "PAPI de Brest", 48.39, -4.49)
    seen: list[str] = []
    outside = await watch_requests(page, island, seen)
    await page.goto(f"{island.url}/carte")
    tiles = page.locator("#map img.leaflet-tile")
    await tiles.first.wait_for(state="attached")
    await wait_for(lambda: page.evaluate(
        "[...document.querySelectorAll('#map img.leaflet-tile')].some(t => t.src.startsWith('blob:') && t.naturalWidth === 256)"),
        message="a PMTiles tile drawn")
    assert "Fond maison" in await page.locator(".leaflet-control-attribution").inner_text()
    assert f"{island.url}/carte/fond.pmtiles" in seen
    await assert_accessible(page)
    assert outside == []
