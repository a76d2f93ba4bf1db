"""Open contribution in a real browser: a visitor proposes a fiche without an account; a moderator
accepts it with an edit; it is published with credit; another proposal is refused with a reason,
which the proposer reads through the private status link. axe-core on every page on the way."""

from __future__ import annotations

import re

from archipel import accounts
from federation import actions
from tests.browser.test_authoring import assert_accessible, log_in
from web import provision

PASSWORD = "correct horse battery"


async def propose(page, island, title: str, pitch: str) -> str:
    """Fills the public form as a visitor; returns the private status link."""
    await page.goto(f"{island.url}/")
    await page.get_by_role("link", name="Proposer", exact=True).click()
    await page.wait_for_url(f"{island.url}/proposer")
    await page.get_by_label("Titre").fill(title)
    await page.get_by_label("Accroche").fill(pitch)
    await page.get_by_label("Présentation").fill("Des habitant·es qui **cuisinent** ensemble chaque jeudi.")
    # The sections are folded away until wanted.
    genesis = page.get_by_label("Contexte et genèse")
    assert not await genesis.is_visible()
    await page.get_by_text("Pour aller plus loin (facultatif)").click()
    await genesis.fill("Un jeudi, une cuisine de centre social restée vide.")
    await page.get_by_label("Lieu").fill("Rennes")
    await page.get_by_label("Votre nom").fill("Zoé Martin")
    await page.get_by_label("Votre adresse e-mail").fill("zoe@example.org")
    await page.get_by_role("button", name="Envoyer ma proposition").click()
    await page.wait_for_url(re.compile(r".*/proposition/[A-Za-z0-9_-]+\?envoyee=1$"))
    status = page.get_by_role("status")
    assert "Merci" in await status.inner_text()
    return await page.locator("a.status-link").get_attribute("href")


async def test_propose_accept_with_an_edit_and_refuse_with_a_reason(island, new_page):
    await provision.add_user(island.sessions, username="mona", password=PASSWORD, display_name="Mona",
                             role="moderator")
    visitor = await new_page()

    # The form, its errors, and nothing to trip over for a person (the honeypot is out of reach).
    await visitor.goto(f"{island.url}/proposer")
    assert await visitor.get_by_role("heading", level=1).inner_text() == "Proposer une fiche"
    await assert_accessible(visitor)
    assert await visitor.locator("input[name=reference_dossier]").get_attribute("tabindex") == "-1"
    await visitor.get_by_role("button", name="Envoyer ma proposition").click()
    alert = visitor.get_by_role("alert")
    await alert.wait_for()
    assert "Le titre est obligatoire." in await alert.inner_text()
    assert await visitor.get_by_label("Titre").get_attribute("aria-invalid") == "true"
    await assert_accessible(visitor)

    first = await propose(visitor, island, "Cuisine de quartier", "Cuisiner ensemble pour rompre l'isolement")
    await assert_accessible(visitor)
    assert "En attente de relecture" in await visitor.locator("main").inner_text()

    # The moderator reads, retouches and accepts.
    moderator = await new_page()
    await log_in(moderator, island, "mona")
    await moderator.get_by_role("link", name="Modération").click()
    await moderator.wait_for_url(f"{island.url}/espace/moderation")
    await assert_accessible(moderator)
    await moderator.get_by_role("link", name="Cuisine de quartier").click()
    await moderator.wait_for_url(re.compile(r".*/espace/moderation/propositions/\d+$"))
    await assert_accessible(moderator)
    assert "Proposée par Zoé Martin." in await moderator.locator("main").inner_text()
    await moderator.get_by_label("Titre").fill("La cuisine de quartier du Blosne")
    await moderator.get_by_role("button", name="Accepter et publier").click()
    await moderator.wait_for_url(f"{island.url}/espace/moderation?done=accepted")
    assert "acceptée" in await moderator.get_by_role("status").inner_text()

    # The proposer's link now leads to the published fiche, which credits them.
    await visitor.goto(first)
    assert "Acceptée et publiée" in await visitor.locator("main").inner_text()
    await visitor.locator("dd a").first.click()
    assert await visitor.get_by_role("heading", level=1).inner_text() == "La cuisine de quartier du Blosne"
    article = await visitor.locator("article").inner_text()
    assert "Proposée par Zoé Martin." in article and "une cuisine de centre social restée vide" in article
    await assert_accessible(visitor)

    # Another proposal, refused with a reason.
    second = await propose(visitor, island, "Vente de crédits carbone", "Une offre commerciale")
    await moderator.goto(f"{island.url}/espace/moderation")
    await moderator.get_by_role("link", name="Vente de crédits carbone").click()
    await moderator.get_by_role("button", name="Refuser la proposition").click()
    await moderator.get_by_role("alert").wait_for()
    assert "Donnez une raison" in await moderator.get_by_role("alert").inner_text()
    await assert_accessible(moderator)
    reason = "Une offre commerciale n'est pas une innovation sociale à partager."
    await moderator.get_by_label("Raison du refus").fill(reason)
    await moderator.get_by_role("button", name="Refuser la proposition").click()
    await moderator.wait_for_url(f"{island.url}/espace/moderation?done=refused")

    await visitor.goto(second)
    text = await visitor.locator("main").inner_text()
    assert "Non retenue" in text and reason in text
    await assert_accessible(visitor)

    # Every decision is in the journal.
    await moderator.get_by_role("link", name="Journal").click()
    await moderator.wait_for_url(f"{island.url}/espace/moderation/journal")
    journal = await moderator.locator("table").inner_text()
    assert "Proposition acceptée" in journal and "Proposition retouchée" in journal and reason in journal
    await assert_accessible(moderator)


async def test_an_improvement_from_the_fiche_page_is_reviewed_as_a_diff(island, new_page):
    await provision.add_user(island.sessions, username="mona", password=PASSWORD, display_name="Mona",
                             role="moderator")
    async with island.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        item = await actions.publish_item(session, island.url, [alice], kind="fiche", title="Repair café",
                                          source="Un samedi par mois.", data={"pitch": "On répare ensemble"})
        await session.commit()
    visitor = await new_page()
    await visitor.goto(item.uri)
    await visitor.get_by_role("link", name="Proposer une amélioration").click()
    assert await visitor.get_by_role("heading", level=1).inner_text() == "Proposer une amélioration"
    assert await visitor.get_by_label("Accroche").input_value() == "On répare ensemble"
    await assert_accessible(visitor)
    await visitor.get_by_label("Accroche").fill("On répare ensemble, et on apprend à réparer")
    await visitor.get_by_role("button", name="Envoyer ma proposition d'amélioration").click()
    await visitor.wait_for_url(re.compile(r".*/proposition/[A-Za-z0-9_-]+\?envoyee=1$"))
    assert "et on apprend à réparer" in await visitor.locator(".diff ins").first.inner_text()
    await assert_accessible(visitor)

    moderator = await new_page()
    await log_in(moderator, island, "mona")
    await moderator.goto(f"{island.url}/espace/moderation")
    await moderator.get_by_role("link", name="Repair café").click()
    assert "Amélioration de" in await moderator.locator("main").inner_text()
    await assert_accessible(moderator)
    await moderator.get_by_role("button", name="Accepter et publier").click()
    await moderator.wait_for_url(f"{island.url}/espace/moderation?done=accepted")
    await visitor.goto(item.uri)
    text = await visitor.locator("article").inner_text()
    assert "et on apprend à réparer" in text and "Amélioration proposée par une personne de passage." in text
