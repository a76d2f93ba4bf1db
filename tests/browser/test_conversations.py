"""A conversation in a real browser: a visitor reads it, a member answers a reply, a moderator
hides one after confirming nothing, deletes another after confirming; the author reads her
notifications. axe-core on each page."""

from __future__ import annotations

from tests.browser.test_authoring import assert_accessible, log_in
from tests.flows.test_conversations import Speaker, add_actor, publish_fiche
from web import provision


async def test_read_answer_and_moderate_a_conversation(island, remote, new_page):
    await provision.add_user(island.sessions, username="modo", password="correct horse battery", role="moderator")
    add_actor(remote, "mia", "Mia", icon={"type": "Image", "url": "https://cdn.example/mia.png"})
    fiche = await publish_fiche(island)
    rosa, mia = Speaker(island, remote, "rosa"), Speaker(island, remote, "mia")
    question = await rosa.reply(fiche.uri, "<p>Combien de parcelles ?</p>", "2025-05-14T09:00:00Z")
    await mia.reply(question, "<p>Douze, je crois.</p>", "2025-05-14T10:00:00Z")
    await mia.reply(fiche.uri, "<p>Achetez mes graines !</p>", "2025-05-14T11:00:00Z")

    visitor = await new_page()
    await visitor.goto(fiche.uri)
    discussion = visitor.get_by_role("region", name="Discussion")
    assert "Douze, je crois." in await discussion.inner_text()
    await visitor.get_by_role("link", name="Connectez-vous pour répondre").wait_for()
    await assert_accessible(visitor)

    # alice answers rosa's question from the form under it.
    alice = await new_page()
    await log_in(alice, island, "alice")
    await alice.goto(fiche.uri)
    question_block = alice.get_by_role("article", name="Réponse de Rosa")
    await question_block.get_by_text("Répondre", exact=True).click()
    await question_block.get_by_label("Votre réponse à Rosa").fill("Il y en a **quinze**.")
    await question_block.get_by_role("button", name="Envoyer").click()
    await alice.wait_for_url(f"{fiche.uri}#reponse-*")
    answer = alice.get_by_role("article", name="Réponse d'Alice")
    assert "quinze" in await answer.inner_text()
    await assert_accessible(alice)

    # The moderator hides the advertisement, then deletes it after confirming.
    modo = await new_page()
    await log_in(modo, island, "modo")
    await modo.goto(fiche.uri)
    advert = modo.get_by_role("article", name="Réponse de Mia").filter(has_text="graines")
    await advert.get_by_role("button", name="Masquer").click()
    await modo.wait_for_url(f"{fiche.uri}#reponse-*")
    assert "Masqué par la modération" in await advert.inner_text()
    await assert_accessible(modo)
    await advert.get_by_role("link", name="Supprimer").click()
    assert await modo.get_by_role("heading", level=1).inner_text() == "Supprimer une réponse"
    await assert_accessible(modo)
    await modo.get_by_label("Motif (facultatif, consigné dans le journal de modération)").fill("publicité")
    await modo.get_by_role("button", name="Confirmer la suppression").click()
    await modo.wait_for_url(f"{fiche.uri}#discussion")
    assert "graines" not in await modo.get_by_role("region", name="Discussion").inner_text()

    await visitor.reload()
    assert "graines" not in await visitor.get_by_role("region", name="Discussion").inner_text()

    # alice's notifications: rosa's question, mia's answer below it.
    await alice.get_by_role("link", name="Notifications").click()
    assert await alice.get_by_role("heading", level=1).inner_text() == "Notifications"
    text = await alice.get_by_role("main").inner_text()
    assert text.count("a répondu") == 3  # rosa, and mia twice (one reply was later deleted)
    await assert_accessible(alice)
