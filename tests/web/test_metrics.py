"""`/metrics`: requests by route pattern (never the path asked) with their latency, the queues and
contents read from the database, in the Prometheus text format (read back with
prometheus-client's own parser); answered to private addresses, to others only with the token;
several processes' request counts summed in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from datetime import timedelta

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from archipel.storage.tables import HostHealth, utcnow

from tests.nodes import wait_for

ROOT = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found[(name, tuple(sorted(labels.items())))]


async def get(url: str, headers: dict | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=headers or {}, allow_redirects=False) as response:
            return response.status, await response.text()


async def test_requests_are_counted_by_route_pattern_and_queues_read_from_the_database(island):
    await island.publish("alice", "Une fiche")
    for path in ("/users/alice", "/users/alice", "/users/nobody", "/no/such/page/123", "/livez"):
        await get(island.url + path, {"Accept": "application/activity+json"})
    status, text = await get(island.url + "/metrics")
    assert status == 200
    found = samples(text)
    routes = {dict(labels).get("route") for name, labels in found if name == "archipel_http_requests_total"}
    assert "/users/{username}" in routes and "(unmatched)" in routes and "/livez" in routes
    assert not any(route and ("alice" in route or "123" in route) for route in routes)  # bounded
    assert value(found, "archipel_http_requests_total", route="/users/{username}", method="GET", status="200") >= 2
    assert value(found, "archipel_http_requests_total", route="/users/{username}", method="GET", status="404") >= 1
    assert value(found, "archipel_http_request_duration_seconds_count", route="/livez", method="GET") >= 1
    assert ("archipel_http_request_duration_seconds_bucket",
            tuple(sorted({"route": "/livez", "method": "GET", "le": "0.005"}.items()))) in found

    assert value(found, "archipel_items", origin="local") == 1
    assert value(found, "archipel_items", origin="replica") == 0
    assert value(found, "archipel_actors", kind="island") == 1
    assert value(found, "archipel_actors", kind="person") == 1
    for queue in ("incoming", "deliveries", "catalog_walks", "mail"):
        assert value(found, "archipel_queue_oldest_seconds", queue=queue) >= 0
    assert value(found, "archipel_queue_depth", queue="incoming", state="received") == 0
    assert value(found, "archipel_queue_depth", queue="deliveries", state="pending_due") == 0
    assert value(found, "archipel_queue_depth", queue="deliveries", state="pending_later") == 0
    assert value(found, "archipel_queue_depth", queue="mail", state="pending") == 0
    assert value(found, "archipel_deliveries_total", outcome="gave_up") >= 0
    assert value(found, "archipel_hosts", health="failing") == 0
    assert value(found, "archipel_metrics_scrape_seconds") < 1.0


async def test_a_waiting_activity_shows_in_its_queue_and_a_failing_host_is_counted(make_island):
    island = await make_island("brest", workers=False)
    await island.add_user("alice")
    follower = await make_island("quimper")
    await follower.add_user("bob")
    sent_before = value(samples((await get(follower.url + "/metrics"))[1]), "archipel_deliveries_total",
                        outcome="sent")
    await follower.follow("bob", island.actor_uri("alice"))
    # Nobody processes brest's inbox (no workers): the Follow waits there.
    await wait_for(lambda: island.incoming(), message="the Follow to arrive")

    async def counted():  # by quimper's delivery worker, once it has written the outcome
        found = samples((await get(follower.url + "/metrics"))[1])
        return value(found, "archipel_deliveries_total", outcome="sent") == sent_before + 1

    await wait_for(counted, message="the Follow's delivery counted as sent")
    found = samples((await get(island.url + "/metrics"))[1])
    assert value(found, "archipel_queue_depth", queue="incoming", state="received") == 1
    assert value(found, "archipel_queue_oldest_seconds", queue="incoming") >= 0
    assert value(found, "archipel_actors", kind="remote") == 1  # bob, whose key signed it

    async with island.sessions() as session:
        await session.execute(insert(HostHealth).values(host="down.example", consecutive_failures=3,
                                                        paused_until=utcnow() + timedelta(hours=1)))
        await session.commit()
    found = samples((await get(island.url + "/metrics"))[1])
    assert value(found, "archipel_hosts", health="failing") == 1
    assert value(found, "archipel_hosts", health="paused") == 1


async def test_from_outside_metrics_need_the_token(make_island):
    island = await make_island("brest", trusted_proxies=("127.0.0.1",), metrics_token="s3cret-token")
    outside = {"X-Forwarded-For": "203.0.113.7"}
    assert (await get(island.url + "/metrics", outside))[0] == 401
    assert (await get(island.url + "/metrics", {**outside, "Authorization": "Bearer wrong"}))[0] == 401
    status, text = await get(island.url + "/metrics", {**outside, "Authorization": "Bearer s3cret-token"})
    assert status == 200 and "archipel_queue_depth" in text
    # A private client behind the proxy, and the proxy's host asking directly, need no token.
    assert (await get(island.url + "/metrics", {"X-Forwarded-For": "10.1.2.3"}))[0] == 200
    assert (await get(island.url + "/metrics"))[0] == 200
    # A trusted proxy that does not name its client may be forwarding the internet.
    assert (await get(island.url + "/metrics", {"X-Forwarded-Proto": "https"}))[0] == 401


async def test_without_a_token_outside_is_refused_and_an_untrusted_proxy_is_outside(make_island):
    island = await make_island("brest")  # no trusted proxy: X-Forwarded-For is not believed
    assert (await get(island.url + "/metrics"))[0] == 200  # loopback
    # Loopback, but forwarded by a proxy the island does not trust: its client may be anyone.
    status, text = await get(island.url + "/metrics", {"X-Forwarded-For": "10.0.0.2"})
    assert status == 403 and "private addresses" in text
    assert (await get(island.url + "/metrics", {"Authorization": "Bearer "}))[0] == 200


def test_request_counts_of_several_processes_are_summed(tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    count = textwrap.dedent("""
        from web import metrics
        metrics.REQUESTS.labels("/users/{username}", "GET", "200").inc(3)
        metrics.LATENCY.labels("/users/{username}", "GET").observe(0.02)
        from federation import observed
        observed.deliveries(sent=2, retry=1)
    """)
    for _ in range(2):  # two serving processes, one after the other or side by side
        subprocess.run([sys.executable, "-c", count], env=env, cwd=ROOT, check=True, timeout=60)
    read = textwrap.dedent("""
        from prometheus_client import generate_latest
        from web import metrics
        print(generate_latest(metrics.process_registry()).decode())
    """)
    text = subprocess.run([sys.executable, "-c", read], env=env, cwd=ROOT, check=True, timeout=60,
                          capture_output=True, text=True).stdout
    found = samples(text)
    assert value(found, "archipel_http_requests_total", route="/users/{username}", method="GET", status="200") == 6
    assert value(found, "archipel_http_request_duration_seconds_count", route="/users/{username}", method="GET") == 2
    assert value(found, "archipel_deliveries_total", outcome="sent") == 4
    assert value(found, "archipel_deliveries_total", outcome="retry") == 2
    assert value(found, "archipel_deliveries_total", outcome="gave_up") == 0
