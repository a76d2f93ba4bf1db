"""The search page in Chromium: typing words, choosing and removing facets, pages, on a desktop
and on a phone, with axe finding nothing serious."""

from __future__ import annotations

from tests.browser.conftest import axe_violations, describe_violations
from tests.flows.test_search import publish


async def fill(island) -> None:  # the island fixture has alice already
    await publish(island, "alice", "Le réemploi au quartier", pitch="Une ressourcerie tenue par des bénévoles.",
                  tags=["Réemploi"], place="Brest", region="Bretagne")
    await publish(island, "alice", "Réemployer les matériaux du bâtiment", kind="resource",
                  pitch="Une formation pour les artisans.", tags=["Réemploi"], region="Pays de la Loire")
    await publish(island, "alice", "Former les formateurs", pitch="Un parcours de pair à pair.",
                  region="Bretagne")


async def assert_accessible(page) -> None:
    violations = await axe_violations(page)
    assert not violations, f"axe on {page.url}:\n{describe_violations(violations)}"


async def test_search_then_refine_by_a_facet(island, page):
    await fill(island)
    await page.goto(island.url + "/recherche")
    main = page.locator("#main")  # the header has its own search box too
    await main.get_by_label("Mots recherchés").fill("réemploi")
    await main.get_by_role("button", name="Rechercher").click()
    await page.wait_for_url("**/recherche?q=*")
    results = page.locator("article.result h3")
    assert sorted(await results.all_inner_texts()) == ["Le réemploi au quartier", "Réemployer les matériaux du bâtiment"]
    assert await page.locator("article.result mark").count() >= 2  # the words found are marked
    await page.get_by_role("status").get_by_text("2 résultats").wait_for()
    await assert_accessible(page)

    await page.locator("#facet-region + ul").get_by_role("link", name="Bretagne").click()
    await page.wait_for_url("**region=Bretagne*")
    assert await results.all_inner_texts() == ["Le réemploi au quartier"]
    chosen = page.locator('#facet-region + ul a[aria-current="true"]')
    assert await chosen.count() == 1
    await chosen.click()  # removing the choice keeps the words
    await page.wait_for_url("**/recherche?q=r%C3%A9emploi")
    assert await results.count() == 2


async def test_search_on_a_phone_in_english(island, new_page):
    await fill(island)
    page = await new_page(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    await page.goto(island.url + "/recherche?q=formateur&lang=en")
    await page.get_by_role("status").get_by_text("1 result").wait_for()
    assert await page.locator("article.result h3").all_inner_texts() == ["Former les formateurs"]
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide on a 375px screen"
    await assert_accessible(page)
