"""Uploads over real HTTP: images come back without their metadata, files only as downloads,
anything else is refused; inboxes keep their own, smaller, body limit."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import aiohttp
import pytest
from PIL import ExifTags, Image, ImageSequence

from archipel import accounts, content
from archipel import media as media_store
from archipel.errors import InvalidInput
from federation import actions
from tests.web.test_auth import browser_like, hidden_csrf, login_page

AS2 = {"Accept": "application/activity+json"}
GPS = ExifTags.IFD.GPSInfo  # 34853


# ---- images and files made here ---------------------------------------------------------------

def jpeg_with_gps(width: int = 300, height: int = 200) -> bytes:
    """A photo as phones make them: GPS position, camera, orientation 6 (turn 90° to display)."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, width // 2, height))  # left half blue
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Orientation] = 6
    gps = exif.get_ifd(GPS)
    gps.update({1: "N", 2: (48.0, 23.0, 24.5), 3: "W", 4: (4.0, 29.0, 10.0)})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, comment=b"chez Alice, 12 rue des Secrets")
    return buffer.getvalue()


def png(width: int = 64, height: int = 48, **info) -> bytes:
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    for key, value in info.items():
        meta.add_text(key, value)
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 200, 10, 128)).save(buffer, "PNG", pnginfo=meta)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims a huge canvas: a decompression bomb as far as its header goes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def pdf(size: int = 2000) -> bytes:
    head = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
    return head + b"%" + b"x" * max(0, size - len(head) - 7) + b"\n%%EOF\n"


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# ---- a logged-in browser ------------------------------------------------------------------------

async def logged_in(http, island, username: str = "alice") -> str:
    """Log in; the CSRF token of the session."""
    token = await login_page(http, island)
    form = {"csrf_token": token, "username": username, "password": "correct horse battery"}
    async with http.post(f"{island.url}/login", data=form, allow_redirects=False) as response:
        assert response.status == 303
    async with http.get(f"{island.url}/") as response:
        return hidden_csrf(await response.text())


def upload_form(data: bytes, filename: str, alt: str = "", content_type: str = "application/octet-stream",
                csrf: str | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if csrf is not None:
        form.add_field("csrf_token", csrf)
    form.add_field("alt", alt)
    form.add_field("file", io.BytesIO(data), filename=filename, content_type=content_type)
    return form


async def upload(http, island, csrf: str, data: bytes, filename: str, alt: str = "", *,
                 content_type: str = "application/octet-stream", as_header: bool = True):
    """(status, JSON) of POST /media; the token as a header (scripts) or a form field (forms)."""
    headers = {"X-CSRF-Token": csrf} if as_header else {}
    form = upload_form(data, filename, alt, content_type, None if as_header else csrf)
    async with http.post(f"{island.url}/media", data=form, headers=headers, allow_redirects=False) as response:
        return response.status, await response.json()


async def fetch(http, url: str):
    async with http.get(url) as response:
        return response.status, response.headers, await response.read()


@pytest.fixture
async def alice_browser(island):
    async with browser_like() as http:
        csrf = await logged_in(http, island)
        yield http, csrf


# ---- images -------------------------------------------------------------------------------------

async def test_a_photo_comes_back_upright_and_without_its_gps_position(island, alice_browser):
    http, csrf = alice_browser
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS)  # the test photo does carry GPS
    status, answer = await upload(http, island, csrf, original, "IMG_0042.JPG", "Un atelier de réparation",
                                  content_type="image/jpeg")
    assert status == 201, answer
    assert answer["content_type"] == "image/jpeg"
    assert (answer["width"], answer["height"]) == (200, 300)  # orientation applied
    assert answer["alt"] == "Un atelier de réparation"
    assert answer["filename"] == "IMG_0042.jpg"
    assert answer["url"] == f"{island.url}/media/{answer['id']}/IMG_0042.jpg"

    status, headers, served = await fetch(http, answer["url"])
    assert status == 200
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Content-Disposition"].startswith("inline")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert headers["Cache-Control"] == "private, no-store"  # attached to nothing yet: its owner's alone
    image = Image.open(io.BytesIO(served))
    assert image.size == (200, 300)
    assert len(image.getexif()) == 0 and not image.getexif().get_ifd(GPS)
    assert not {"exif", "comment", "xmp"} & set(image.info)
    assert b"Exif" not in served and b"PhoneMaker" not in served and b"Secrets" not in served
    # Upright: the blue half that was on the left is now at the top.
    top, bottom = image.convert("RGB").getpixel((100, 10)), image.convert("RGB").getpixel((100, 290))
    assert top[2] > 150 > top[0] and bottom[0] > 150 > bottom[2]


