"""A visitor's browser never contacts another server: a page full of remote content (avatars,
a replicated fiche's cover, a reply embedding a picture and a stylesheet) loads only from the
island's origin, and says so in its CSP and Referrer-Policy."""

from __future__ import annotations

from urllib.parse import urlsplit


from tests.flows.test_conversations import Speaker, publish_fiche
from tests.flows.test_remote_pictures import replica, settled_image
from tests.images import ImageHost, png


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def test_pages_with_remote_content_load_only_from_the_island(island, remote, pictures, new_page):
    avatar = pictures.put("/avatars/rosa.png", png(48, 48))
    remote.documents["/users/rosa"]["icon"] = {"type": "Image", "url": avatar}
    broken = await ImageHost("127.0.0.2").start()  # another host: a failing one is left alone a while
    remote.add_actor("mia", icon={"type": "Image", "url": broken.put("/avatars/mia.png", png(), status=503)})
    fiche = await publish_fiche(island)
    await Speaker(island, remote, "rosa").reply(
        fiche.uri, f'<p>Regardez <img src="{pictures.url}/tracker.gif" alt="ma serre"> '
                   f'<a href="{pictures.url}/page">ici</a></p><link rel="stylesheet" href="{pictures.url}/s.css">')
    await Speaker(island, remote, "mia").reply(fiche.uri, "<p>Et moi ?</p>")  # her avatar never comes
    item = await replica(island, pictures, cover=pictures.put("/covers/serre.png", png(90, 30)))
    await settled_image(island, avatar)
    await settled_image(island, f"{pictures.url}/covers/serre.png")
    await settled_image(island, f"{broken.url}/avatars/mia.png")
    asked_before = list(pictures.requests)

    page = await new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    for url in (fiche.uri, f"{island.url}/r/{item.id}"):
        response = await page.goto(url)
        await page.wait_for_load_state("networkidle")
        assert response.status == 200
        headers = await response.all_headers()
        assert "img-src 'self';" in headers["content-security-policy"]
        assert headers["referrer-policy"] == "same-origin"
    assert requests and all(origin(url) == island.url for url in requests), \
        [url for url in requests if origin(url) != island.url]
    assert any("/images-distantes/" in url for url in requests)  # the pictures were asked, from here
    # The avatars and the cover are drawn: rosa's real picture, mia's placeholder.
    sizes = await page.evaluate("[...document.images].map(i => [i.naturalWidth, i.complete])")
    assert all(complete and width > 0 for width, complete in sizes), sizes
    await page.goto(fiche.uri)
    await page.wait_for_load_state("networkidle")
    sizes = await page.evaluate("[...document.querySelectorAll('.thread img.avatar')].map(i => i.naturalWidth)")
    assert sorted(sizes) == [48, 400], sizes  # rosa's own, and the drawn placeholder for mia
    assert pictures.requests == asked_before  # the visitor's browser never reached the other server
    assert broken.requests == ["/avatars/mia.png"]
    await broken.stop()
