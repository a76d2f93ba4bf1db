"""Pictures of other servers (avatars, covers) are fetched once by the island, checked and
re-encoded like uploads, and served from the island: a page never makes a visitor's browser
contact another server. What is refused shows the drawn placeholder."""

from __future__ import annotations

import asyncio
import io
import re
from html.parser import HTMLParser

import aiohttp
import pytest
from PIL import Image
from sqlalchemy import select

from archipel import remote_media
from archipel.avatars import default_avatar, default_header
from archipel.storage.tables import ItemAuthor, RemoteActor, RemoteImage, StoredObject, utcnow
from tests.flows.test_conversations import Speaker, fetch_page, publish_fiche
from tests.images import SVG_WITH_SCRIPT, ImageHost, jpeg_with_gps, picture_worker, png, png_claiming
from tests.nodes import wait_for
from tests.web.test_auth import browser_like


class Sources(HTMLParser):
    """Every URL a browser would load by itself (src, srcset, poster, link href of stylesheets)."""

    def __init__(self):
        super().__init__()
        self.loaded: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        # A <link rel="alternate"> is not loaded; stylesheets, icons and preloads are.
        loads = tag == "link" and dict(attrs).get("rel") in ("stylesheet", "icon", "preload", "prefetch")
        for name, value in attrs:
            if name in ("src", "srcset", "poster", "data") or (loads and name == "href"):
                self.loaded.append(value or "")
            if name == "href" and tag != "link":
                self.links.append(value or "")


def sources(html: str) -> Sources:
    parser = Sources()
    parser.feed(html)
    return parser


async def image_row(island, url: str) -> RemoteImage | None:
    async with island.sessions() as session:
        return await session.scalar(select(RemoteImage).where(RemoteImage.key == remote_media.image_key(url)))


async def settled_image(island, url: str, timeout: float = 15.0) -> RemoteImage:
    """The row of a picture once the worker is done with it (stored, or failed at least once)."""
    async def done():
        row = await image_row(island, url)
        return row if row is not None and (row.state != "pending" or row.attempts) else None
    return await wait_for(done, timeout=timeout, message=f"{url} never fetched")


