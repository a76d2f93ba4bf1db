"""The server around the island, as `archipel serve` runs it (tests/nodes.py starts islands the
same way): headers must arrive in time, and open connections are bounded without flooding the
log. Raw sockets on loopback, like a slowloris client."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.nodes import wait_for

REQUEST = b"GET /nodeinfo/2.1 HTTP/1.1\r\nHost: ile\r\n\r\n"


async def connect(island):
    return await asyncio.open_connection("127.0.0.1", island.port)


async def status_of_answer(reader) -> bytes:
    """The status line of one whole answer (headers and Content-Length body read)."""
    status = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


async def closed_within(reader, seconds: float) -> bool:
    """True when the server closes the connection before `seconds` have passed."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
        return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


async def test_headers_sent_byte_by_byte_are_cut_off(make_island):
    island = await make_island("lent", header_timeout=1.0)
    reader, writer = await connect(island)
    request = b"GET / HTTP/1.1\r\nHost: ile\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    closed = False
    for byte in request:  # one byte every 50 ms: 12 s for the whole request
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            closed = True
            break
        if await closed_within(reader, 0.05):
            closed = True
            break
    assert closed, "the server waited for the whole slow request"
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed(make_island):
    island = await make_island("muet", header_timeout=1.0)
    reader, writer = await connect(island)
    assert await closed_within(reader, 10)
    writer.close()


async def test_an_idle_kept_alive_connection_is_closed_after_its_answer(make_island):
    island = await make_island("repos", header_timeout=1.0)
    reader, writer = await connect(island)
    writer.write(REQUEST)
    status = await reader.readline()
    assert status.startswith(b"HTTP/1.1 200"), status
    assert await closed_within(reader, 10)
    writer.close()


async def test_a_prompt_client_is_served_with_a_short_timeout(make_island):
    island = await make_island("vif", header_timeout=1.0)
    reader, writer = await connect(island)
    for _ in range(3):  # keep-alive: each request arrives well within the limit
        writer.write(REQUEST)
        assert (await status_of_answer(reader)).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(0.3)
    writer.close()


async def test_connections_beyond_the_limit_are_refused_with_one_warning(make_island, caplog):
    island = await make_island("plein", max_connections=5, header_timeout=30.0)
    idle = [await connect(island) for _ in range(5)]
    await wait_for(lambda: len(island.runner.server.connections) == 5)
    caplog.set_level(logging.WARNING, logger="web.server")
    for _ in range(20):
        reader, writer = await connect(island)
        answer = await reader.read()  # the whole answer, then the server closes
        assert answer.startswith(b"HTTP/1.1 503"), answer
        writer.close()
    warnings = [r for r in caplog.records if r.name == "web.server" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert island.site.refused == 20
    for _, writer in idle:
        writer.close()
    await wait_for(lambda: len(island.runner.server.connections) == 0)
    reader, writer = await connect(island)
    writer.write(REQUEST)
    assert (await reader.readline()).startswith(b"HTTP/1.1 200")
    writer.close()


@pytest.mark.parametrize("count", [50])
async def test_many_idle_connections_do_not_hold_more_than_the_limit(make_island, count):
    island = await make_island("foule", max_connections=10, header_timeout=30.0)
    opened = [await connect(island) for _ in range(count)]
    await asyncio.sleep(0.2)
    assert len(island.runner.server.connections) <= 10
    for _, writer in opened:
        writer.close()