async def test_a_png_keeps_transparency_and_loses_its_text(island, alice_browser):
    http, csrf = alice_browser
    status, answer = await upload(http, island, csrf, png(Author="Alice Martin", Comment="secret"),
                                  "schéma final.png", "Schéma", as_header=False)
    assert status == 201, answer
    assert (answer["content_type"], answer["width"], answer["height"]) == ("image/png", 64, 48)
    assert answer["filename"] == "schema-final.png"
    status, headers, served = await fetch(http, answer["url"])
    assert status == 200 and headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(served))
    assert image.mode == "RGBA" and image.getpixel((5, 5))[3] == 128
    assert "Author" not in image.info and b"Alice Martin" not in served


async def test_huge_images_are_scaled_down(island, alice_browser):
    http, csrf = alice_browser
    buffer = io.BytesIO()
    Image.new("RGB", (5000, 1000), "white").save(buffer, "PNG")
    status, answer = await upload(http, island, csrf, buffer.getvalue(), "bandeau.png", "Bandeau")
    assert status == 201
    assert (answer["width"], answer["height"]) == (4096, 819)


@pytest.mark.parametrize("width,height", [(100_000, 100_000), (10_000, 10_000), (8_000, 8_000)])
async def test_a_decompression_bomb_is_refused_cleanly(island, alice_browser, width, height):
    http, csrf = alice_browser
    status, answer = await upload(http, island, csrf, png_header_only(width, height), "bombe.png")
    assert status == 400
    assert "trop grande" in answer["error"]


async def test_a_broken_image_is_refused(island, alice_browser):
    http, csrf = alice_browser
    status, answer = await upload(http, island, csrf, jpeg_with_gps()[:400], "coupee.jpg")
    assert status == 400 and "illisible" in answer["error"]


# ---- files --------------------------------------------------------------------------------------

async def test_a_pdf_is_only_ever_a_download(island, alice_browser):
    http, csrf = alice_browser
    status, answer = await upload(http, island, csrf, pdf(), "guide.pdf", content_type="text/html")
    assert status == 201, answer
    assert answer["content_type"] == "application/pdf" and answer["width"] is None
    status, headers, served = await fetch(http, answer["url"])
    assert status == 200 and served == pdf()
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == 'attachment; filename="guide.pdf"'
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


