"""Reuse across islands: a derivative linked to its origin, with attribution; the origin learns of it."""

from archipel import accounts, content
from federation import actions
from tests.flows.test_fiches import publish_file, two_islands
from tests.nodes import wait_for
from tests.web.test_auth import browser_like, hidden_csrf


async def log_in(http, node, username):
    async with http.get(f"{node.url}/login") as response:
        token = hidden_csrf(await response.text())
    form = {"csrf_token": token, "username": username, "password": "correct horse battery"}
    async with http.post(f"{node.url}/login", data=form, allow_redirects=False) as response:
        assert response.status == 303


async def test_reusing_a_fiche_from_another_island(make_island):
    brest, nantes = await two_islands(make_island)
    origin_uri = await publish_file(brest, "papi-brest.md", "alice")
    await wait_for(lambda: nantes.object(origin_uri), message="the fiche on nantes")

    async with browser_like() as http:
        await log_in(http, nantes, "bob")
        async with http.get(f"{nantes.url}/") as response:
            token = hidden_csrf(await response.text())
        async with http.post(f"{nantes.url}/reutiliser", data={"csrf_token": token, "origin": origin_uri},
                             allow_redirects=False) as response:
            assert response.status == 303
            edit_url = response.headers["Location"]
    derived_uri = nantes.url + "/o/" + edit_url.split("/")[3]
    async with nantes.sessions() as session:
        derived = await content.find_object(session, derived_uri)
        assert (derived.state, derived.based_on, derived.kind) == ("draft", origin_uri, "fiche")
        # A title of its own from the start: the two never look identical.
        assert derived.name == "Les Points d'Accès Public à Internet de Brest — adaptation pour Île nantes"
        assert derived.licence == "CC-BY-SA-4.0"  # share-alike
        assert derived.fields["attribution"].startswith("D'après « Les Points d'Accès Public")
        assert "CC BY-SA 4.0" in derived.fields["attribution"] and origin_uri in derived.fields["attribution"]
        assert derived.private_fields == {}  # the origin's contacts never travel
        bob = await accounts.get_actor(session, "bob")
        await actions.edit_item(session, nantes.url, derived, editor=bob, state="published",
                                title="Les PAPI, version nantaise")
        await session.commit()
    nantes.wake()

    # Its page and its card in the listings say where it comes from, by name.
    async with browser_like() as http:
        async with http.get(derived_uri) as response:
            page = await response.text()
        async with http.get(f"{nantes.url}/") as response:
            home = await response.text()
    assert "Adaptation de <a href=\"/r/" in page and ", publiée sur " in page
    card = home[home.index('<article class="card"'):]
    card = card[:card.index("</article>")]
    assert "Les PAPI, version nantaise" in card and '<p class="card-origin">Adaptation de <a href="/r/' in card

    # The origin's island hears of the reuse and links to it.
    await wait_for(lambda: brest.object(derived_uri), message="the derivative on brest")
    async with browser_like() as http:
        async with http.get(origin_uri) as response:
            page = await response.text()
    assert "Les PAPI, version nantaise" in page  # listed among its reuses (a local replica page)
    async with browser_like() as http:
        async with http.get(derived_uri) as response:
            derived_page = await response.text()
    assert origin_uri in derived_page
    assert "D'après « Les Points d'Accès Public à Internet de Brest », par Alice" in derived_page