async def get(url: str) -> tuple[int, dict, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, dict(response.headers), await response.read()


async def test_an_avatar_is_fetched_once_reencoded_and_served_from_the_island(island, remote, pictures):
    icon = pictures.put("/media/rosa.jpg", jpeg_with_gps(), "image/jpeg")
    remote.documents["/users/rosa"]["icon"] = {"type": "Image", "url": icon}
    remote.documents["/users/rosa"]["url"] = f"{remote.url}/@rosa"
    fiche = await publish_fiche(island)
    await Speaker(island, remote, "rosa").reply(fiche.uri, "<p>Bonjour</p>")
    row = await settled_image(island, icon)
    assert row.state == "stored" and row.purpose == "avatar", row.last_error

    async with browser_like() as http:
        html = await fetch_page(http, fiche.uri)
        await fetch_page(http, fiche.uri)
    local = f"{island.url}/images-distantes/{remote_media.image_key(icon)}"
    found = sources(html)
    assert local in found.loaded
    for url in found.loaded:  # nothing the browser loads by itself leaves the island
        assert url.startswith((island.url + "/", "/")) and not url.startswith("//"), url
    assert pictures.url not in " ".join(found.loaded) and remote.url not in " ".join(found.loaded)

    status, headers, body = await get(local)
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in headers["Content-Security-Policy"]
    picture = Image.open(io.BytesIO(body))
    assert picture.size == (80, 60)
    assert b"secret-description" not in body and not picture.getexif()  # re-encoded: metadata gone
    for _ in range(3):
        await get(local)
    assert pictures.requests == ["/media/rosa.jpg"]  # once, whatever the pages shown


async def test_an_actor_update_with_a_new_icon_replaces_the_stored_picture(island, remote, pictures):
    old = pictures.put("/media/old.png", png(colour=(255, 0, 0)))
    new = pictures.put("/media/new.png", png(32, 32, colour=(0, 0, 255)))
    remote.documents["/users/rosa"]["icon"] = {"type": "Image", "url": old}
    fiche = await publish_fiche(island)
    rosa = Speaker(island, remote, "rosa")
    await rosa.reply(fiche.uri, "<p>Avant</p>")
    assert (await settled_image(island, old)).state == "stored"
    old_file = remote_media.file_path(island.settings.effective_media_directory, remote_media.image_key(old))
    assert old_file.is_file()

    document = {**remote.documents["/users/rosa"], "icon": {"type": "Image", "url": new}}
    remote.documents["/users/rosa"] = document
    await rosa.send({"id": f"{rosa.uri}#update-1", "type": "Update", "object": document})
    assert (await settled_image(island, new)).state == "stored"
    await wait_for(lambda: _gone(island, old), message="the old picture stayed")
    assert not old_file.exists()

    async with browser_like() as http:
        html = await fetch_page(http, fiche.uri)
    assert f"/images-distantes/{remote_media.image_key(new)}" in html
    assert remote_media.image_key(old) not in html
    status, _, body = await get(f"{island.url}/images-distantes/{remote_media.image_key(new)}")
    assert status == 200 and Image.open(io.BytesIO(body)).size == (32, 32)


async def _gone(island, url: str) -> bool:
    return await image_row(island, url) is None


REFUSED = {
    "too many bytes": lambda host: host.put("/big.png", png() + b"\0" * (remote_media.MAX_BYTES + 1)),
    "too many pixels": lambda host: host.put("/bomb.png", png_claiming(30_000, 30_000)),
    "not an image": lambda host: host.put("/page.png", b"<html><script>alert(1)</script></html>", "image/png"),
    "svg with a script": lambda host: host.put("/logo.svg", SVG_WITH_SCRIPT, "image/svg+xml"),
    "a pdf": lambda host: host.put("/file.png", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n<<>>\nendobj\n", "image/png"),
    "an error": lambda host: host.put("/missing.png", b"gone", "text/plain", status=404),
}


@pytest.mark.parametrize("shape", sorted(REFUSED))
async def test_refused_pictures_show_the_placeholder(island, remote, pictures, shape):
    icon = REFUSED[shape](pictures)
    remote.documents["/users/rosa"]["icon"] = {"type": "Image", "url": icon}
    fiche = await publish_fiche(island)
    await Speaker(island, remote, "rosa").reply(fiche.uri, "<p>Bonjour</p>")
    row = await settled_image(island, icon)
    assert row.state != "stored" and row.last_error, (row.state, row.last_error)
    key = remote_media.image_key(icon)
    assert not remote_media.file_path(island.settings.effective_media_directory, key).exists()
    async with browser_like() as http:
        html = await fetch_page(http, fiche.uri)
    assert f"{island.url}/images-distantes/{key}" in sources(html).loaded and pictures.url not in html
    status, headers, body = await get(f"{island.url}/images-distantes/{key}")
    assert status == 200 and headers["Content-Type"] == "image/png" and body == default_avatar(key)


async def test_a_redirect_to_a_blocked_host_is_not_followed(make_island, remote, pictures):
    """The domain policy applies to every redirect hop, before anything is sent there."""
    elsewhere = ImageHost("127.0.0.3")
    await elsewhere.start()
    try:
        island = await make_island("brest", blocked_domains=(elsewhere.url.split("://")[1],))
        await island.add_user("alice")
        target = elsewhere.put("/secret.png", png())
        icon = pictures.redirect("/hop.png", target)
        remote.documents["/users/rosa"]["icon"] = {"type": "Image", "url": icon}
        fiche = await publish_fiche(island)
        await Speaker(island, remote, "rosa").reply(fiche.uri, "<p>Bonjour</p>")
        row = await settled_image(island, icon)
        assert row.state != "stored" and "federates with" in row.last_error
        assert pictures.requests == ["/hop.png"] and elsewhere.requests == []
    finally:
        await elsewhere.stop()


async def test_a_redirect_within_allowed_hosts_is_followed(island, remote, pictures):
    icon = pictures.redirect("/hop.png", pictures.put("/real.png", png(20, 10)))
    remote.documents["/users/rosa"]["icon"] = {"type": "Image", "url": icon}
    fiche = await publish_fiche(island)
    await Speaker(island, remote, "rosa").reply(fiche.uri, "<p>Bonjour</p>")
    assert (await settled_image(island, icon)).state == "stored"
    assert pictures.requests == ["/hop.png", "/real.png"]


async def replica(island, pictures, *, cover: str, **fields) -> StoredObject:
    """A fiche received from another island (stored as the inbox would store it)."""
    async with island.sessions() as session:
        item = StoredObject(uri=f"{pictures.url}/items/1", is_local=False, type="Article", kind="fiche",
                            author_uri=f"{pictures.url}/users/bob", name="Fiche d'ailleurs",
                            content="<p>Texte</p>", state="published",
                            cover={"url": cover, "name": "Une serre", "mediaType": "image/png"}, **fields)
        session.add(item)
        await session.commit()
        return item


async def test_a_replica_cover_is_served_from_the_island_and_follows_its_updates(island, pictures):
    first = pictures.put("/covers/1.png", png(120, 40))
    item = await replica(island, pictures, cover=first)
    assert (await settled_image(island, first)).purpose == "cover"
    async with browser_like() as http:
        html = await fetch_page(http, f"{island.url}/r/{item.id}")
    assert f'src="{island.url}/images-distantes/{remote_media.image_key(first)}"' in html
    assert pictures.url not in " ".join(sources(html).loaded)

    second = pictures.put("/covers/2.png", png(60, 20))
    async with island.sessions() as session:
        stored = await session.get(StoredObject, item.id)
        stored.cover = {**stored.cover, "url": second}
        stored.updated = utcnow()  # as replicas.update does (what the picture worker looks at)
        await session.commit()
    assert (await settled_image(island, second)).state == "stored"
    await wait_for(lambda: _gone(island, first), message="the old cover stayed")
    # Until a cover is fetched (or when it is refused) a drawn header stands in for it.
    key = remote_media.image_key(f"{pictures.url}/covers/never.png")
    status, _, body = await get(f"{island.url}/images-distantes/{key}")
    assert status == 200 and body == default_avatar(key)  # unknown: the default placeholder
    async with island.sessions() as session:
        session.add(RemoteImage(key=key, url=f"{pictures.url}/covers/never.png", purpose="cover",
                                state="failed", attempts=1))
        await session.commit()
    assert (await get(f"{island.url}/images-distantes/{key}"))[2] == default_header(key)


@pytest.mark.parametrize("key", ["nothex", "A" * 64, "../../etc/passwd", "0" * 63, "0" * 65])
async def test_the_picture_route_takes_only_keys(island, key):
    status, headers, _ = await get(f"{island.url}/images-distantes/{key}")
    assert status == 404 and headers.get("Referrer-Policy")


HOSTILE = ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "JaVaScRiPt:alert(1)",
           "\tjavascript:alert(1)", "vbscript:msgbox(1)", "//evil.example/x", "http://user:pass@evil.example/",
           "https:\\\\evil.example", " https://evil.example/space", "java\nscript:alert(1)"]


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_urls_from_other_servers_never_reach_a_page(island, remote, pictures, hostile):
    remote.documents["/users/rosa"].update(url=hostile, icon={"type": "Image", "url": hostile})
    fiche = await publish_fiche(island)
    rosa = Speaker(island, remote, "rosa")
    note = rosa.note(fiche.uri, f'<p>Voir <a href="{hostile}">ici</a> <img src="{hostile}" alt="x"></p>')
    note["url"] = hostile
    await rosa.send({"id": f"{note['id']}/activity", "type": "Create", "object": note})
    item = await replica(island, pictures, cover=hostile, url=hostile,
                         fields={"files": [{"url": hostile, "name": "Dossier", "mediaType": "application/pdf"}]})
    async with island.sessions() as session:  # the replica's author: rosa, with her hostile profile
        session.add(ItemAuthor(object_id=item.id, actor_uri=rosa.uri, position=0))
        await session.commit()

    async with browser_like() as http:
        pages = {"thread": await fetch_page(http, fiche.uri),
                 "replica": await fetch_page(http, f"{island.url}/r/{item.id}")}
    assert "Voir" in pages["thread"] and "Dossier" in pages["replica"]
    for name, html in pages.items():
        found = sources(html)
        for url in found.loaded + found.links:
            assert url.startswith(("http://", "https://", "/", "#", "?")) and not url.startswith("//"), (name, url)
        lowered = html.lower()
        for needle in ("javascript:", "vbscript:", "data:text/html", "user:pass", "evil.example"):
            assert needle not in lowered, (name, needle)


async def test_pages_say_img_self_and_keep_the_referrer_home(island):
    for path in ("/", "/about", "/nowhere", "/users/alice", "/.well-known/nodeinfo", "/login"):
        async with aiohttp.ClientSession() as http, http.get(f"{island.url}{path}", allow_redirects=False) as response:
            assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), path
    status, headers, _ = await get(f"{island.url}/")
    csp = {part.split()[0]: part.split()[1:] for part in headers["Content-Security-Policy"].split("; ")}
    assert csp["img-src"] == ["'self'"] and csp["default-src"] == ["'self'"]
    assert headers["Referrer-Policy"] == "same-origin"
    assert not re.search(r"https?://(?!127\.0\.0\.1)", headers["Content-Security-Policy"])