@pytest.mark.parametrize("data,filename,reason", [
    (b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>", "photo.jpg", "une page en .jpg"),
    (b"<html><script>alert(1)</script></html>", "notes.txt", "une page en .txt"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     "dessin.svg", "un SVG"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "dessin.md", "un SVG en .md"),
    (b"MZ\x90\x00\x03\x00\x00\x00", "outil.exe", "un programme"),
    (b"\xff\xfe\x00\x00 binaire", "notes.txt", "du binaire en .txt"),
    (zipped({"evil.html": b"<html></html>"}), "archive.docx", "un zip quelconque"),
])
async def test_anything_else_is_refused(island, alice_browser, data, filename, reason):
    http, csrf = alice_browser
    status, answer = await upload(http, island, csrf, data, filename, content_type="image/jpeg")
    assert status == 400, reason
    assert "non accepté" in answer["error"]


async def test_text_and_office_documents_are_accepted(island, alice_browser):
    http, csrf = alice_browser
    cases = [
        ("# Titre\n\nDu *Markdown* accentué.\n".encode(), "lisez-moi.md", "text/markdown; charset=utf-8"),
        (b"Une ligne.\n", "notes.txt", "text/plain; charset=utf-8"),
        (zipped({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"}),
         "compte-rendu.odt", "application/vnd.oasis.opendocument.text"),
        (zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"}), "budget.xlsx",
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ]
    for data, filename, content_type in cases:
        status, answer = await upload(http, island, csrf, data, filename)
        assert (status, answer["content_type"], answer["filename"]) == (201, content_type, filename)
        status, headers, served = await fetch(http, answer["url"])
        assert served == data and headers["Content-Disposition"].startswith("attachment")


async def test_unknown_ids_and_wrong_filenames_are_not_found(island, alice_browser):
    http, csrf = alice_browser
    _, answer = await upload(http, island, csrf, pdf(), "guide.pdf")
    for url in (answer["url"].replace("guide.pdf", "autre.pdf"),
                f"{island.url}/media/01hzzzzzzzzzzzzzzzzzzzzzzz/guide.pdf",
                f"{island.url}/media/..%2F..%2Farchipel.toml/guide.pdf"):
        status, _, _ = await fetch(http, url)
        assert status == 404, url


# ---- limits -------------------------------------------------------------------------------------

async def test_oversize_uploads_are_refused_with_a_message(make_island):
    island = await make_island("petite", max_upload_bytes=100_000)
    await island.add_user("alice")
    async with browser_like() as http:
        csrf = await logged_in(http, island)
        for size in (150_000, 2_000_000):  # over the limit; over what the server even reads
            status, answer = await upload(http, island, csrf, pdf(size), "gros.pdf")
            assert status == 413, size
            assert "trop gros" in answer["error"]
        status, answer = await upload(http, island, csrf, pdf(99_000), "juste.pdf")
        assert status == 201


async def test_inboxes_keep_their_1_mb_limit_while_uploads_of_2_mb_work(island, alice_browser):
    http, csrf = alice_browser
    status, answer = await upload(http, island, csrf, pdf(2_000_000), "rapport.pdf")
    assert status == 201 and answer["content_type"] == "application/pdf"
    body = b'{"type": "Like", "content": "' + b"x" * 2_000_000 + b'"}'

    async def chunked():  # no Content-Length: the inbox must stop reading by itself
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    async with aiohttp.ClientSession() as anonymous:
        for inbox in (f"{island.url}/inbox", f"{island.url}/users/alice/inbox"):
            for data in (io.BytesIO(body), chunked()):
                async with anonymous.post(inbox, data=data,
                                          headers={"Content-Type": "application/activity+json"}) as response:
                    assert response.status == 413, inbox
    assert await island.incoming() == []


# ---- who may upload -------------------------------------------------------------------------------

async def test_uploads_need_a_logged_in_user_and_the_csrf_token(island, alice_browser):
    form = upload_form(png(), "a.png", csrf="x")
    async with (aiohttp.ClientSession() as stranger,  # no cookie at all: a cross-site form
                stranger.post(f"{island.url}/media", data=form, allow_redirects=False) as response):
        assert response.status == 403
    async with browser_like() as visitor:  # a visitor with the anonymous token: sent to log in
        token = await login_page(visitor, island)
        async with visitor.post(f"{island.url}/media", data=upload_form(png(), "a.png", csrf=token),
                                allow_redirects=False) as response:
            assert response.status == 302 and response.headers["Location"].startswith("/login")
    http, _ = alice_browser
    for headers, form in (({}, upload_form(png(), "a.png")),
                          ({"X-CSRF-Token": "forged"}, upload_form(png(), "a.png")),
                          ({}, upload_form(png(), "a.png", csrf="forged"))):
        async with http.post(f"{island.url}/media", data=form, headers=headers,
                             allow_redirects=False) as response:
            assert response.status == 403
    async with island.sessions() as session:
        from sqlalchemy import func, select

        from archipel.storage.tables import Media
        assert await session.scalar(select(func.count(Media.id))) == 0


# ---- a cover ------------------------------------------------------------------------------------

async def test_an_uploaded_image_becomes_the_cover_of_a_fiche(island, alice_browser):
    http, csrf = alice_browser
    status, answer = await upload(http, island, csrf, jpeg_with_gps(), "atelier.jpg", "Des mains réparent un vélo")
    assert status == 201
    async with island.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        fiche = await actions.publish_item(session, island.url, [alice], kind="fiche", title="Repair café",
                                           source="Un lieu pour réparer ensemble.")
        stored = await media_store.get_media(session, answer["id"])
        await actions.edit_item(session, island.url, fiche, editor=alice,
                                cover={"url": answer["url"], "name": stored.alt, "mediaType": stored.content_type})
        await media_store.attach(session, stored, fiche)
        await session.commit()
        uri = fiche.uri
    async with island.sessions() as session:
        assert (await media_store.get_media(session, answer["id"])).object_id == (
            await content.get_object(session, uri)).id
    async with aiohttp.ClientSession() as anonymous, anonymous.get(uri, headers=AS2) as response:
        assert response.status == 200
        document = await response.json(content_type=None)
    assert document["image"] == {"type": "Image", "url": answer["url"], "name": "Des mains réparent un vélo",
                                 "mediaType": "image/jpeg"}


# ---- the domain module without HTTP ---------------------------------------------------------------

def test_an_animated_gif_keeps_moving_and_webp_loses_its_exif():
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=120, loop=0,
                   comment=b"secret")
    prepared = media_store.prepare(buffer.getvalue())
    gif = Image.open(io.BytesIO(prepared.data))
    assert prepared.content_type == "image/gif" and len(list(ImageSequence.Iterator(gif))) == 3
    assert b"secret" not in prepared.data

    exif = Image.Exif()
    exif.get_ifd(GPS).update({1: "N", 2: (48.0, 23.0, 24.5)})
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), "red").save(buffer, "WEBP", exif=exif)
    prepared = media_store.prepare(buffer.getvalue())
    assert prepared.content_type == "image/webp" and (prepared.width, prepared.height) == (20, 10)
    assert "exif" not in Image.open(io.BytesIO(prepared.data)).info


def test_a_phone_photo_with_several_pictures_keeps_the_first_as_a_jpeg():
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), "red").save(buffer, "MPO", save_all=True,
                                            append_images=[Image.new("RGB", (20, 10), "blue")])
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"
    prepared = media_store.prepare(buffer.getvalue())
    image = Image.open(io.BytesIO(prepared.data))
    assert (image.format, prepared.content_type, image.size) == ("JPEG", "image/jpeg", (20, 10))
    assert "exif" not in image.info and image.convert("RGB").getpixel((5, 5))[0] > 200


def test_empty_uploads_and_bad_ids_are_clear_errors():
    with pytest.raises(InvalidInput, match="vide"):
        media_store.prepare(b"")
    with pytest.raises(InvalidInput):
        media_store.media_path("/tmp", "../../etc/passwd")
