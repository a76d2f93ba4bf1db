"""The header that leads somewhere, and /themes, as a person's browser shows them (axe-core, phones).

/recherche and /carte are other pages' business: these tests follow the links and the search box
only as far as the address they lead to, whatever answers there."""

from __future__ import annotations

from tests.browser.test_public_pages import assert_accessible, open_page, publish_fiche

LINKS = {"Rechercher": "/recherche", "Carte": "/carte", "L'archipel": "/federated", "Thèmes": "/themes",
         "Proposer": "/proposer"}


async def test_the_header_leads_everywhere_and_searches(island, new_page):
    page = await new_page()
    await open_page(page, island.url + "/")
    nav = page.get_by_role("navigation", name="Navigation principale")
    for label, path in LINKS.items():
        assert await nav.get_by_role("link", name=label, exact=True).get_attribute("href") == island.url + path
    await assert_accessible(page)

    await open_page(page, island.url + "/themes")
    assert await nav.get_by_role("link", name="Thèmes", exact=True).get_attribute("aria-current") == "page"

    search = page.get_by_role("search", name="Recherche dans l'archipel")
    await search.get_by_label("Rechercher des fiches, ressources et articles").fill("jardin partagé")
    await search.get_by_role("button", name="Rechercher").click()
    await page.wait_for_url(f"{island.url}/recherche?q=jardin+partag%C3%A9")

    # On a phone the header wraps: nothing wider than the screen, every link still there.
    phone = await new_page(viewport={"width": 360, "height": 740})
    await open_page(phone, island.url + "/federated")
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for label in LINKS:
        await phone.get_by_role("navigation", name="Navigation principale").get_by_role(
            "link", name=label, exact=True).wait_for()
    await assert_accessible(phone)


async def test_themes_page_lists_counts_and_leads_to_each_theme(island, page):
    await publish_fiche(island)  # écriture, animation
    await island.publish("alice", "Un autre atelier", "Texte.", tags=["écriture"])
    await open_page(page, island.url + "/themes")

    assert await page.get_by_role("heading", level=1).inner_text() == "Thèmes"
    items = page.locator(".theme-list li")
    assert await items.count() == 2
    assert "(2 publications)" in await items.nth(0).inner_text()
    assert "(1 publication)" in await items.nth(1).inner_text()
    await assert_accessible(page)

    await page.get_by_role("link", name="Suivre le thème écriture").click()
    await page.wait_for_url(f"{island.url}/tags/ecriture#follow-heading")
    assert await page.get_by_role("heading", level=1).inner_text() == "Thème : écriture"
    await page.get_by_role("heading", name="Suivre depuis le fédivers").wait_for()
    cards = page.locator("article.card")
    assert await cards.count() == 2
    assert "Alice" in await cards.first.inner_text()
    await assert_accessible(page)
