"""The follow box and the profile form in a real browser: accessible (axe-core), the copy button
appears with JavaScript, and the form sends a visitor to their own server."""

from __future__ import annotations

from tests.browser.conftest import axe_violations, describe_violations
from tests.flows.test_fiches import publish_file
from tests.web.test_authoring import PASSWORD


async def assert_accessible(page):
    violations = await axe_violations(page)
    assert not violations, f"axe on {page.url}:\n{describe_violations(violations)}"


async def test_follow_boxes_are_accessible_and_the_copy_button_copies(island, new_page):
    await publish_file(island, "papi-brest.md", "alice")
    page = await new_page(permissions=["clipboard-read", "clipboard-write"])
    host = island.url.removeprefix("http://")
    for path, handle in (("/", f"@{island.island_username}@{host}"), ("/@alice", f"@alice@{host}"),
                         ("/tags/inclusion", f"@inclusion@{host}")):
        response = await page.goto(island.url + path)
        assert response.status == 200
        assert await page.locator("code.handle").inner_text() == handle
        copy = page.get_by_role("button", name="Copier l'adresse")
        await copy.wait_for(state="visible")  # hidden without JavaScript, shown by follow.js
        await assert_accessible(page)
    await copy.click()
    await page.locator(".copy-status", has_text="Adresse copiée").wait_for()
    assert await page.evaluate("navigator.clipboard.readText()") == f"@inclusion@{host}"

    # On a phone, the form still fits; a wrong address is explained next to the form.
    phone = await new_page(viewport={"width": 360, "height": 740})
    await phone.goto(island.url + "/@alice")
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await phone.get_by_label("Suivre depuis votre instance").fill("pas une adresse !")
    await phone.get_by_role("button", name="Suivre", exact=True).click()
    await phone.get_by_role("alert").wait_for()
    await assert_accessible(phone)
    # What they typed is remembered by their browser for the next follow box.
    await phone.goto(island.url + "/")
    assert await phone.get_by_label("Suivre depuis votre instance").input_value() == "pas une adresse !"


async def test_the_profile_form_is_accessible(island, page):
    await page.goto(island.url + "/login")
    await page.get_by_label("Nom d'utilisateur·ice").fill("alice")
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url("**/espace")
    await page.get_by_role("link", name="Mon profil").click()
    await page.get_by_label("Nom affiché").fill("Alice Martin")
    await page.get_by_label("Intitulé 1").fill("Site")
    await page.get_by_label("Adresse 1").fill("https://alice.example/")
    await assert_accessible(page)
    await page.get_by_role("button", name="Enregistrer le profil").click()
    await page.get_by_role("status").wait_for()
    await page.goto(island.url + "/@alice")
    assert await page.get_by_role("heading", level=1).inner_text() == "Alice Martin"
    await assert_accessible(page)
