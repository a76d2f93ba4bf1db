"""The public pages of a real running island, as a person's browser (headless Chromium) shows them:
visible content, discovery link, language, no script from content, accessibility (axe-core), phones."""

from __future__ import annotations

from tests.browser.conftest import axe_violations, describe_violations, save_screenshot

AS2_ALTERNATE = 'link[rel="alternate"][type="application/activity+json"]'

TITLE = "Animer un atelier d'écriture"
SUMMARY = "Une fiche pour démarrer un atelier en deux heures."
TEXT = """Commencer par un **tour de table** : chacun·e dit un mot.

## Déroulé

1. Lecture d'un texte court.
2. Dix minutes d'écriture libre.
3. Partage à voix haute, sans jugement.

Voir [la fiche complète](https://example.org/fiches/atelier-ecriture).
"""
TAGS = ["écriture", "animation"]

HOSTILE = """Un texte anodin.

<script>window.pwned = 1</script>

<img src=x onerror="window.pwned=1">

<a href="javascript:window.pwned=1" onclick="window.pwned=1">un lien piégé</a>

[un autre lien piégé](javascript:window.pwned=1)
"""


async def publish_fiche(island) -> str:
    return await island.publish("alice", TITLE, TEXT, summary=SUMMARY, tags=TAGS)


async def open_page(page, url: str, status: int = 200):
    response = await page.goto(url)
    assert response is not None and response.status == status, f"{url}: {response and response.status}"
    assert "text/html" in response.headers["content-type"]
    return response


async def assert_french_and_discoverable(page, alternate: str | None):
    assert await page.get_attribute("html", "lang") == "fr"
    links = page.locator(AS2_ALTERNATE)
    if alternate is None:
        return
    assert await links.count() == 1
    assert await links.get_attribute("href") == alternate


async def assert_accessible(page):
    violations = await axe_violations(page)
    assert not violations, f"axe: serious/critical violations on {page.url}:\n{describe_violations(violations)}"


async def test_home_page(island, page):
    item = await publish_fiche(island)
    await open_page(page, island.url + "/")

    assert await page.title() == "Île brest"
    assert await page.get_by_role("heading", level=1).inner_text() == "Île brest"
    handle = f"@{island.island_username}@{island.settings.host}"
    assert await page.locator(".handle").inner_text() == handle
    link = page.get_by_role("link", name=TITLE)
    assert await link.get_attribute("href") == item
    await page.get_by_text(SUMMARY).wait_for()
    await assert_french_and_discoverable(page, island.actor_uri(island.island_username))
    await assert_accessible(page)


async def test_profile_page(island, page):
    item = await publish_fiche(island)
    await open_page(page, island.url + "/@alice")

    assert await page.get_by_role("heading", level=1).inner_text() == "Alice"
    assert await page.locator(".handle").inner_text() == f"@alice@{island.settings.host}"
    assert await page.get_by_role("link", name=TITLE).get_attribute("href") == item
    await assert_french_and_discoverable(page, island.actor_uri("alice"))
    await assert_accessible(page)


async def test_item_page(island, page, tmp_path):
    item = await publish_fiche(island)
    await open_page(page, item)

    assert await page.title() == f"{TITLE} · Île brest"
    assert await page.get_by_role("heading", level=1).inner_text() == TITLE
    article = page.locator("article").first
    text = await article.inner_text()
    assert SUMMARY in text
    assert "tour de table" in text and "Dix minutes d'écriture libre." in text
    assert await article.locator("strong", has_text="tour de table").count() == 1  # Markdown rendered
    assert await page.get_by_role("heading", level=2, name="Déroulé").count() == 1
    assert await article.locator("ol > li").count() == 3
    for tag in TAGS:
        assert f"#{tag}" in text
    author = page.get_by_role("link", name="Alice")
    assert await author.get_attribute("href") == island.url + "/@alice"
    await assert_french_and_discoverable(page, item)
    await save_screenshot(page, tmp_path / "item.png")
    await assert_accessible(page)


async def test_withdrawn_item_page(island, page):
    item = await publish_fiche(island)
    await island.withdraw(item)
    await open_page(page, item, status=410)

    assert await page.get_by_role("heading", level=1).inner_text() == "Publication retirée"
    body = await page.locator("main").inner_text()
    assert "a été retirée" in body
    assert TITLE not in await page.content()
    await assert_french_and_discoverable(page, alternate=None)
    await assert_accessible(page)


async def test_scripts_in_content_do_not_run(island, new_page):
    item = await island.publish("alice", "Fiche piégée", HOSTILE, summary="<script>window.pwned=1</script>")
    # Once as browsers see it (CSP on), once with CSP bypassed: the sanitizer must hold on its own.
    for options in ({}, {"bypass_csp": True}):
        page = await new_page(**options)
        await open_page(page, item)
        await page.wait_for_load_state("load")  # the <img> error (if any) has fired by then
        content = page.locator("main")
        assert "Un texte anodin." in await content.inner_text()
        assert await page.evaluate("typeof window.pwned") == "undefined", options
        assert await content.locator("script").count() == 0
        handlers = await content.evaluate(
            """main => [...main.querySelectorAll('*')].flatMap(element => [...element.attributes]
                   .filter(a => a.name.startsWith('on') || /^\\s*javascript:/i.test(a.value))
                   .map(a => element.tagName + ' ' + a.name + '=' + a.value))""")
        assert handlers == [], options
        for link in await content.get_by_text("lien piégé").all():
            await link.click()
        assert await page.evaluate("typeof window.pwned") == "undefined", options


async def test_item_page_fits_a_phone(island, new_page):
    # Fiches link shared documents: such addresses carry long unbroken identifiers.
    text = TEXT + ("\nSupport partagé : https://docs.example.org/document/d/"
                   "1aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdefGH/edit\n")
    item = await island.publish("alice", TITLE, text, summary=SUMMARY, tags=TAGS)
    page = await new_page(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    await open_page(page, item)

    scroll_width, client_width = await page.evaluate(
        "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    wide = await page.evaluate(  # the innermost elements whose content overflows the screen
        """width => [...document.body.querySelectorAll('*')]
               .filter(e => e.getBoundingClientRect().left + e.scrollWidth > width + 1)
               .filter((e, _, all) => !all.some(other => other !== e && e.contains(other)))
               .map(e => e.tagName.toLowerCase() + ': ' + e.textContent.trim().slice(0, 60))""",
        client_width)
    assert scroll_width <= client_width, (
        f"horizontal scroll at 375px: scrollWidth {scroll_width} > clientWidth {client_width}; "
        f"too wide: {wide}")
    assert await page.get_by_role("heading", level=1).is_visible()
