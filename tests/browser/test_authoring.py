"""Writing a fiche in a real browser (Debian's Chromium): log in, fill every section, watch the live
preview, publish, edit, read the history and its diff, upload a cover image and a file, reuse the
fiche, withdraw it; axe-core on every writing page."""

from __future__ import annotations

import re

import aiohttp
from sqlalchemy import func, select

from archipel import content, revisions
from archipel.fiches import FICHE_SECTIONS
from archipel.storage.tables import StoredObject
from tests.browser.conftest import axe_violations, describe_violations
from tests.web.test_media import jpeg_with_gps, pdf

PASSWORD = "correct horse battery"
TITLE = "Repair café de quartier"
COVER = {"name": "atelier.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps()}
ATTACHMENT = {"name": "mode d'emploi.pdf", "mimeType": "application/pdf", "buffer": pdf(4000)}
ALT = "Des voisin·es réparent un grille-pain"
SECTIONS = {
    "genesis": "Des voisin·es lassé·es de **jeter** des grille-pain.",
    "goals": "Réparer ensemble plutôt que racheter.",
    "means": "Une salle, des tables, des bénévoles bricoleurs.",
    "successes": "Soixante objets réparés le premier mois.",
    "difficulties": "Trouver des pièces détachées.",
    "advice": "Commencer avec un stand de *petit électroménager*.",
    "perspectives": "Un atelier vélo au printemps.",
}


async def assert_accessible(page) -> None:
    violations = await axe_violations(page)
    assert not violations, f"axe: serious/critical violations on {page.url}:\n{describe_violations(violations)}"


async def log_in(page, island, username: str = "alice") -> None:
    await page.goto(f"{island.url}/login?next=/espace")
    await page.get_by_label("Nom d'utilisateur·ice").fill(username)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(f"{island.url}/espace")
    assert await page.get_by_role("heading", level=1).inner_text() == "Mon espace"


async def open_sections(page) -> None:
    """The item form shows its essentials; the other sections open on demand: open them all."""
    closed = page.locator("details.form-section:not([open]) > summary")
    while await closed.count():
        await closed.first.click()


async def stored(island, uri: str):
    async with island.sessions() as session:
        item = await content.find_object(session, uri)
        return item, await revisions.history(session, item)


async def test_write_preview_publish_edit_compare_and_withdraw_a_fiche(island, page):
    await log_in(page, island)
    await assert_accessible(page)
    await page.get_by_role("link", name="Nouvelle fiche").click()
    await page.wait_for_url(re.compile(r".*/espace/nouveau\?kind=fiche$"))
    await open_sections(page)
    assert await page.get_by_role("heading", level=1).inner_text() == "Nouvelle fiche"
    await assert_accessible(page)

    # Saving with no title: the errors come back with the form, accessible too.
    await page.get_by_label("Latitude").fill("500")
    await page.get_by_role("button", name="Enregistrer le brouillon").click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "Le titre est obligatoire." in await alert.inner_text()
    assert await page.get_by_label("Titre").get_attribute("aria-invalid") == "true"
    await assert_accessible(page)
    await page.get_by_label("Latitude").fill("")

    # Every label is tied to its field: fill them by their visible names.
    await page.get_by_label("Titre").fill(TITLE)
    await page.get_by_label("Résumé").fill("Un samedi par mois, on répare au lieu de jeter.")
    await page.get_by_label("Accroche").fill("Réparer, c'est résister")
    await page.get_by_label("Présentation").fill("Un **repair café** tenu par les habitant·es.")
    for name, heading in FICHE_SECTIONS.items():
        await page.get_by_label(heading, exact=True).fill(SECTIONS[name])
    await page.get_by_label("Mode d'emploi").fill("Trouver une salle\nAppeler les bricoleurs\nOuvrir un samedi")
    holder = page.get_by_role("group", name="Porteur n° 1")
    await holder.get_by_label("Nom").fill("Association Répare")
    await holder.get_by_label("Site web").fill("https://repare.example")
    await holder.get_by_label("Contact privé").fill("contact@repare.example")
    await page.get_by_label("Lieu").fill("Brest")
    await page.get_by_label("Région").fill("Bretagne")
    await page.get_by_label("Latitude").fill("48.39")
    await page.get_by_label("Longitude").fill("-4.49")
    await page.get_by_label("Public", exact=True).fill("Tout le quartier")
    await page.get_by_label("Date de démarrage").fill("2023-03-01")
    await page.get_by_label("Thèmes").fill("réparation, réemploi")
    await page.get_by_label("Licence").select_option("CC-BY-4.0")

    # The live preview follows the typing, with the published page's rendering.
    preview = page.locator("#preview")
    assert await preview.get_attribute("aria-live") == "polite"
    await preview.locator("strong", has_text=re.compile(r"^jeter$")).wait_for()
    await preview.locator("em", has_text="petit électroménager").wait_for()
    await preview.get_by_role("heading", name="Difficultés et échecs").wait_for()
    assert "contact@repare.example" not in await preview.inner_text()
    await page.get_by_label("Perspectives").fill("Un atelier vélo **dès avril**.")
    await preview.locator("strong", has_text="dès avril").wait_for()
    assert "/espace/nouveau" in page.url  # no page load: the script did it

    await page.get_by_role("button", name="Publier").click()
    await page.wait_for_url(re.compile(r".*/espace/items/[0-9a-z]{26}/modifier\?done=published$"))
    await open_sections(page)
    assert "C'est publié" in await page.get_by_role("status").inner_text()
    ulid = re.search(r"/items/([0-9a-z]{26})/", page.url).group(1)
    uri = f"{island.url}/o/{ulid}"
    item, history = await stored(island, uri)
    assert item.state == "published" and item.name == TITLE and len(history) == 1
    assert item.fields["sections"]["difficulties"] == SECTIONS["difficulties"]
    assert item.fields["steps"] == ["Trouver une salle", "Appeler les bricoleurs", "Ouvrir un samedi"]
    assert item.licence == "CC-BY-4.0" and item.private_fields["contacts"][0]["contact"] == "contact@repare.example"
    await assert_accessible(page)

    # Edit: the form holds the stored values; change a section and save.
    assert await page.get_by_label("Titre").input_value() == TITLE
    await page.get_by_label("Objectifs", exact=True).fill("Réparer ensemble plutôt que racheter, et apprendre.")
    await page.get_by_role("button", name="Enregistrer", exact=True).click()
    await page.wait_for_url(re.compile(r".*\?done=saved$"))
    item, history = await stored(island, uri)
    assert [r.number for r in history] == [2, 1]

    # The public page links to the history; the history to the diff.
    await page.goto(uri)
    await page.get_by_role("link", name="Historique des modifications").click()
    await page.wait_for_url(f"{uri}/historique")
    assert await page.get_by_role("heading", level=1).inner_text() == f"Historique de « {TITLE} »"
    assert await page.locator("table.revisions tbody tr").count() == 2
    await assert_accessible(page)

    await page.get_by_role("link", name="Changements de la version 2").click()
    await page.wait_for_url(f"{uri}/historique/1/2")
    assert await page.get_by_role("heading", level=2, name="Objectifs").count() == 1
    # Word by word: only what changed is marked, the rest of the line reads as it is.
    changed = page.locator(".line.changed")
    assert await changed.locator("ins").first.text_content() == "Ajouté : , et apprendre"
    assert "Réparer ensemble plutôt que racheter" in await changed.first.inner_text()
    assert await page.locator("del").filter(has_text="Réparer").count() == 0
    await assert_accessible(page)

    # A cover image and a file, chosen in the form: without alt text, the form says so, saves
    # nothing, and keeps the chosen files for the next try.
    await page.goto(f"{island.url}/espace/items/{ulid}/modifier")
    await open_sections(page)
    await page.get_by_label("Image de couverture", exact=True).set_input_files(COVER)
    await page.get_by_label("Ajouter des fichiers joints").set_input_files(ATTACHMENT)
    await page.get_by_role("button", name="Enregistrer", exact=True).click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "texte alternatif" in await alert.inner_text()
    assert await page.get_by_label("Texte alternatif de l'image").get_attribute("aria-invalid") == "true"
    assert await page.get_by_label("Garder « atelier.jpg »").is_checked()
    assert await page.get_by_label("Garder « mode-d-emploi.pdf »").is_checked()
    item, _ = await stored(island, uri)
    assert item.cover is None
    await assert_accessible(page)  # the form with its upload fields, in its error state

    await page.get_by_label("Texte alternatif de l'image").fill(ALT)
    await page.get_by_role("button", name="Enregistrer", exact=True).click()
    await page.wait_for_url(re.compile(r".*\?done=saved$"))
    await open_sections(page)
    item, _ = await stored(island, uri)
    assert item.cover["name"] == ALT and item.cover["url"].endswith("/atelier.jpg")
    await page.locator(".current-cover").get_by_role("img", name=ALT).wait_for()  # the current cover, in the form
    await page.get_by_role("link", name="mode-d-emploi.pdf").wait_for()
    await assert_accessible(page)

    # The published page shows the cover and lists the file with its type and size.
    await page.goto(uri)
    cover = page.get_by_role("img", name=ALT)
    await cover.wait_for()
    assert await cover.evaluate("image => image.complete && image.naturalWidth") == 200  # turned upright
    files = page.get_by_role("region", name="Fichiers joints")
    assert "mode-d-emploi.pdf" in await files.inner_text() and "(Document PDF, 4 ko)" in await files.inner_text()
    file_url = await files.get_by_role("link", name="mode-d-emploi.pdf").get_attribute("href")
    await assert_accessible(page)

    # Reuse it: a draft of one's own, linked to its origin, with the credit the licence asks for.
    await page.get_by_role("button", name="Réutiliser").click()
    await page.wait_for_url(re.compile(r".*/espace/items/[0-9a-z]{26}/modifier$"))
    await open_sections(page)
    derived_ulid = re.search(r"/items/([0-9a-z]{26})/", page.url).group(1)
    assert derived_ulid != ulid
    assert await page.get_by_role("link", name=TITLE, exact=True).get_attribute("href") == uri  # « Adaptation de »
    assert f"D'après « {TITLE} »" in await page.get_by_label("Crédits").input_value()
    assert await page.get_by_label("Titre").input_value() == f"{TITLE} — adaptation pour Île brest"  # its own
    await assert_accessible(page)
    await page.get_by_label("Titre").fill("Repair café du bourg")
    await page.get_by_label("Lieu").fill("Landerneau")
    await page.get_by_role("button", name="Publier").click()
    await page.wait_for_url(re.compile(r".*\?done=published$"))
    await open_sections(page)
    derived_uri = f"{island.url}/o/{derived_ulid}"
    derived, _ = await stored(island, derived_uri)
    assert derived.based_on == uri and derived.state == "published"
    await page.goto(derived_uri)
    await page.get_by_role("complementary", name="Origine").get_by_role("link", name=TITLE).wait_for()
    await assert_accessible(page)
    await page.goto(uri)
    await page.get_by_role("region", name="Réutilisations").get_by_role("link", name="Repair café du bourg").wait_for()

    # Withdraw: refused without the confirmation, done with it.
    await page.goto(f"{island.url}/espace/items/{ulid}/modifier")
    await page.get_by_role("button", name="Retirer définitivement").click()
    await page.get_by_role("alert").filter(has_text="Cochez la case").wait_for()
    assert (await stored(island, uri))[0].deleted_at is None
    await page.get_by_label(f"Je confirme vouloir retirer « {TITLE} »").check()
    await page.get_by_role("button", name="Retirer définitivement").click()
    await page.wait_for_url(f"{island.url}/espace?done=withdrawn")
    assert "a été retiré" in await page.get_by_role("status").inner_text()
    assert (await stored(island, uri))[0].deleted_at is not None
    response = await page.goto(uri)
    assert response.status == 410
    async with aiohttp.ClientSession() as anonymous:  # its files went with it
        for url in (item.cover["url"], file_url):
            async with anonymous.get(url) as answer:
                assert answer.status == 404, url


async def test_the_form_without_javascript_and_its_errors(island, new_page):
    page = await new_page(java_script_enabled=False)
    await log_in(page, island)
    await page.goto(f"{island.url}/espace/nouveau?kind=resource")
    await open_sections(page)
    assert await page.get_by_role("heading", level=1).inner_text() == "Nouvelle ressource"

    # Preview with a page load, then errors next to the fields; nothing saved, values kept.
    await page.get_by_label("Titre").fill("Atelier wiki")
    await page.get_by_label("Présentation").fill("Écrire **ensemble**.")
    await page.get_by_label("Latitude").fill("500")
    await page.get_by_label("Longitude").fill("2")
    await page.get_by_label("Format").select_option("atelier")
    await page.get_by_role("button", name="Prévisualiser").click()
    await page.get_by_role("alert").wait_for()
    alert = await page.get_by_role("alert").inner_text()
    assert "Rien n'a été enregistré" in alert and "« Latitude » doit être un nombre entre -90 et 90." in alert
    latitude = page.get_by_label("Latitude")
    assert await latitude.get_attribute("aria-invalid") == "true" and await latitude.input_value() == "500"
    assert await page.get_by_label("Format").input_value() == "atelier"
    # (axe needs scripts: the same error state is checked with axe in the test above)

    await latitude.fill("48.4")
    await page.get_by_role("button", name="Prévisualiser").click()
    await page.locator("#preview strong", has_text="ensemble").wait_for()
    await page.get_by_role("button", name="Enregistrer le brouillon").click()
    await page.wait_for_url(re.compile(r".*\?done=created$"))
    assert "Brouillon enregistré" in await page.get_by_role("status").inner_text()
    await page.goto(f"{island.url}/espace")
    row = page.get_by_role("row").filter(has_text="Atelier wiki")
    assert "Brouillon" in await row.inner_text() and "Ressource de formation" in await row.inner_text()


async def test_english_form_and_diff(island, new_page):
    page = await new_page(locale="en-GB")
    await log_in_english(page, island)
    await page.goto(f"{island.url}/espace/nouveau?kind=fiche")
    await open_sections(page)
    assert await page.get_by_role("heading", level=1).inner_text() == "New sheet"
    await page.get_by_label("Title").fill("Community fridge")
    await page.get_by_label("Goals", exact=True).fill("Share food.")
    await page.get_by_role("button", name="Publish").click()
    await page.wait_for_url(re.compile(r".*\?done=published$"))
    await open_sections(page)
    await page.get_by_label("Goals", exact=True).fill("Share food, waste less.")
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.wait_for_url(re.compile(r".*\?done=saved$"))
    ulid = re.search(r"/items/([0-9a-z]{26})/", page.url).group(1)
    await page.goto(f"{island.url}/o/{ulid}/historique/1/2")
    assert await page.get_by_role("heading", level=1).inner_text() == "Changes between versions 1 and 2"
    assert await page.get_by_role("heading", level=2, name="Goals").count() == 1
    await assert_accessible(page)


async def log_in_english(page, island) -> None:
    await page.goto(f"{island.url}/login")
    await page.locator("#username").fill("alice")
    await page.locator("#password").fill(PASSWORD)
    await page.locator("#main form button[type=submit]").click()  # not the header's search
    await page.wait_for_url(f"{island.url}/espace")


async def test_a_file_too_big_is_refused_before_it_travels(make_island, page):
    island = await make_island("petite", max_upload_bytes=50_000)
    await island.add_user("alice")
    await log_in(page, island)
    await page.goto(f"{island.url}/espace/nouveau?kind=resource")
    await open_sections(page)
    await page.get_by_label("Titre").fill("Atelier vélo")
    files = page.get_by_label("Ajouter des fichiers au matériel")
    await files.set_input_files([{"name": "gros.pdf", "mimeType": "application/pdf", "buffer": pdf(80_000)}])
    await page.get_by_role("button", name="Enregistrer le brouillon").click()
    message = page.get_by_text("« gros.pdf » est trop gros : 50 ko au plus par fichier.")
    await message.wait_for()
    assert await files.get_attribute("aria-invalid") == "true"
    assert await page.evaluate("document.activeElement.id") == "f-attachment_files"
    assert "/espace/nouveau" in page.url  # nothing was sent
    await assert_accessible(page)
    async with island.sessions() as session:
        assert await session.scalar(select(func.count(StoredObject.id))) == 0
    # A smaller file: the message goes, the draft is saved with it.
    await files.set_input_files([{"name": "juste.pdf", "mimeType": "application/pdf", "buffer": pdf(40_000)}])
    assert await message.count() == 0 and await files.get_attribute("aria-invalid") is None
    await page.get_by_role("button", name="Enregistrer le brouillon").click()
    await page.wait_for_url(re.compile(r".*\?done=created$"))
    await open_sections(page)
    await page.get_by_role("link", name="juste.pdf").wait_for()
