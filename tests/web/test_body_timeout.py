"""A request body must arrive in time once its headers are in (`body_timeout`, plus one second per
1000 bytes received): a client dribbling a POST body is answered 408 and cut off, on the inbox
as on the forms; a slow but steady client is served. Raw sockets on loopback against a real island."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import warnings

import pytest

from tests.web.test_server_limits import closed_within, connect

BODY_TIMEOUT = 1.0
ACTIVITY = b'{"@context": "https://www.w3.org/ns/activitystreams", "type": "Like", "actor": "x"}'


def post(path: str, content_type: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: ile\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


async def dribble(writer, data: bytes, interval: float, step: int = 1, sent: list | None = None) -> None:
    """`step` bytes every `interval` seconds, until done or the server closes; each step written
    is counted in `sent`."""
    try:
        for start in range(0, len(data), step):
            writer.write(data[start:start + step])
            await writer.drain()
            if sent is not None:
                sent.append(step)
            await asyncio.sleep(interval)
    except ConnectionError:
        pass


async def answer_while_dribbling(island, head: bytes, body: bytes, interval: float, step: int = 1,
                                 wait: float = 30.0) -> tuple[bytes, float]:
    """The status line the server sends while the body trickles in, and after how many seconds
    of trickling: counted in steps sent, not on the clock, so that a pause of this whole process
    (the island runs in it), seen once on a busy machine, is not taken for a late answer."""
    reader, writer = await connect(island)
    writer.write(head)
    sent: list[int] = []
    sender = asyncio.create_task(dribble(writer, body, interval, step, sent))
    try:
        async with asyncio.timeout(wait):
            status = await reader.readline()
        elapsed = len(sent) * interval
        if status.startswith(b"HTTP/1.1 408"):
            assert await closed_within(reader, 2), "the connection stayed open after the 408"
        return status, elapsed
    finally:
        sender.cancel()
        writer.close()


def errors_logged(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


async def test_an_inbox_post_sent_byte_by_byte_is_cut_off(make_island, caplog):
    island = await make_island("goutte", body_timeout=BODY_TIMEOUT)
    # 0.1 s a byte: about 8 s for the whole activity, far beyond the limit.
    status, elapsed = await answer_while_dribbling(
        island, post("/inbox", "application/activity+json", len(ACTIVITY)), ACTIVITY, 0.1)
    assert status.startswith(b"HTTP/1.1 408"), status
    assert elapsed < BODY_TIMEOUT + 2
    await asyncio.sleep(0.2)
    assert errors_logged(caplog) == []  # closed by us, not by an error in aiohttp's lingering read


async def test_a_login_form_sent_byte_by_byte_is_cut_off(make_island):
    island = await make_island("formulaire", body_timeout=BODY_TIMEOUT)
    form = b"username=alice&password=" + b"x" * 60 + b"&csrf_token=abc"
    status, elapsed = await answer_while_dribbling(
        island, post("/login", "application/x-www-form-urlencoded", len(form)), form, 0.1)
    assert status.startswith(b"HTTP/1.1 408"), status
    assert elapsed < BODY_TIMEOUT + 2


# aiohttp's request.post() leaves the spooled file of a field it failed to read to the garbage
# collector (as when a client disconnects mid-upload): collected here, not in the next test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_an_upload_sent_slowly_is_cut_off(make_island):
    island = await make_island("envoi", body_timeout=BODY_TIMEOUT)
    boundary = "archipelboundary"
    # An upload larger than max_body_bytes: read by the CSRF check, not by the small-form reader.
    picture = b"\x89PNG" + b"\0" * 1_500_000
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nabc\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + picture + f"\r\n--{boundary}--\r\n".encode()
    # 50 bytes every 0.1 s: half the 1000 bytes a second that would keep earning time (cut at ~2 s).
    status, elapsed = await answer_while_dribbling(
        island, post("/media", f"multipart/form-data; boundary={boundary}", len(body)), body, 0.1, step=50)
    assert status.startswith(b"HTTP/1.1 408"), status
    assert elapsed < BODY_TIMEOUT + 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


async def test_a_body_announced_longer_than_sent_is_cut_off(make_island, caplog):
    island = await make_island("silence", body_timeout=BODY_TIMEOUT)
    reader, writer = await connect(island)
    writer.write(post("/inbox", "application/activity+json", 5000) + ACTIVITY[:20])
    started = time.monotonic()
    async with asyncio.timeout(10):
        status = await reader.readline()
    assert status.startswith(b"HTTP/1.1 408"), status
    assert time.monotonic() - started < BODY_TIMEOUT + 2
    assert await closed_within(reader, 2)
    assert errors_logged(caplog) == []
    writer.close()


async def test_a_slow_body_within_the_limit_is_served(make_island):
    island = await make_island("patient", body_timeout=2.0)
    # About 0.8 s for the whole activity: the inbox reads it and answers as it answers anything.
    status, _ = await answer_while_dribbling(
        island, post("/inbox", "application/activity+json", len(ACTIVITY)), ACTIVITY, 0.1, step=10)
    assert status.startswith(b"HTTP/1.1 202"), status


async def test_a_steady_large_body_may_outlast_the_timeout(make_island):
    island = await make_island("constant", body_timeout=BODY_TIMEOUT)
    # 8000 bytes, 2000 every 0.5 s: 2 s in all, twice the timeout, but 4000 bytes a second.
    activity = ACTIVITY[:-1] + b', "content": "' + b"a" * (8000 - len(ACTIVITY) - 15) + b'"}'
    status, elapsed = await answer_while_dribbling(
        island, post("/inbox", "application/activity+json", len(activity)), activity, 0.5, step=2000)
    assert status.startswith(b"HTTP/1.1 202"), status
    assert elapsed > BODY_TIMEOUT
