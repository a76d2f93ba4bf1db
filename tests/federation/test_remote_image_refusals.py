"""A remote picture we refuse ourselves (an address or a domain we do not talk to, a body over
the limit) is refused for good: recorded as failed, not asked again, and its host is not paused
(its other pictures are still fetched). A host that answers 503 or cannot be reached is tried
again later and left alone meanwhile. Real islands and a picture host on loopback."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import select

from archipel import remote_media
from archipel.storage.tables import RemoteActor, RemoteImage, utcnow
from federation.netguard import is_public_address
from federation.remote_images import RemoteImageWorker
from tests.images import ImageHost, picture_worker, png
from tests.nodes import bound_socket


async def add_avatars(node, urls: list[str]) -> None:
    async with node.sessions() as session:
        for number, url in enumerate(urls):
            uri = f"https://far.example/users/u{number}"
            session.add(RemoteActor(uri=uri, host="far.example", type="Person", inbox=f"{uri}/inbox",
                                    icon_url=url, document={}))
        await session.commit()


async def rows_by_url(node) -> dict[str, RemoteImage]:
    async with node.sessions() as session:
        return {row.url: row for row in await session.scalars(select(RemoteImage))}


def assert_refused_for_good(row: RemoteImage, worker: RemoteImageWorker) -> None:
    assert row.state == "failed", (row.url, row.state, row.last_error)
    assert row.attempts == 1 and row.last_error
    assert worker._paused_until == {}, "a refusal of ours paused the host"


def private_name() -> str | None:
    """A host name (not `localhost`) that resolves only to non-public addresses here, if any:
    refused by the resolver of the connector, not by the URL check."""
    name = socket.gethostname().lower()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 443, proto=socket.IPPROTO_TCP)}
    except OSError:
        return None
    if "." in name or not addresses or any(is_public_address(a) for a in addresses):
        return None
    return name


async def test_pictures_on_private_addresses_are_refused_for_good(make_island, pictures):
    node = await make_island("garde", workers=False, allow_private_networks=False)
    port = pictures.sock.getsockname()[1]
    pictures.put("/a.png", png(8, 8))
    urls = [f"https://127.0.0.1:{port}/a.png", f"http://127.0.0.1:{port}/a.png",
            f"https://localhost:{port}/a.png", f"https://[::1]:{port}/a.png"]
    if name := private_name():
        urls.append(f"https://{name}:{port}/a.png")
    await add_avatars(node, urls)
    worker = picture_worker(node)
    await worker.run_once()
    await worker.run_once()  # nothing left to try: each was refused once, for good
    rows = await rows_by_url(node)
    assert set(rows) == set(urls)
    for url in urls:
        assert_refused_for_good(rows[url], worker)
    assert pictures.requests == []
    async with node.sessions() as session:  # not due again, even much later
        assert await remote_media.due(session, 10, now=utcnow() + timedelta(days=30)) == []


async def test_a_picture_on_a_blocked_domain_is_refused_for_good(make_island, pictures):
    blocked = pictures.url.split("://")[1]  # host:port, as the setting allows
    node = await make_island("politique", workers=False, blocked_domains=(blocked,))
    urls = [pictures.put("/a.png", png(8, 8)), pictures.put("/b.png", png(8, 8))]
    await add_avatars(node, urls)
    worker = picture_worker(node)
    await worker.run_once()
    rows = await rows_by_url(node)
    for url in urls:  # both tried in the same round: the first refusal did not pause the host
        assert_refused_for_good(rows[url], worker)
    assert pictures.requests == []


class StreamedPictures(ImageHost):
    """An ImageHost that sends its bodies in chunks, without a Content-Length: only counting the
    bytes received finds one too big."""

    async def _get(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        _status, headers, body = self.files[request.path]
        response = web.StreamResponse(headers={"Content-Type": headers["Content-Type"]})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 4096):
            await response.write(body[start:start + 4096])
        await response.write_eof()
        return response


@pytest.mark.parametrize("host_class", [ImageHost, StreamedPictures], ids=["content-length", "streamed"])
async def test_an_oversized_picture_is_refused_for_good_and_its_host_still_served(
        make_island, monkeypatch, host_class):
    monkeypatch.setattr(remote_media, "MAX_BYTES", 20_000)
    node = await make_island("limite", workers=False)
    pictures = await host_class().start()
    try:
        big = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 200  # 51 kB: over the limit before any decoding
        large = pictures.put("/large.png", big)
        small = pictures.put("/small.png", png(8, 8))
        await add_avatars(node, [large, small])
        worker = picture_worker(node)
        await worker.run_once()
    finally:
        await pictures.stop()
    rows = await rows_by_url(node)
    assert_refused_for_good(rows[large], worker)
    assert "limit" in rows[large].last_error
    assert rows[small].state == "stored"  # same host, same round: not paused by our refusal


async def test_a_503_or_an_unreachable_host_is_retried_and_paused(make_island, pictures):
    node = await make_island("reessai", workers=False)
    busy = pictures.put("/busy.png", b"busy", "text/plain", status=503)
    closed = bound_socket("127.0.0.1")  # bound, never listening: the connection is refused
    unreachable = f"http://127.0.0.1:{closed.getsockname()[1]}/a.png"
    try:
        await add_avatars(node, [busy, unreachable])
        worker = picture_worker(node)
        await worker.run_once()
        rows = await rows_by_url(node)
    finally:
        closed.close()
    for url in (busy, unreachable):
        row = rows[url]
        assert row.state == "pending" and row.attempts == 1 and row.next_try_at > utcnow(), (url, row.state)
        assert url.split("://")[1].split("/")[0] in worker._paused_until
    assert "503" in rows[busy].last_error
