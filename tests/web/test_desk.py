"""The animators' desk (/espace/tableau): moderators and admins only; islands each way by name
and state in words, what waits for moderation, failing servers, the queues."""

from __future__ import annotations

from datetime import timedelta

from archipel.storage.tables import Delivery, HostHealth, OutgoingActivity, Proposal, Report, utcnow
from tests.nodes import island_follows
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like
from web import provision

PASSWORD = "correct horse battery"


async def get(http, url):
    async with http.get(url, allow_redirects=False) as response:
        return response.status, await response.text(), response.headers.get("Location")


async def test_only_moderators_and_admins_see_the_desk(island):
    for username, role in (("mona", "moderator"), ("gwen", "admin")):
        await provision.add_user(island.sessions, username=username, password=PASSWORD, role=role)
    async with browser_like() as http:
        status, _, location = await get(http, f"{island.url}/espace/tableau")
        assert status == 302 and location.startswith("/login?next=")
        await log_in(http, island, "alice")  # an author
        assert (await get(http, f"{island.url}/espace/tableau"))[0] == 403
        status, page, _ = await get(http, f"{island.url}/espace")
        assert "/espace/tableau" not in page
    for username in ("mona", "gwen"):
        async with browser_like() as http:
            await log_in(http, island, username)
            status, page, _ = await get(http, f"{island.url}/espace/tableau")
            assert status == 200
            assert f'href="{island.url}/federated"' in page
            # The deliveries page and the follows' management are for admins only.
            assert (f'href="{island.url}/espace/livraisons"' in page) == (username == "gwen")
            assert (f'href="{island.url}/espace/archipel"' in page) == (username == "gwen")
            assert 'href="' + island.url + '/espace/tableau"' in (await get(http, f"{island.url}/espace"))[1]


async def test_the_desk_shows_islands_waiting_work_failing_servers_and_queues(make_island):
    brest = await make_island("brest")
    nantes = await make_island("nantes")
    await provision.add_user(brest.sessions, username="mona", password=PASSWORD, role="moderator")
    await provision.add_user(nantes.sessions, username="mona", password=PASSWORD, role="moderator")
    await island_follows(nantes, brest)
    async with brest.sessions() as session:
        session.add_all([Proposal(token_hash="a" * 64, kind="new", origin="form", fields={}, state="pending"),
                         Proposal(token_hash="b" * 64, kind="new", origin="form", fields={}, state="refused"),
                         Report(direction="received", reporter_uri="https://x.example/users/a", state="open"),
                         Report(direction="received", reporter_uri="https://x.example/users/b", state="open"),
                         Report(direction="received", reporter_uri="https://x.example/users/c", state="resolved")])
        session.add(HostHealth(host="injoignable.example", consecutive_failures=7, last_failure_at=utcnow(),
                               paused_until=utcnow() + timedelta(hours=1), last_error="ClientConnectorError"))
        activity = OutgoingActivity(activity_uri=f"{brest.url}/a/desk", activity_type="Create",
                                    actor_id=1, payload={})
        session.add(activity)
        await session.flush()
        session.add_all([Delivery(outgoing_id=activity.id, inbox_url=f"https://injoignable.example/inbox/{n}",
                                  host="injoignable.example", state=state, next_try_at=utcnow() + timedelta(hours=1))
                         for n, state in enumerate(("pending", "pending", "pending", "gave_up"))])
        await session.commit()
    async with browser_like() as http:
        await log_in(http, brest, "mona")
        status, page, _ = await get(http, f"{brest.url}/espace/tableau")
        assert status == 200
        status, english, _ = await get(http, f"{brest.url}/espace/tableau?lang=en")
    followers = page.split('id="desk-followers"')[1]
    assert "Île nantes" in followers.split("</dl>")[0] and "nous suit" in followers.split("</dl>")[0]
    assert 'id="desk-proposals">1<' in page and 'id="desk-reports">2<' in page
    hosts = page.split('class="desk-hosts"')[1].split("</table>")[0]
    assert "injoignable.example" in hosts and "<td>7</td>" in hosts and "<td>3</td>" in hosts
    assert "En pause jusqu" in hosts
    queues = page.split('class="desk-queues"')[1].split("</table>")[0]
    assert "Envois vers les autres serveurs</th>\n        <td>3</td>\n        <td>1</td>" in queues
    for raw in ("accepted", "pending", "gave_up", "ClientConnectorError", "catalog_walks"):
        assert raw not in page, raw
    assert "Islands following us" in english and "follows us" in english and "Deliveries to other servers" in english
    assert "Îles qui" not in english and "En attente" not in english
    async with browser_like() as http:
        await log_in(http, nantes, "mona")
        status, page, _ = await get(http, f"{nantes.url}/espace/tableau")
    following = page.split('id="desk-following"')[1].split("</dl>")[0]
    assert "Île brest" in following and "suivie" in following and "depuis le" in following
    host = brest.url.split("://")[1]
    assert f'href="{nantes.url}/federated/islands/{host}"' in following
    assert 'id="desk-followers"' not in page and "Aucune autre île ne suit" in page