async def add_actors(node, host: ImageHost, paths: list[str]) -> list[str]:
    urls = [f"{host.url}{path}" for path in paths]
    async with node.sessions() as session:
        for number, url in enumerate(urls):
            uri = f"{host.url}/users/u{number}"
            session.add(RemoteActor(uri=uri, host=host.url.split("://")[1], type="Person", inbox=f"{uri}/inbox",
                                    icon_url=url, document={}))
        await session.commit()
    return urls


async def test_a_failing_host_is_asked_once_then_left_alone(make_island, pictures):
    node = await make_island("brest", workers=False)
    paths = [f"/avatars/{number}.png" for number in range(6)]
    for path in paths:
        pictures.put(path, b"busy", "text/plain", status=503)
    urls = await add_actors(node, pictures, paths)
    worker = picture_worker(node)
    await worker.run_once()
    await worker.run_once()
    assert len(pictures.requests) == 1  # the host said 503: nobody asks it again for a while
    rows = [await image_row(node, url) for url in urls]
    failed = [row for row in rows if row.attempts]
    assert len(failed) == 1 and failed[0].state == "pending" and failed[0].next_try_at > utcnow()
    assert "503" in failed[0].last_error


async def test_one_host_is_asked_for_one_picture_at_a_time(make_island, pictures):
    node = await make_island("brest", workers=False)
    paths = [f"/avatars/{number}.png" for number in range(5)]
    for path in paths:
        pictures.put(path, png(8, 8))
    urls = await add_actors(node, pictures, paths)
    worker = picture_worker(node)
    pictures.delay = 0.05
    await asyncio.gather(worker.run_once(), worker.run_once())  # two rounds at once: still one by one
    while await worker.run_once():
        pass
    assert pictures.most_at_once == 1
    assert sorted(pictures.requests) == sorted(paths)  # each picture once, not once per round
    assert [(await image_row(node, url)).state for url in urls] == ["stored"] * len(urls)
