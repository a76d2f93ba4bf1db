"""The accounts pages in a real browser, at phone and desktop widths: an admin invites someone
from /espace/comptes, the invited person creates their account from the link; forms are found by
their labels and axe-core finds no serious or critical violation."""

from __future__ import annotations

import pytest

from archipel import accounts
from tests.browser.test_authoring import PASSWORD, assert_accessible, log_in
from web import provision

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


async def no_horizontal_scroll(page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", WIDTHS)
async def test_an_admin_invites_and_the_invitation_creates_the_account(island, new_page, width):
    await provision.add_user(island.sessions, username="gwen", password=PASSWORD, role="admin")
    admin = await new_page(viewport=WIDTHS[width])
    await log_in(admin, island, "gwen")
    await admin.get_by_role("link", name="Comptes", exact=True).click()
    await admin.wait_for_url(f"{island.url}/espace/comptes")
    assert "@alice" in await admin.locator("table").inner_text()
    await assert_accessible(admin)
    assert await no_horizontal_scroll(admin)
    await admin.get_by_label("Rôle", exact=True).select_option("moderator")
    await admin.get_by_role("button", name="Créer un lien d'invitation").click()
    link = await admin.get_by_label("Lien à transmettre").input_value()
    assert link.startswith(f"{island.url}/invitation/")
    await assert_accessible(admin)
    assert await no_horizontal_scroll(admin)

    invited = await new_page(viewport=WIDTHS[width])
    await invited.goto(link)
    await assert_accessible(invited)
    assert await no_horizontal_scroll(invited)
    await invited.get_by_label("Nom d'utilisateur·ice").fill("yann")
    await invited.get_by_label("Nom affiché").fill("Yann Le Gall")
    await invited.get_by_label("Mot de passe (8 caractères au moins)").fill(PASSWORD)
    await invited.get_by_label("Mot de passe, une seconde fois").fill(PASSWORD)
    await invited.get_by_role("button", name="Créer mon compte").click()
    await invited.wait_for_url(f"{island.url}/espace")
    await invited.get_by_role("link", name="Mon compte").click()
    await invited.wait_for_url(f"{island.url}/espace/compte")
    await assert_accessible(invited)
    assert await no_horizontal_scroll(invited)
    async with island.sessions() as session:
        assert (await accounts.user_by_username(session, "yann")).role == "moderator"

    await invited.goto(link)  # used: a clear page
    assert await invited.get_by_role("heading", level=1).inner_text() == "Lien inutilisable"
    await assert_accessible(invited)
