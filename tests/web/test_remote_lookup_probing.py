"""/suivre and /authorize_interaction look up another server for whoever asks: they must not tell
a closed port from a refused address, a name that does not resolve, a server answering garbage or
one too slow — same status, same page, after the same time — and they are rate-limited per client.

Every address here is on loopback. The name that does not resolve has a 64-character label: no
resolver accepts it, so it fails without any query leaving the machine."""

from __future__ import annotations

import html
import re
import time

import aiohttp
import pytest
from aiohttp import web

from tests.nodes import bound_socket
from tests.remote import RemoteServer

LOOKUP_SECONDS = 0.4
PASSWORD = "correct horse battery"
UNRESOLVABLE = "a" * 64 + ".example"


def host_of(url: str) -> str:
    return url.split("://", 1)[1]


class GarbageServer:
    """Answers every GET with 200 and bytes that are no document at all."""

    def __init__(self):
        self.sock = bound_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    async def start(self):
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._get)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.SockSite(self.runner, self.sock).start()
        return self

    async def _get(self, request):
        return web.Response(body=b"\x00\xff<html>not json{{", content_type="application/json")

    async def stop(self):
        await self.runner.cleanup()


@pytest.fixture
async def hosts():
    """host:port of each kind of failure, all on loopback."""
    closed = bound_socket()
    closed_port = closed.getsockname()[1]
    closed.close()
    garbage, slow, refused = await GarbageServer().start(), RemoteServer(), RemoteServer()
    for server in (slow, refused):
        server.add_actor("rosa")
        server.serve(f"{server.url}/.well-known/webfinger", {"subject": "acct:rosa@x", "links": [
            {"rel": "self", "type": "application/activity+json", "href": server.actor_uri("rosa")},
            {"rel": "http://ostatus.org/schema/1.0/subscribe", "template": f"{server.url}/ai?uri={{uri}}"}]})
        await server.start()
    slow.get_delay = LOOKUP_SECONDS * 4
    yield {"closed port": f"127.0.0.1:{closed_port}", "refused address": host_of(refused.url),
           "name that does not resolve": UNRESOLVABLE, "garbage": host_of(garbage.url),
           "slow server": host_of(slow.url)}
    for server in (garbage, slow, refused):
        await server.stop()


@pytest.fixture
async def node(make_island, hosts):
    # The "refused" host is blocked by the island's policy: its fetches are refused before any
    # connection, as a private address is in production.
    island = await make_island("brest", remote_lookup_seconds=LOOKUP_SECONDS, remote_lookups_per_hour=1000,
                               blocked_domains=(hosts["refused address"],))
    await island.add_user("alice")
    return island


def answer(page: str, given: str) -> str:
    """What the visitor is shown, with their own input taken out (it is echoed in the form)."""
    main = re.search(r"<main.*?</main>", page, re.S).group(0)
    return main.replace(html.escape(given, quote=True), "GIVEN")


async def get(http, url: str, **params) -> tuple[int, str, str | None, float]:
    started = time.monotonic()
    async with http.get(url, params=params, allow_redirects=False) as response:
        page = await response.text()
        return response.status, page, response.headers.get("Location"), time.monotonic() - started


async def test_suivre_answers_every_failure_alike(node, hosts):
    handle = f"@alice@{host_of(node.url)}"
    async with aiohttp.ClientSession() as http:
        for shape in ("@rosa@{host}", "{host}", "https://{host}/"):
            seen = {}
            for kind, host in hosts.items():
                given = shape.format(host=host)
                status, page, location, elapsed = await get(http, f"{node.url}/suivre", account=handle,
                                                            **{"from": given})
                assert location is None, (kind, given)
                assert elapsed >= LOOKUP_SECONDS * 0.95, (kind, given)  # every failure waits the deadline
                seen[kind] = (status, answer(page, given))
            assert len(set(seen.values())) == 1, (shape, {k: v[0] for k, v in seen.items()})
            assert next(iter(seen.values()))[0] == 200


async def login(http, island) -> None:
    async with http.get(f"{island.url}/login") as response:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
    async with http.post(f"{island.url}/login", allow_redirects=False, data={
            "csrf_token": token, "username": "alice", "password": PASSWORD}) as response:
        assert response.status == 303


async def test_authorize_interaction_answers_every_failure_alike(node, hosts):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, node)
        for shape in ("rosa@{host}", "acct:rosa@{host}", "http://{host}/users/rosa"):
            seen = {}
            for kind, host in hosts.items():
                given = shape.format(host=host)
                status, page, location, elapsed = await get(http, f"{node.url}/authorize_interaction", uri=given)
                assert location is None, (kind, given)
                assert elapsed >= LOOKUP_SECONDS * 0.95, (kind, given)
                seen[kind] = (status, answer(page, given))
            assert len(set(seen.values())) == 1, (shape, {k: v[0] for k, v in seen.items()})
            status, page = next(iter(seen.values()))
            assert status == 400 and "Ce compte est introuvable" in page


async def test_lookups_are_rate_limited_per_client(make_island, remote):
    island = await make_island("brest", trusted_proxies=("127.0.0.1",), remote_lookups_per_hour=3,
                               remote_lookup_seconds=0.1)
    await island.add_user("alice")
    handle = f"@alice@{host_of(island.url)}"
    remote.serve(f"{remote.url}/.well-known/webfinger", {"subject": "acct:rosa@x", "links": [
        {"rel": "http://ostatus.org/schema/1.0/subscribe", "template": f"{remote.url}/ai?uri={{uri}}"}]})
    visitor = {"X-Forwarded-For": "203.0.113.5"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async def suivre(given: str, headers=visitor):
            async with http.get(f"{island.url}/suivre", params={"account": handle, "from": given},
                                headers=headers, allow_redirects=False) as response:
                return response.status, await response.text(), response.headers

        assert (await suivre(f"@rosa@{host_of(remote.url)}"))[0] == 303
        assert (await suivre("127.0.0.1:9"))[0] == 200
        # What needs no look-up is not counted.
        assert (await suivre("pas une adresse !"))[0] == 400
        assert (await suivre(f"@rosa@{host_of(remote.url)}"))[0] == 303
        fetched = len(remote.fetches)
        status, page, headers = await suivre(f"@rosa@{host_of(remote.url)}")
        assert status == 429 and int(headers["Retry-After"]) >= 1 and 'role="alert"' in page
        assert len(remote.fetches) == fetched  # refused before anything was fetched
        # The limit is the client's: /authorize_interaction shares it, another client has its own.
        await login(http, island)
        async with http.get(f"{island.url}/authorize_interaction", params={"uri": f"rosa@{host_of(remote.url)}"},
                            headers=visitor, allow_redirects=False) as response:
            assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
        assert (await suivre(f"@rosa@{host_of(remote.url)}", {"X-Forwarded-For": "198.51.100.7"}))[0] == 303
