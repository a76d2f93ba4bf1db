"""The island's face: one stylesheet, no inline styles (the CSP allows none), a versioned and
long-cached stylesheet, cards with their covers, error pages for people and the old short bodies
for servers."""

from __future__ import annotations

import re

import aiohttp

from archipel import accounts
from federation import actions
from web.pages import TEMPLATES_DIR

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_no_template_carries_an_inline_style():
    """Styles live in web/static/*.css: the pages' CSP (style-src 'self') would refuse the rest."""
    for template in sorted(TEMPLATES_DIR.glob("*.html")):
        text = template.read_text("utf-8")
        assert "<style" not in text, f"{template.name}: a <style> block (move it to web/static/archipel.css)"
        # A style attribute in markup (not one shown as text, as map.html's embed code is).
        assert not re.search(r"<[a-z][^<>]*\sstyle=", text), f"{template.name}: a style attribute"


async def test_the_stylesheet_is_versioned_cached_and_alone_allowed(island):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{island.url}/", headers=HTML) as response:
            page = await response.text()
            policy = response.headers["Content-Security-Policy"]
        assert "style-src 'self';" in policy and "unsafe-inline" not in policy
        href = re.search(r'<link rel="stylesheet" href="([^"]+)">', page).group(1)
        assert re.fullmatch(re.escape(island.url) + r"/static/archipel\.css\?v=[0-9a-f]{12}", href)
        async with http.get(href) as response:
            assert response.status == 200 and response.content_type == "text/css"
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        async with http.get(f"{island.url}/static/editor.js") as response:
            assert response.headers["Cache-Control"] == "public, max-age=3600"


async def test_error_pages_for_people_and_short_answers_for_servers(island):
    missing = f"{island.url}/@personne"
    async with aiohttp.ClientSession() as http:
        async with http.get(missing, headers=HTML) as response:
            page = await response.text()
            assert response.status == 404 and response.content_type == "text/html"
            assert response.headers["Content-Language"] == "fr"
            assert "<h1>Page introuvable</h1>" in page and 'class="site-header"' in page
        async with http.get(missing, headers={**HTML, "Accept-Language": "en"}) as response:
            assert response.status == 404 and "<h1>Page not found</h1>" in await response.text()
        async with http.get(missing) as response:  # no text/html: the short body it always had
            assert response.status == 404 and response.content_type == "text/plain"
            assert await response.text() == "no such actor"
        async with http.get(missing, headers={"Accept": "application/activity+json"}) as response:
            assert response.status == 404 and "<html" not in await response.text()
        async with http.get(f"{island.url}/users/personne", headers={"Accept": "application/activity+json"}) as response:
            assert response.status == 404 and "<html" not in await response.text()


async def test_a_card_shows_the_cover_of_its_item(island):
    cover = {"url": f"{island.url}/media/1/couverture.jpg", "name": "Un atelier", "mediaType": "image/jpeg"}
    async with island.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        await actions.publish_item(session, island.url, [alice], kind="fiche", title="Avec une couverture",
                                   cover=cover)
        await actions.publish_item(session, island.url, [alice], kind="fiche", title="Sans couverture")
        await session.commit()
    async with aiohttp.ClientSession() as http, http.get(f"{island.url}/", headers=HTML) as response:
        home = await response.text()
    cards = re.findall(r'<article class="card".*?</article>', home, flags=re.S)
    [covered] = [card for card in cards if "Avec une couverture" in card]
    assert f'<img class="card-cover" src="{cover["url"]}" alt=""' in covered
    assert all("card-cover" not in card for card in cards if "Sans couverture" in card)


async def test_a_refused_form_says_to_reload_the_page(island):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{island.url}/logout", data={"csrf_token": "forged"}, headers=HTML) as response:
            page = await response.text()
            assert response.status == 403 and "<h1>Formulaire expiré</h1>" in page and "rechargez la page" in page
        async with http.post(f"{island.url}/logout", data={"csrf_token": "forged"}) as response:
            assert response.status == 403 and "reload the page" in await response.text()
