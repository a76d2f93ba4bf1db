"""A malformed request is the client's mistake: a 400, and one line in the log, never a traceback
(a hostile client must not be able to fill the log with them)."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest


def _exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        return connection.recv(64)


@pytest.mark.parametrize("request_bytes", [
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # a request line too long
    b"GET / HTTP/1.1\r\nHost: x\r\nSignature: " + b"A" * 9000 + b"\r\n\r\n",  # a header too long
    b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % n for n in range(150)) + b"\r\n",  # too many
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\x00: y\r\n\r\n",  # a header no parser accepts
    b"POST /inbox HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",  # bad chunk
], ids=["request line", "header", "header count", "header name", "chunk size"])
async def test_a_malformed_request_gets_a_400_and_one_line_in_the_log(island, request_bytes, caplog):
    caplog.set_level(logging.INFO, logger="aiohttp.server")
    answer = await asyncio.to_thread(_exchange, island.port, request_bytes)
    assert answer.split(b" ")[1] == b"400", answer
    await asyncio.sleep(0.1)  # the server logs after answering
    logged = [record for record in caplog.records if record.name == "aiohttp.server"]
    assert logged, "nothing was logged: the test proves nothing"
    assert all(record.exc_info is None and record.levelno <= logging.INFO for record in logged), \
        [(record.levelname, record.getMessage()[:80], record.exc_info is not None) for record in logged]
