"""The letter's subscription form in a real browser, at phone and desktop widths: filled by label
as a person would, its error said in an alert, the confirmation page and the choices page;
axe-core on each, and nothing wider than the screen."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from archipel.storage.tables import LetterSubscriber
from tests.browser.test_authoring import assert_accessible

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


async def fits(page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", WIDTHS)
async def test_subscribe_to_the_letter(island, new_page, width):
    page = await new_page(viewport=WIDTHS[width])
    await page.goto(f"{island.url}/lettre")
    assert await page.get_by_role("heading", level=1).inner_text() == "La lettre de l'île"
    await assert_accessible(page)
    assert await fits(page)

    await page.get_by_label("Adresse e-mail").fill("lea@example.org")
    await page.get_by_label("Commune", exact=True).fill("Atlantide")
    await page.get_by_role("button", name="S'abonner").click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "Aucune commune de ce nom" in await alert.inner_text()
    assert await page.get_by_label("Commune", exact=True).input_value() == "Atlantide"  # what was typed stays
    await assert_accessible(page)

    await page.get_by_label("Commune", exact=True).fill("Brest")
    await page.get_by_label("Distance autour de la commune").select_option("25")
    await page.get_by_label("Chaque mois").check()
    await page.get_by_role("button", name="S'abonner").click()
    status = page.get_by_role("status")
    await status.wait_for()
    assert "Un e-mail vient d'être envoyé" in await status.inner_text()
    await assert_accessible(page)

    async with island.sessions() as session:
        subscriber = await session.scalar(select(LetterSubscriber))
    assert (subscriber.place, subscriber.radius_km, subscriber.frequency) == ("Brest", 25, "monthly")
    await page.goto(f"{island.url}/lettre/{subscriber.token}/confirmer")
    await page.get_by_role("button", name="Confirmer mon abonnement").click()
    await page.get_by_role("status").wait_for()
    await assert_accessible(page)
    await page.get_by_role("link", name="Changer vos choix").click()
    assert await page.get_by_label("Commune", exact=True).input_value() == "Brest"
    assert await page.get_by_label("Chaque mois").is_checked()
    await assert_accessible(page)
    assert await fits(page)
