"""The animators' desk and « Aimer » from one's own server, in Chromium at a phone's and a
desktop's width, axe finding nothing: the desk shows a server that deliveries really fail to
reach (a loopback port nobody listens on), and the remote interaction form sends a visitor to a
fake Mastodon's /authorize_interaction (WebFinger on loopback), then remembers their address."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from archipel.storage.tables import Follow, HostHealth, RemoteActor
from tests.browser.conftest import save_screenshot
from tests.browser.test_accounts import WIDTHS, no_horizontal_scroll
from tests.browser.test_authoring import PASSWORD, assert_accessible, log_in
from tests.browser.test_face import SCREENSHOTS
from tests.flows.test_fiches import publish_file
from tests.nodes import bound_socket, wait_for
from tests.web.test_follow_button import SUBSCRIBE
from web import provision


def closed_port() -> int:
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more: a connection is refused
    return port


async def unreachable_follower(island, username: str) -> str:
    """A follower of `username` whose inbox is on a loopback port nobody listens on."""
    host = f"127.0.0.1:{closed_port()}"
    uri = f"http://{host}/users/lost"
    async with island.sessions() as session:
        session.add(RemoteActor(uri=uri, host=host, type="Person", username="lost", display_name="Lost",
                                inbox=f"{uri}/inbox", document={"id": uri, "type": "Person"}))
        session.add(Follow(follower_uri=uri, followed_uri=island.actor_uri(username), activity_uri=f"{uri}#follow",
                           state="accepted"))
        await session.commit()
    return host


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_desk_shows_a_server_deliveries_fail_to_reach(island, new_page, width):
    await provision.add_user(island.sessions, username="mona", password=PASSWORD, role="moderator")
    host = await unreachable_follower(island, "alice")
    await island.publish("alice", "Un article pour personne")

    async def failing():
        async with island.sessions() as session:
            health = await session.scalar(select(HostHealth).where(HostHealth.host == host))
            return health is not None and health.consecutive_failures > 0

    await wait_for(failing, message="a failed delivery to the closed port")
    page = await new_page(viewport=WIDTHS[width])
    await log_in(page, island, "mona")
    await page.get_by_role("link", name="Tableau de bord").click()
    await page.wait_for_url(f"{island.url}/espace/tableau")
    hosts = page.get_by_role("table", name="Serveurs vers lesquels les livraisons échouent")
    assert host in await hosts.inner_text()
    queues = await page.get_by_role("table", name="Les files de travail").inner_text()
    assert "Envois vers les autres serveurs" in queues
    await assert_accessible(page)
    assert await no_horizontal_scroll(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert await save_screenshot(page, SCREENSHOTS / f"desk-fr-{width}.png")


@pytest.mark.parametrize("width", WIDTHS)
async def test_like_from_ones_own_server(island, remote, new_page, width):
    remote.serve(f"{remote.url}/.well-known/webfinger", {"subject": "acct:rosa@x", "links": [
        {"rel": "self", "type": "application/activity+json", "href": remote.actor_uri("rosa")},
        {"rel": SUBSCRIBE, "template": f"{remote.url}/authorize_interaction?uri={{uri}}"}]})
    remote.serve(f"{remote.url}/authorize_interaction", {"page": "Mastodon's confirmation"})
    fiche = await publish_file(island, "papi-brest.md", "alice")
    address = f"@rosa@{remote.url.removeprefix('http://')}"

    page = await new_page(viewport=WIDTHS[width])
    await page.goto(fiche)
    await assert_accessible(page)
    assert await no_horizontal_scroll(page)
    await page.get_by_role("link", name="Aimer", exact=True).click()
    await page.wait_for_url(f"{island.url}/interagir?**")
    assert await page.get_by_role("heading", level=1).inner_text() == "Aimer depuis votre serveur"
    await assert_accessible(page)
    assert await no_horizontal_scroll(page)
    await page.get_by_label("Votre adresse du fédivers").fill(address)
    await page.get_by_role("button", name="Continuer sur mon serveur").click()
    await page.wait_for_url(f"{remote.url}/authorize_interaction?**")
    assert parse_qs(urlsplit(page.url).query) == {"uri": [fiche]}

    # Back on the fiche, the address is remembered: « Partager » goes straight to their server.
    await page.goto(fiche)
    await page.get_by_role("link", name="Partager", exact=True).click()
    await page.wait_for_url(f"{remote.url}/authorize_interaction?**")
    assert parse_qs(urlsplit(page.url).query) == {"uri": [fiche]}
    assert remote.fetches.count("/authorize_interaction") == 2
