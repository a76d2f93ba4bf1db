"""Nothing of the island's operational state is public: an island's page of the archipelago
(/federated/islands/<host>) shows its name and publications to everyone, and the follows each
way, the last activity received and the deliveries only to moderators and admins."""

from __future__ import annotations

from archipel.storage.tables import Follow, HostHealth, utcnow
from tests.nodes import island_follows
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like
from web import provision

OPERATIONAL = ("Nous la suivons", "Elle nous suit", "acceptée", "Dernière activité reçue", "Livraisons vers",
               "échecs de suite", "Pour l&#39;animation du réseau")


async def state_page(http, node, host) -> str:
    async with http.get(f"{node.url}/federated/islands/{host}", allow_redirects=False) as response:
        assert response.status == 200
        return await response.text()


async def test_an_island_page_shows_its_state_to_moderators_only(make_island):
    brest = await make_island("brest")
    nantes = await make_island("nantes")
    await nantes.add_user("bob")
    await provision.add_user(nantes.sessions, username="mona", password="correct horse battery", role="moderator")
    await island_follows(nantes, brest)
    host = brest.url.split("://")[1]
    async with nantes.sessions() as session:
        await session.merge(HostHealth(host=host, consecutive_failures=3, last_failure_at=utcnow(),
                                       last_error="ClientConnectorError: Cannot connect"))
        await session.commit()
    for username in (None, "bob"):  # a visitor, an author
        async with browser_like() as http:
            if username:
                await log_in(http, nantes, username)
            page = await state_page(http, nantes, host)
        assert "<h1>Île brest</h1>" in page and f"/federated?island={host}" in page
        for word in OPERATIONAL:
            assert word not in page, (username, word)
    async with browser_like() as http:
        await log_in(http, nantes, "mona")
        page = await state_page(http, nantes, host)
    assert "Nous la suivons" in page and "acceptée" in page and "3 échecs de suite" in page
    assert "Dernière activité reçue" in page and "aucune" not in page.split("Dernière activité reçue")[1][:80]
    assert "ClientConnectorError" not in page  # an error's code is not for people


async def test_a_pending_follow_is_not_shown_to_visitors(island):
    await provision.add_user(island.sessions, username="mona", password="correct horse battery", role="moderator")
    async with island.sessions() as session:
        session.add(Follow(follower_uri=island.actor_uri(island.island_username),
                           followed_uri="https://lointaine.example/users/ile", state="pending",
                           activity_uri=f"{island.url}/a/pending"))
        await session.commit()
    async with browser_like() as http:
        for host in ("lointaine.example", "inconnue.example"):
            async with http.get(f"{island.url}/federated/islands/{host}") as response:
                assert response.status == 404, host
        await log_in(http, island, "mona")
        page = await state_page(http, island, "lointaine.example")
        assert "Nous la suivons" in page and "en attente de réponse" in page
        async with http.get(f"{island.url}/federated/islands/inconnue.example") as response:
            assert response.status == 404
