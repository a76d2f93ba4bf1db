"""Public listings: home, themes, authors, about. Drafts and withdrawn items never appear."""

import html
import re

import aiohttp

from archipel import accounts
from federation import actions
from tests.flows.test_fiches import publish_file


async def text(url: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            assert response.status == 200, url
            return await response.text()


async def test_listings_show_public_items_only(island):
    await island.add_user("claire")
    fiche = await publish_file(island, "papi-brest.md", "alice", "claire")
    await publish_file(island, "atelier-wiki.md", "alice")
    withdrawn = await publish_file(island, "papi-brest.md", "alice")
    await island.withdraw(withdrawn)
    async with island.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        await actions.publish_item(session, island.url, [alice], kind="fiche", title="Brouillon secret",
                                   tags=["Médiation numérique"], state="draft")
        await session.commit()

    home = await text(f"{island.url}/")
    assert "Les Points d&#39;Accès Public à Internet de Brest" in home
    assert home.count("Les Points d&#39;Accès Public") == 1  # the withdrawn copy is gone
    assert "Atelier « contribuer à un wiki de territoire »" in home
    assert "Brouillon secret" not in home
    assert f'href="{island.url}/tags/mediationnumerique">Médiation numérique</a> (1)' in home

    theme = await text(f"{island.url}/tags/MediationNumerique")
    assert fiche in theme and "Brouillon secret" not in theme
    for username in ("alice", "claire"):
        assert fiche in await text(f"{island.url}/@{username}")
    assert "Brouillon secret" not in await text(f"{island.url}/@alice")
    about = await text(f"{island.url}/about")
    facts = {html.unescape(k): v for k, v in re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)</dd>", about)}
    assert facts["Fiches d'innovation"] == "1" and facts["Ressources de formation"] == "1"


async def test_cards_show_a_fiche_pitch_else_its_summary(island):
    """Listings and the map's list read a card's pitch alone from the database (not the whole
    fields of the fiche): the same text as the fiche's page, on both databases."""
    async with island.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        for title, kind, pitch, summary in (("Atelier vélo", "fiche", "Réparer ensemble, le samedi.", "Résumé caché."),
                                            ("Guide d'animation", "resource", "", "Un guide pour animer."),
                                            ("Jardin", "fiche", "", "Seulement un résumé.")):
            data = {"territory": {"place": "Brest", "latitude": 48.39, "longitude": -4.49}}
            if pitch:
                data["pitch"] = pitch
            await actions.publish_item(session, island.url, [alice], kind=kind, title=title, summary=summary,
                                       tags=["Réemploi"], data=data)
        await session.commit()
    for path in ("/", "/federated", "/tags/reemploi", "/@alice", "/carte"):
        page = await text(f"{island.url}{path}")
        shown = set(re.findall(r"<p(?: lang=\"fr\")?>([^<]+)</p>", page))
        assert {"Réparer ensemble, le samedi.", "Un guide pour animer.", "Seulement un résumé."} <= shown, path
        assert "Résumé caché." not in page, path
