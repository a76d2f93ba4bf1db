"""Hostile inboxes: whatever a server answers (or does not), a delivery ends in a recorded state.

Each behaviour is a raw TCP server on loopback (what aiohttp's server would refuse to send:
huge or undecodable headers, several Retry-After, a body that never ends, no answer at all).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from archipel.storage.tables import HostHealth, utcnow
from tests.flows.test_delivery import follower, worker

HEAD_OK = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)


async def never_answers(reader, writer):
    await _read_request(reader)
    await asyncio.sleep(3600)


async def never_reads(reader, writer):
    await asyncio.sleep(3600)


async def trickles_headers(reader, writer):
    await _read_request(reader)
    writer.write(b"HTTP/1.1 202 Accepted\r\n")
    for _ in range(3600):
        writer.write(b"X: y\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)


async def endless_body(reader, writer):
    await _read_request(reader)
    writer.write(b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(100_000):
        writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
        await writer.drain()
        await asyncio.sleep(0.001)


async def huge_header(reader, writer):
    await _read_request(reader)
    writer.write(b"HTTP/1.1 503 Busy\r\nRetry-After: " + b"9" * 100_000 + b"\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()


async def many_headers(reader, writer):
    await _read_request(reader)
    writer.write(b"HTTP/1.1 202 Accepted\r\n")
    for n in range(20_000):  # far past any client's header count
        writer.write(b"X-%d: %s\r\n" % (n, b"y" * 1000))
        if n % 100 == 0:
            await writer.drain()
    writer.write(b"Content-Length: 0\r\n\r\n")
    await writer.drain()


def answer(status: bytes, headers: list[bytes], body: bytes = b""):
    async def handler(reader, writer):
        await _read_request(reader)
        lines = [b"HTTP/1.1 " + status, *headers, b"Content-Length: %d" % len(body)]
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        await writer.drain()
    return handler


# behaviour -> state of the row afterwards (None: pending, retried later)
BEHAVIOURS = {
    "never answers": (never_answers, None),
    "never reads the request": (never_reads, None),
    "trickles headers for ever": (trickles_headers, None),
    "body that never ends": (endless_body, "sent"),
    "100 KB Retry-After header": (huge_header, None),
    "20,000 headers": (many_headers, None),
    "several Retry-After": (answer(b"429 Slow", [b"Retry-After: 120", b"Retry-After: 99999999999999999999",
                                                b"Retry-After: -1"]), None),
    "huge Retry-After": (answer(b"503 Busy", [b"Retry-After: 99999999999999999999"]), None),
    "superscript digit Retry-After": (answer(b"429 Slow", [b"Retry-After: \xc2\xb2"]), None),
    "fractional Retry-After": (answer(b"503 Busy", [b"Retry-After: 0.5"]), None),
    "negative Retry-After": (answer(b"503 Busy", [b"Retry-After: -99999999999999999999"]), None),
    "non-ASCII Retry-After": (answer(b"503 Busy", [b"Retry-After: \xff\xfe\x00\xd9\xa3"]), None),
    "Retry-After in year 9999": (answer(b"429 Slow", [b"Retry-After: Fri, 31 Dec 9999 23:59:59 GMT"]), None),
    "Retry-After in the past": (answer(b"503 Busy", [b"Retry-After: Mon, 01 Jan 1900 00:00:00 GMT"]), None),
    "NUL bytes in the body": (answer(b"500 Oops", [], b"\x00\x01\xff bad \x00" * 50), None),
    "no reason, odd status": (answer(b"299", []), "sent"),
    "final refusal": (answer(b"410 Gone", [b"Retry-After: 1e999"]), "gave_up"),
}


@pytest.fixture
async def hostile():
    """Start one raw server per behaviour; yields {name: url}. Connections end with the test."""
    started, handlers = {}, set()

    def tracked(handler):
        async def run(reader, writer):
            handlers.add(asyncio.current_task())
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()
        return run

    for name, (handler, _) in BEHAVIOURS.items():
        started[name] = await asyncio.start_server(tracked(handler), "127.0.0.1", 0)
    yield {name: f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}" for name, server in started.items()}
    for server in started.values():
        server.close()
    for task in handlers:
        task.cancel()
    await asyncio.gather(*handlers, return_exceptions=True)
    for server in started.values():
        await server.wait_closed()


async def test_every_hostile_answer_ends_in_a_recorded_state(make_island, remote, hostile):
    node = await make_island("brest", workers=False, fetch_timeout=1.5)
    await node.add_user("alice")
    await follower(node, remote, "rosa")  # a well-behaved host next to them
    inbox_of = {}
    for n, (name, url) in enumerate(hostile.items()):
        inbox_of[f"{url}/inbox"] = name
        uri = remote.add_actor(f"h{n}", shared_inbox=False, inbox=f"{url}/inbox")
        await follower_by_uri(node, uri)
    await node.publish("alice", "Fiche")
    started = utcnow()
    # Bounded: every request ends (the client's timeouts), so a round ends too.
    await asyncio.wait_for(worker(node).run_once(), 60)

    deliveries = {d.inbox_url: d for d in await node.deliveries()}
    assert deliveries[f"{remote.url}/inbox"].state == "sent"
    for inbox, name in inbox_of.items():
        delivery = deliveries[inbox]
        expected = BEHAVIOURS[name][1]
        if expected is None:
            assert delivery.state == "pending", name
            # The next try comes within the cap, whatever the server asked for.
            assert started <= delivery.next_try_at <= utcnow() + timedelta(hours=6, minutes=1), name
            assert delivery.last_error and "\x00" not in delivery.last_error, name
        else:
            assert delivery.state == expected, name
    async with node.sessions() as session:
        for inbox in inbox_of:
            health = await session.get(HostHealth, inbox.split("//")[1].split("/")[0])
            assert health is not None and (health.last_error or "").count("\x00") == 0


async def follower_by_uri(node, uri: str) -> None:
    from archipel.social import record_follow

    await node.directory_service.get(uri)
    async with node.sessions() as session:
        await record_follow(session, follower_uri=uri, followed_uri=node.actor_uri("alice"),
                            activity_uri=f"{uri}#follow", state="accepted")
        await session.commit()
