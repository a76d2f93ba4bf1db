"""The live federated timeline in a real browser."""

from tests.browser.conftest import axe_violations, describe_violations
from tests.flows.test_federated_timeline import archipelago
from tests.flows.test_fiches import publish_file


async def test_a_fiche_published_elsewhere_appears_without_reload_and_filters_work(make_island, page):
    brest, nantes = await archipelago(make_island)
    await publish_file(brest, "atelier-wiki.md", "alice")
    await page.goto(f"{nantes.url}/federated")
    await page.wait_for_selector("#timeline article >> text=Atelier « contribuer à un wiki de territoire »")
    await page.evaluate("window.marker = 'same page'")

    await publish_file(brest, "papi-brest.md", "alice")
    card = page.locator("#timeline article").first
    await card.locator("text=Les Points d'Accès Public à Internet de Brest").wait_for(timeout=15_000)
    assert await page.evaluate("window.marker") == "same page"  # no reload happened

    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)

    await page.select_option("#f-type", "resource")
    await page.click("button:has-text('Filtrer')")
    await page.wait_for_url("**/federated?*type=resource*")
    titles = await page.locator("#timeline article h3").all_inner_texts()
    assert titles == ["Atelier « contribuer à un wiki de territoire »"]
