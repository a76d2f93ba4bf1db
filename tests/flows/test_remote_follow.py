"""Following an account of another island from one's own: the follow box there sends the visitor
to their island's /authorize_interaction (our WebFinger's subscribe template), where they confirm."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp

from archipel import social
from tests.nodes import wait_for
from tests.web.test_authoring import Visitor


def host_of(node) -> str:
    return node.url.split("://", 1)[1]


async def test_a_member_follows_an_author_of_another_island_from_the_follow_box(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await nantes.add_user("bob")
    alice_handle = f"@alice@{host_of(brest)}"

    # On brest, bob gives his own address: brest reads nantes's WebFinger and sends him home.
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{brest.url}/suivre", allow_redirects=False,
                            params={"account": alice_handle, "from": f"@bob@{host_of(nantes)}"}) as response:
            assert response.status == 303
            location = response.headers["Location"]
    assert location.startswith(f"{nantes.url}/authorize_interaction?")
    asked = parse_qs(urlsplit(location).query)["uri"][0]

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        # Not logged in: the login page first, then back here.
        async with http.get(location, allow_redirects=False) as response:
            assert response.status == 302 and response.headers["Location"].startswith("/login?next=")
        bob = await Visitor(nantes, http).login("bob")
        status, page, _ = await bob.get(location)
        assert status == 200
        assert f"@alice@{host_of(brest)}" in page and 'name="uri"' in page
        # Opening the page followed nobody: only the confirmation does.
        async with nantes.sessions() as session:
            assert await social.find_follow(session, nantes.actor_uri("bob"), brest.actor_uri("alice")) is None
        status, _, back = await bob.post("/authorize_interaction", {"uri": asked})
        assert status == 303

        async def accepted():
            async with nantes.sessions() as session:
                follow = await social.find_follow(session, nantes.actor_uri("bob"), brest.actor_uri("alice"))
                return follow is not None and follow.state == "accepted"

        await wait_for(accepted, message="brest accepts bob's follow of alice")
        status, page, _ = await bob.get(back)
        assert status == 200 and "Vous suivez ce compte." in page


async def test_an_unknown_account_is_a_clear_message(make_island):
    nantes = await make_island("nantes")
    await nantes.add_user("bob")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        bob = await Visitor(nantes, http).login("bob")
        for given in ("nobody@127.0.0.1:9", "pas une adresse", f"{nantes.url}/users/bob"):
            status, page, _ = await bob.get(f"/authorize_interaction?uri={given}")
            assert status == 400, given
            assert "Ce compte est introuvable" in page, given
