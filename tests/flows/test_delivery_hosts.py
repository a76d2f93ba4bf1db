"""Admins see the servers deliveries fail to reach, retry them now or stop delivering to them:
from the page (/espace/livraisons) and from the command line (archipel deliveries)."""

from __future__ import annotations

from sqlalchemy import select

from archipel.storage.tables import Delivery, HostHealth, ModerationEntry, utcnow
from tests.flows.test_delivery import follower, worker
from tests.flows.test_delivery_pipeline import servers
from tests.remote import RemoteServer
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like, hidden_csrf
from web import provision


async def failing_island(make_island):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    await provision.add_user(node.sessions, username="gwen", password="correct horse battery", role="admin")
    return node


async def test_the_admins_page_shows_a_failing_server_and_retries_or_stops_it(make_island):
    node = await failing_island(make_island)
    down, up = RemoteServer(), RemoteServer()
    async with servers(down, up):
        down.inbox_status = 503
        for server in (down, up):
            server.verify_signatures = False
            await follower(node, server, "rosa")
        await node.publish("alice", "Une")
        delivering = worker(node)
        await delivering.run_once()
        down_host = down.url.split("//")[1]

        async with browser_like() as http:
            await log_in(http, node, "alice")
            async with http.get(f"{node.url}/espace/livraisons", allow_redirects=False) as response:
                assert response.status == 403  # authors do not run the island
        async with browser_like() as http:
            await log_in(http, node, "gwen")
            async with http.get(f"{node.url}/espace/livraisons") as response:
                page = await response.text()
                token = hidden_csrf(page)
            assert down_host in page and "HTTP 503" in page and up.url.split("//")[1] not in page

            # Retry now: its waiting delivery is due at once, and goes when the server is back.
            async with http.post(f"{node.url}/espace/livraisons/{down_host}/relancer",
                                 data={"csrf_token": token}, allow_redirects=False) as response:
                assert response.status == 303
            [waiting] = [d for d in await node.deliveries() if d.host == down_host]
            assert waiting.state == "pending" and waiting.next_try_at <= utcnow()
            down.inbox_status = 202
            await delivering.run_once()
            assert len(down.received) == 2  # the failed try, then the retry

            # Stop: what waits is abandoned and nothing new is sent, until resumed.
            down.inbox_status = 503
            await node.publish("alice", "Deux")
            async with http.post(f"{node.url}/espace/livraisons/{down_host}/arreter",
                                 data={"csrf_token": token, "reason": "serveur fermé"}, allow_redirects=False) as response:
                assert response.status == 303
            await node.publish("alice", "Trois")
            await delivering.run_once()
            assert len(down.received) == 2 and len(up.received) == 3
            states = sorted(d.state for d in await node.deliveries() if d.host == down_host)
            assert states == ["gave_up", "pending", "sent"]
            async with http.get(f"{node.url}/espace/livraisons") as response:
                assert "Reprendre les livraisons" in await response.text()
            async with http.post(f"{node.url}/espace/livraisons/{down_host}/relancer",
                                 data={"csrf_token": token}, allow_redirects=False) as response:
                assert response.status == 303
            down.inbox_status = 202
            await delivering.run_once()
            assert len(down.received) == 3 and down.received[-1]["activity"]["type"] == "Create"
            async with http.post(f"{node.url}/espace/livraisons/inconnu.example/arreter",
                                 data={"csrf_token": token}, allow_redirects=False) as response:
                assert response.status == 404
    async with node.sessions() as session:
        actions = list(await session.scalars(select(ModerationEntry.action).order_by(ModerationEntry.id)))
    assert actions == ["stop_deliveries", "resume_deliveries"]


async def test_a_send_under_way_does_not_lift_a_stop(make_island):
    node = await failing_island(make_island)
    remote = RemoteServer()
    async with servers(remote):
        remote.verify_signatures = False
        await follower(node, remote, "rosa")
        await node.publish("alice", "Une")
        delivering = worker(node)
        claimed = await delivering._claim(1)  # under way when the admin stops the server
        from federation import delivery_hosts
        async with node.sessions() as session:
            await delivery_hosts.stop(session, remote.url.split("//")[1], admin=None)
            await session.commit()
        for delivery, body, signer in claimed:
            await delivering._deliver(delivery, body, signer)
        await delivering._record_all(delivering._take_outcomes())
        async with node.sessions() as session:
            health = await session.get(HostHealth, remote.url.split("//")[1])
            assert health.paused_until >= delivery_hosts.STOPPED_UNTIL
            assert (await session.scalar(select(Delivery.state))) == "sent"


async def test_the_actions_refuse_hostile_hosts_and_missing_tokens(make_island):
    node = await failing_island(make_island)
    async with browser_like() as http:
        await log_in(http, node, "gwen")
        async with http.get(f"{node.url}/espace/livraisons") as response:
            token = hidden_csrf(await response.text())
        for host in ("inconnu.example", "a" * 301, "..%2F..%2Fetc", "h%00st", "%F0%9F%90%9B.example"):
            for action in ("relancer", "arreter"):
                async with http.post(f"{node.url}/espace/livraisons/{host}/{action}", data={"csrf_token": token},
                                     allow_redirects=False) as response:
                    # Refused before anything is written: unknown or outside the route (404), or a
                    # NUL refused by the request bounds (400).
                    assert response.status in (400, 404), (host, action, response.status)
        async with http.post(f"{node.url}/espace/livraisons/inconnu.example/arreter",
                             allow_redirects=False) as response:
            assert response.status == 403  # no anti-forgery token
    async with node.sessions() as session:
        assert list(await session.scalars(select(HostHealth))) == []
        assert list(await session.scalars(select(ModerationEntry))) == []
