"""The moderators' pages of blocks and reports in a real browser: forms by their labels, axe-core
finds no serious or critical violation, and a phone-sized screen can use them."""

from __future__ import annotations

from sqlalchemy import select

from archipel import reports
from archipel.storage.tables import Block, LocalActor
from tests.browser.test_authoring import assert_accessible, log_in
from web import provision


async def test_a_moderator_silences_a_domain_and_reads_a_report(island, page):
    await provision.add_user(island.sessions, username="gwen", password="correct horse battery",
                             role="moderator")
    article = await island.publish("alice", "Atelier vélo")
    async with island.sessions() as session:
        alice = await session.scalar(select(LocalActor).where(LocalActor.username == "alice"))
        await reports.receive(session, activity_uri="https://mastodon.example/reports/1",
                              reporter_uri="https://mastodon.example/actor", target_actor_uri=island.actor_uri("alice"),
                              object_uris=[article], comment="<b>Publicité</b> déguisée", concerned=[alice])
        await session.commit()

    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, island, "gwen")
    await page.goto(f"{island.url}/espace/moderation/blocages")
    await page.get_by_label("Portée").select_option("domain")
    await page.get_by_label("Domaine (exemple.org ou hôte:port), adresse @compte@hôte ou URL du compte").fill(
        "bruyant.example")
    await page.get_by_label("Mesure").select_option("silence")
    await page.get_by_label("Raison (conservée dans le journal de modération)").fill("Trop de messages")
    await page.get_by_role("button", name="Appliquer").click()
    await page.wait_for_url(f"{island.url}/espace/moderation/blocages")
    assert "bruyant.example" in await page.locator(".rules").inner_text()
    await assert_accessible(page)
    async with island.sessions() as session:
        [rule] = list(await session.scalars(select(Block)))
    assert (rule.kind, rule.target, rule.severity, rule.reason) == ("domain", "bruyant.example", "silence",
                                                                    "Trop de messages")

    await page.goto(f"{island.url}/espace/moderation/signalements")
    text = await page.locator("main").inner_text()
    assert "Publicité déguisée" in text and "Atelier vélo" in text
    await assert_accessible(page)
    await page.get_by_role("button", name="Marquer comme traité").click()
    await page.wait_for_url(f"{island.url}/espace/moderation/signalements")
    assert "traité" in await page.get_by_role("heading", level=2).first.inner_text()

    await page.goto(f"{island.url}/espace/moderation/signaler")
    await assert_accessible(page)
