"""The island's face, as a browser shows it: the home's first screen on a phone, the error pages,
the print stylesheet, the dark palette; and screenshots of the main pages at phone and desktop
widths, in French and English, written where a reviewer can look without running anything
(build/screenshots/, or $ARCHIPEL_SCREENSHOTS)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from archipel import accounts
from archipel.markdown_items import read_item
from archipel.storage.tables import LocalActor
from federation import actions
from tests.browser.conftest import axe_violations, describe_violations, save_screenshot
from web import demo
from web.routes import pages as page_routes

PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 900}
WIDTHS = {"375": PHONE, "1280": DESKTOP}
SUMMARY = ("Une île du Pays de Brest : des fiches d'innovation sociale et des ressources pour animer "
           "des ateliers, écrites à plusieurs et à réutiliser.")
PASSWORD = "correct horse battery"  # tests/nodes.py: add_user
SCREENSHOTS = Path(os.environ.get("ARCHIPEL_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "build" / "screenshots")


async def fill(island) -> list[str]:
    """The island of the demo: its description, two people, the demo's fiches and resources."""
    await island.add_user("claire")
    uris = []
    async with island.sessions() as session:
        home = await session.scalar(select(LocalActor).where(LocalActor.kind == "island"))
        home.summary = SUMMARY
        authors = [await accounts.get_actor(session, name) for name in ("alice", "claire")]
        for number, path in enumerate(sorted(demo.CONTENT.glob("*.md"))):
            fields = read_item(path.read_text("utf-8"))
            fields.pop("authors", None)
            writers = [authors[number % 2]] if number % 3 else authors  # some written together
            item = await actions.publish_item(session, island.url, writers, **fields)
            uris.append((fields.get("kind"), item.uri))
        await session.commit()
    island.wake()
    return [uri for kind, uri in uris if kind == "fiche"]


async def assert_accessible(page, what: str = ""):
    violations = await axe_violations(page)
    assert not violations, f"axe{what}: serious/critical violations on {page.url}:\n{describe_violations(violations)}"


async def test_home_says_what_the_island_is_and_shows_fiches_on_a_phone(island, new_page):
    await fill(island)
    page = await new_page(viewport=PHONE)
    await page.goto(island.url + "/")
    assert SUMMARY.split(" : ")[0] in await page.locator(".intro").inner_text()
    people = await page.locator(".people").inner_text()
    assert "Alice" in people and "Claire" in people
    assert await page.locator(".island-themes a[href*='/tags/']").count() >= 2
    first = await page.locator("#fiches ~ .cards .card").first.bounding_box()
    assert first is not None and first["y"] < PHONE["height"] - 60, f"first fiche at {first}: below the first screen"
    follow = await page.locator(".follow").bounding_box()
    assert follow["y"] > first["y"], "on a phone the follow box comes after the fiches"
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing wider than the phone
    await assert_accessible(page)

    desktop = await new_page(viewport=DESKTOP)
    await desktop.goto(island.url + "/")
    follow = await desktop.locator(".follow").bounding_box()
    first = await desktop.locator("#fiches ~ .cards .card").first.bounding_box()
    assert follow["x"] > first["x"] + first["width"], "on a desktop the follow box is in the side column"
    assert follow["y"] < DESKTOP["height"]
    await assert_accessible(desktop)


@pytest.mark.parametrize("lang, heading, back", [("fr", "Page introuvable", "Retour à l'accueil de l'île"),
                                                 ("en", "Page not found", "Back to the island's home page")])
async def test_a_missing_page_in_the_readers_language(island, new_page, lang, heading, back):
    page = await new_page(locale={"fr": "fr-FR", "en": "en-GB"}[lang])
    response = await page.goto(island.url + "/nulle-part/ici")
    assert response.status == 404 and "text/html" in response.headers["content-type"]
    assert await page.get_attribute("html", "lang") == lang
    assert await page.get_by_role("heading", level=1).inner_text() == heading
    assert await page.locator("header.site-header .site-name").inner_text() == "Île brest"
    assert await page.get_by_role("link", name=back).get_attribute("href") == island.url + "/"
    assert await page.get_by_role("search").count() == 2  # the header's and the page's own
    await assert_accessible(page)


