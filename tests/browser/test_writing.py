"""Writing that never loses work, in a real browser (Chromium + axe, phone and desktop widths):
files chosen before a preview stay chosen and show in the preview; a draft saved while writing
survives closing the browser; leaving with unsaved changes asks first; the form in sections; the
restore of a version and word diffs. Screenshots of these pages at both widths go with the main
pages' (build/screenshots/, or $ARCHIPEL_SCREENSHOTS)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.browser.conftest import close_context, save_screenshot
from tests.browser.test_authoring import ALT, ATTACHMENT, COVER, assert_accessible, log_in, open_sections, stored

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
SCREENSHOTS = Path(os.environ.get("ARCHIPEL_SCREENSHOTS")
                   or Path(__file__).resolve().parents[2] / "build" / "screenshots")


async def screenshot(page, name: str, width: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert await save_screenshot(page, SCREENSHOTS / f"{name}-fr-{width}.png")


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_preview_keeps_the_chosen_cover_and_files(island, new_page, width):
    page = await new_page(viewport=WIDTHS[width])
    await log_in(page, island)
    await page.goto(f"{island.url}/espace/nouveau?kind=fiche")
    await open_sections(page)
    await page.get_by_label("Titre").fill("Atelier vélo")
    await page.get_by_label("Thèmes").fill("mobilité, réemploi")
    await page.get_by_label("Image de couverture", exact=True).set_input_files(COVER)
    await page.get_by_label("Texte alternatif de l'image").fill(ALT)
    await page.get_by_label("Ajouter des fichiers joints").set_input_files(ATTACHMENT)

    # Sent as soon as chosen: the live preview shows the cover, the file and the themes.
    preview = page.locator("#preview")
    await preview.get_by_role("img", name=ALT).wait_for()
    await preview.get_by_text("mode-d-emploi.pdf").wait_for()
    assert "mobilité" in await preview.inner_text()
    await assert_accessible(page)

    # « Prévisualiser » loads the page again: nothing chosen is lost.
    await page.get_by_role("button", name="Prévisualiser").click()
    await page.wait_for_load_state()
    assert await page.get_by_label("Garder « atelier.jpg »").is_checked()
    assert await page.get_by_label("Garder « mode-d-emploi.pdf »").is_checked()
    await preview.get_by_role("img", name=ALT).wait_for()
    await assert_accessible(page)
    await screenshot(page, "apercu-avec-fichiers", width)

    await page.get_by_role("button", name="Publier").click()
    await page.wait_for_url(re.compile(r".*\?done=published$"))
    ulid = re.search(r"/items/([0-9a-z]{26})/", page.url).group(1)
    item, _ = await stored(island, f"{island.url}/o/{ulid}")
    assert item.cover["name"] == ALT and item.cover["url"].endswith("/atelier.jpg")
    assert [entry["name"] for entry in item.fields["files"]] == ["mode-d-emploi.pdf"]


async def test_the_preview_keeps_the_files_without_javascript(island, new_page):
    page = await new_page(java_script_enabled=False)
    await log_in(page, island)
    await page.goto(f"{island.url}/espace/nouveau?kind=fiche")
    await open_sections(page)
    await page.get_by_label("Titre").fill("Atelier vélo")
    await page.get_by_label("Image de couverture", exact=True).set_input_files(COVER)
    await page.get_by_label("Texte alternatif de l'image").fill(ALT)
    await page.get_by_role("button", name="Prévisualiser").click()
    await page.locator("#preview").get_by_role("img", name=ALT).wait_for()
    await page.get_by_role("button", name="Enregistrer le brouillon").click()
    await page.wait_for_url(re.compile(r".*\?done=created$"))
    ulid = re.search(r"/items/([0-9a-z]{26})/", page.url).group(1)
    item, _ = await stored(island, f"{island.url}/o/{ulid}")
    assert item.cover["name"] == ALT


@pytest.mark.parametrize("width", WIDTHS)
async def test_an_autosaved_draft_survives_closing_the_browser(island, browser, new_page, width):
    page = await new_page(viewport=WIDTHS[width])
    await log_in(page, island)
    await page.goto(f"{island.url}/espace/nouveau?kind=fiche")
    await open_sections(page)
    await page.get_by_label("Titre").fill("Une fiche jamais perdue")
    await page.get_by_label("Résumé").fill("Écrite dans le train.")
    await page.get_by_label("Ajouter des fichiers joints").set_input_files(ATTACHMENT)
    status = page.locator("#autosave-status")
    await status.filter(has_text="Brouillon enregistré automatiquement").wait_for(timeout=15_000)
    await page.get_by_label("Garder « mode-d-emploi.pdf »").wait_for()
    await status.filter(has_text="Brouillon enregistré automatiquement").wait_for()

    # Unsaved changes: leaving asks first.
    await page.get_by_label("Résumé").click()  # a real gesture: Chromium asks only after one
    await page.keyboard.press("End")
    await page.keyboard.type(", puis au bureau")
    async with page.expect_event("dialog") as asked:
        await page.close(run_before_unload=True)
    dialog = await asked.value
    assert dialog.type == "beforeunload"
    await dialog.dismiss()  # stay on the page
    assert not page.is_closed()
    await close_context(page.context)

    # A new browser (another device): the draft is there, its file too.
    other = await new_page(viewport=WIDTHS[width])
    await log_in(other, island)
    await other.goto(f"{island.url}/espace/nouveau?kind=fiche")
    assert await other.get_by_label("Titre").input_value() == "Une fiche jamais perdue"
    assert "Écrite dans le train" in await other.get_by_label("Résumé").input_value()
    assert await other.get_by_label("Garder « mode-d-emploi.pdf »").is_checked()
    assert "Voici le brouillon enregistré automatiquement" in await other.get_by_role("status").first.inner_text()
    await assert_accessible(other)
    await screenshot(other, "brouillon-retrouve", width)
    await other.get_by_role("button", name="Enregistrer le brouillon").click()
    await other.wait_for_url(re.compile(r".*\?done=created$"))
    await other.goto(f"{island.url}/espace/nouveau?kind=fiche")
    assert await other.get_by_label("Titre").input_value() == ""  # saved: the draft is gone


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_diff_marks_words_and_an_earlier_version_is_restored(island, new_page, width):
    page = await new_page(viewport=WIDTHS[width])
    await log_in(page, island)
    await page.goto(f"{island.url}/espace/nouveau?kind=fiche")
    await page.get_by_label("Titre").fill("Atelier vélo du samedi")
    await page.get_by_role("button", name="Publier").click()
    await page.wait_for_url(re.compile(r".*\?done=published$"))
    await page.get_by_label("Titre").fill("Atelier vélo du dimanche")
    await page.get_by_role("button", name="Enregistrer", exact=True).click()
    await page.wait_for_url(re.compile(r".*\?done=saved$"))
    ulid = re.search(r"/items/([0-9a-z]{26})/", page.url).group(1)
    uri = f"{island.url}/o/{ulid}"

    await page.goto(f"{uri}/historique/1/2")
    line = page.get_by_role("region", name="Titre").locator(".line.changed")
    assert await line.locator("del").text_content() == "Retiré : samedi"
    assert await line.locator("ins").text_content() == "Ajouté : dimanche"
    await assert_accessible(page)
    await screenshot(page, "changements-mot-a-mot", width)

    await page.get_by_role("button", name="Restaurer la version 1").click()
    await page.wait_for_url(f"{uri}/historique?done=restored")
    assert "Version restaurée" in await page.get_by_role("status").inner_text()
    assert await page.locator("table.revisions tbody tr").count() == 3
    await assert_accessible(page)
    item, history = await stored(island, uri)
    assert item.name == "Atelier vélo du samedi" and [r.number for r in history] == [3, 2, 1]


async def in_view(page, locator) -> bool:
    box = await locator.bounding_box()
    size = page.viewport_size
    return box is not None and 0 <= box["y"] and box["y"] + box["height"] <= size["height"]


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_form_shows_the_essentials_first_and_its_buttons_stay_reachable(island, new_page, width):
    page = await new_page(viewport=WIDTHS[width])
    await log_in(page, island)
    await page.goto(f"{island.url}/espace/nouveau?kind=fiche")
    # The essentials, open; the rest behind a section heading each.
    assert await page.get_by_label("Titre (obligatoire)").is_visible()
    for label in ("Accroche", "Résumé", "Thèmes", "Image de couverture"):
        assert await page.get_by_label(label, exact=True).is_visible(), label
    place = page.get_by_label("Lieu", exact=True)
    assert not await place.is_visible()
    sections = page.locator("details.form-section > summary")
    assert await sections.all_inner_texts() == ["Le texte", "Les sections de la fiche", "Porteurs du projet",
                                               "Fichiers joints", "Territoire et public", "Partage et crédits"]
    await assert_accessible(page)
    await screenshot(page, "formulaire-fiche", width)

    # On demand: a section opens from its heading (a keyboard works too).
    await page.locator("summary", has_text="Territoire et public").focus()
    await page.keyboard.press("Enter")
    await place.fill("Brest")
    # However long the form, the buttons stay in view.
    await open_sections(page)
    publish = page.get_by_role("button", name="Publier")
    for field in ("Lieu", "Perspectives", "Co-auteur·ices"):
        await page.get_by_label(field, exact=True).scroll_into_view_if_needed()
        assert await in_view(page, publish), field
    await assert_accessible(page)
    await page.get_by_label("Titre").fill("Atelier vélo")
    await publish.click()
    await page.wait_for_url(re.compile(r".*\?done=published$"))
    ulid = re.search(r"/items/([0-9a-z]{26})/", page.url).group(1)
    item, _ = await stored(island, f"{island.url}/o/{ulid}")
    assert item.place == "Brest"
