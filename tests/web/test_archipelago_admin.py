"""Admins manage the island's follows from a page: follow by handle, accept or refuse requests."""

from archipel.social import find_follow
from tests.nodes import wait_for
from tests.web.test_auth import browser_like, hidden_csrf
from web import provision


async def log_in(http, node, username):
    async with http.get(f"{node.url}/login") as response:
        token = hidden_csrf(await response.text())
    form = {"csrf_token": token, "username": username, "password": "correct horse battery"}
    async with http.post(f"{node.url}/login", data=form, allow_redirects=False) as response:
        assert response.status == 303


async def test_an_admin_follows_an_island_and_answers_requests(make_island):
    brest = await make_island("brest", manually_approves_followers=True)
    nantes = await make_island("nantes")
    await provision.add_user(nantes.sessions, username="gwen", password="correct horse battery", role="admin")
    await provision.add_user(brest.sessions, username="gwen", password="correct horse battery", role="admin")
    await nantes.add_user("bob")
    async with browser_like() as http:
        await log_in(http, nantes, "bob")
        async with http.get(f"{nantes.url}/espace/archipel", allow_redirects=False) as response:
            assert response.status == 403  # authors do not manage the archipelago
    async with browser_like() as http:
        await log_in(http, nantes, "gwen")
        async with http.get(f"{nantes.url}/espace/archipel") as response:
            token = hidden_csrf(await response.text())
        handle = f"@{brest.island_username}@{brest.url.split('//')[1]}"
        async with http.post(f"{nantes.url}/espace/archipel/suivre", data={"csrf_token": token, "target": handle},
                             allow_redirects=False) as response:
            assert response.status == 303
        async with http.post(f"{nantes.url}/espace/archipel/suivre", data={"csrf_token": token, "target": "n'importe"},
                             allow_redirects=False) as response:
            assert response.status == 400 and 'role="alert"' in await response.text()

    ours, theirs = nantes.actor_uri(nantes.island_username), brest.actor_uri(brest.island_username)

    async def state(node, expected):
        async with node.sessions() as session:
            follow = await find_follow(session, ours, theirs)
            return follow is not None and follow.state == expected

    await wait_for(lambda: state(brest, "pending"), message="a pending request on brest (manual approval)")
    async with browser_like() as http:
        await log_in(http, brest, "gwen")
        async with http.get(f"{brest.url}/espace/archipel") as response:
            page = await response.text()
            assert "Île nantes" in page and "en attente de réponse" in page and "pending" not in page
            token = hidden_csrf(page)
        async with http.post(f"{brest.url}/espace/archipel/demandes", allow_redirects=False,
                             data={"csrf_token": token, "follower": ours, "decision": "accept"}) as response:
            assert response.status == 303
    await wait_for(lambda: state(nantes, "accepted"), message="the Accept on nantes")