async def test_forbidden_and_withdrawn_pages(island, new_page):
    gone = await island.publish("alice", "Une publication retirée")
    await island.withdraw(gone)
    page = await new_page(locale="en-GB")
    response = await page.goto(gone)
    assert response.status == 410
    assert await page.get_by_role("heading", level=1).inner_text() == "Post withdrawn"

    await page.goto(f"{island.url}/login")
    await page.locator("input[name=username]").fill("alice")
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("main button[type=submit]").click()
    await page.wait_for_load_state()
    response = await page.goto(f"{island.url}/espace/moderation")  # alice is an author, not a moderator
    assert response.status == 403
    assert await page.get_by_role("heading", level=1).inner_text() == "Access denied"
    assert await page.locator("header.site-header").count() == 1
    await assert_accessible(page)


async def test_an_unexpected_error_shows_a_page_and_no_traceback(island, new_page, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("the secret inner workings of the island")

    monkeypatch.setattr(page_routes.content, "theme_counts", broken)
    page = await new_page()
    response = await page.goto(island.url + "/")
    assert response.status == 500
    assert await page.get_by_role("heading", level=1).inner_text() == "Une erreur s'est produite"
    text = await page.locator("body").inner_text()
    assert "Traceback" not in text and "secret inner workings" not in text and "RuntimeError" not in text
    assert await page.locator("header.site-header").count() == 1
    await assert_accessible(page)


async def test_a_fiche_prints_as_a_clean_document(island, new_page):
    fiche = (await fill(island))[0]
    page = await new_page()
    await page.goto(fiche)
    await page.emulate_media(media="print")
    for hidden in ("header.site-header", "footer.site-footer", "form", "nav", ".actions-line"):
        for number in range(await page.locator(hidden).count()):
            assert not await page.locator(hidden).nth(number).is_visible(), f"{hidden} is printed"
    licence = page.locator("a[rel=license]")
    assert await licence.is_visible()
    address = page.locator(".print-address")
    assert await address.is_visible() and fiche in await address.inner_text()
    assert await page.locator("main > article .author").first.is_visible()
    await page.emulate_media(media="screen")
    assert not await address.is_visible()  # on screen the address bar says it


async def test_the_dark_palette_keeps_its_contrasts(island, new_page):
    fiche = (await fill(island))[0]
    for width in WIDTHS.values():
        page = await new_page(viewport=width, color_scheme="dark")
        for url in (island.url + "/", fiche, island.url + "/federated", island.url + "/recherche?q=atelier",
                    island.url + "/nulle-part"):
            await page.goto(url)
            background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(18, 23, 27)", f"{url}: not the dark palette ({background})"
            await assert_accessible(page, " (dark)")


async def test_screenshots_of_the_main_pages(island, new_page):
    """Not a check but a picture book: every main page at both widths, in both languages; the home
    and a fiche in the dark palette too (*-sombre.png)."""
    fiche = (await fill(island))[0]
    pages = {"home": "/", "fiche": fiche, "federated": "/federated", "recherche": "/recherche?q=atelier",
             "carte": "/carte", "erreur-404": "/nulle-part"}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for lang, locale in (("fr", "fr-FR"), ("en", "en-GB")):
        for width, viewport in WIDTHS.items():
            page = await new_page(locale=locale, viewport=viewport)
            for name, path in pages.items():
                await page.goto(path if path.startswith("http") else island.url + path)
                await page.wait_for_load_state("networkidle")
                assert await page.get_attribute("html", "lang") == lang
                assert await save_screenshot(page, SCREENSHOTS / f"{name}-{lang}-{width}.png")
                if lang == "fr":
                    await assert_accessible(page)
    for width, viewport in WIDTHS.items():  # and the dark palette, in French
        page = await new_page(viewport=viewport, color_scheme="dark")
        for name in ("home", "fiche"):
            await page.goto(pages[name] if pages[name].startswith("http") else island.url + pages[name])
            assert await save_screenshot(page, SCREENSHOTS / f"{name}-fr-{width}-sombre.png")
    print(f"screenshots of the main pages: {SCREENSHOTS}")
