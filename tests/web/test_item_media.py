"""The cover image and attached files of the item form, over real HTTP on a real island: uploaded
with the fiche or resource (multipart, CSRF), shown on the published page, replaced and removed;
bad files refused next to their field with nothing half-saved; drafts' files kept private."""

from __future__ import annotations

import io
import re
from pathlib import Path

import aiohttp
import pytest
from PIL import Image
from sqlalchemy import func, select

from archipel import content
from archipel.errors import InvalidInput
from archipel.storage.tables import Media, StoredObject
from federation import actions
from tests.web.test_authoring import (FICHE_FORM, RESOURCE_FORM, Visitor, edit_path, errors_in,  # noqa: F401
                                      form_values, visitors)
from tests.web.test_media import jpeg_with_gps, pdf, png, zipped

AS2 = {"Accept": "application/activity+json"}
SVG_WITH_SCRIPT = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
                   b"<script>alert(document.cookie)</script><circle r=\"4\"/></svg>")
HTML_AS_PNG = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
DOCX = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})


# ---- helpers -----------------------------------------------------------------------------------

def multipart(fields: dict, files: list[tuple[str, str, bytes]] = ()) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        for one in value if isinstance(value, list) else [value]:
            form.add_field(name, one)
    for name, filename, data in files:
        form.add_field(name, io.BytesIO(data), filename=filename, content_type="application/octet-stream")
    return form


async def post_files(visitor: Visitor, path: str, fields: dict, files=(), *, csrf: bool = True):
    """(status, page, location) of a multipart post, as a browser sends the item form."""
    if csrf:
        fields = {"csrf_token": visitor.csrf, **fields}
    async with visitor.http.post(visitor.island.url + path, data=multipart(fields, files),
                                 allow_redirects=False) as response:
        return response.status, await response.text(), response.headers.get("Location")


async def create_with_files(visitor: Visitor, kind: str, form: dict, files, action: str = "publish") -> str:
    status, page, location = await post_files(visitor, f"/espace/nouveau?kind={kind}", {**form, "action": action},
                                              files)
    assert status == 303, errors_in(page)
    return f"{visitor.island.url}/o/{re.search(r'/items/([0-9a-z]{26})/', location).group(1)}"


async def edit_with_files(visitor: Visitor, uri: str, changes: dict, files=(), action: str = "save"):
    status, page, _ = await visitor.get(edit_path(uri))
    assert status == 200
    values = {name: value for name, value in form_values(page).items()
              if name not in ("cover_file", "attachment_files", "csrf_token")}
    return await post_files(visitor, edit_path(uri), {**values, **changes, "action": action}, files)


def files_on_disk(island) -> list[Path]:
    root = Path(island.settings.effective_media_directory)
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


async def media_rows(island) -> list[Media]:
    async with island.sessions() as session:
        return list(await session.scalars(select(Media).order_by(Media.created_at, Media.id)))


async def count_items(island) -> int:
    async with island.sessions() as session:
        return await session.scalar(select(func.count(StoredObject.id)))


async def item_at(island, uri: str) -> StoredObject:
    async with island.sessions() as session:
        return await content.find_object(session, uri)


async def status_of(http: aiohttp.ClientSession, url: str) -> tuple[int, dict, bytes]:
    async with http.get(url, allow_redirects=False) as response:
        return response.status, response.headers, await response.read()


def attachment_urls(page: str) -> list[str]:
    section = re.search(r'<section aria-labelledby="attachments-heading".*?</section>', page, re.DOTALL)
    return re.findall(r'<a href="([^"]+)"', section.group(0)) if section else []


# ---- a fiche with its cover and files --------------------------------------------------------------

async def test_a_fiche_is_published_with_its_cover_and_attachments(island, visitors):
    alice = await visitors("alice")
    uri = await create_with_files(alice, "fiche", {**FICHE_FORM, "cover_alt": "Un atelier, des mains, un vélo"}, [
        ("cover_file", "atelier.jpg", jpeg_with_gps()),
        ("attachment_files", "guide animateur.pdf", pdf(3000)),
        ("attachment_files", "compte-rendu.docx", DOCX),
    ])
    item = await item_at(island, uri)
    rows = await media_rows(island)
    assert len(rows) == 3 and all(row.object_id == item.id for row in rows)
    cover_row = next(row for row in rows if row.kind == "image")
    assert item.cover == {"url": f"{island.url}/media/{cover_row.id}/atelier.jpg",
                          "name": "Un atelier, des mains, un vélo", "mediaType": "image/jpeg"}
    assert cover_row.alt == "Un atelier, des mains, un vélo"
    on_disk = files_on_disk(island)
    assert sorted(path.name for path in on_disk) == sorted(row.id for row in rows)  # none left pending

    # The public page: the cover with its alt text, the files with name, type and size.
    async with aiohttp.ClientSession() as anonymous:
        status, _, body = await status_of(anonymous, uri)
        page = body.decode()
        assert status == 200
        assert f'<img src="{item.cover["url"]}" alt="Un atelier, des mains, un vélo" class="cover">' in page
        assert '<meta property="og:image" content="' + item.cover["url"] + '">' in page
        assert "Fichiers joints" in page
        assert "guide-animateur.pdf" in page and "(Document PDF, 3 ko)" in page
        assert "compte-rendu.docx" in page and "Document Word" in page
        urls = attachment_urls(page)
        assert len(urls) == 2 and item.cover["url"] not in urls
        # Published: everyone gets the files, cached for good; the PDF only as a download.
        for url in [item.cover["url"], *urls]:
            status, headers, data = await status_of(anonymous, url)
            assert status == 200 and "immutable" in headers["Cache-Control"], url
        status, headers, data = await status_of(anonymous, urls[0])
        assert headers["Content-Disposition"].startswith("attachment") and data == pdf(3000)
        status, _, data = await status_of(anonymous, item.cover["url"])
        assert not Image.open(io.BytesIO(data)).getexif()  # the GPS position is gone
        # Mastodon and other islands get the cover as the Article's image.
        async with anonymous.get(uri, headers=AS2) as response:
            document = await response.json(content_type=None)
    assert document["image"]["url"] == item.cover["url"]
    assert document["image"]["name"] == "Un atelier, des mains, un vélo"
    # The files travel with the item (its `files` field), so other islands list them too.
    files = document["details"]["fields"]["files"]
    assert sorted(entry["url"] for entry in files) == sorted(urls)
    assert {entry["name"] for entry in files} == {"guide-animateur.pdf", "compte-rendu.docx"}
    assert next(entry for entry in files if entry["name"] == "guide-animateur.pdf")["size"] == len(pdf(3000))


async def test_a_resource_offers_its_materials_as_files_and_links(island, visitors):
    alice = await visitors("alice")
    uri = await create_with_files(alice, "resource", RESOURCE_FORM, [
        ("attachment_files", "deroule.odt", zipped({"mimetype": b"application/vnd.oasis.opendocument.text",
                                                   "content.xml": b"<office/>"})),
        ("attachment_files", "notes.md", "# Déroulé\n\n- accueil\n".encode()),
    ])
    item = await item_at(island, uri)
    assert item.cover is None and item.fields["materials"][0]["url"] == "https://wiki.example/guide"
    async with aiohttp.ClientSession() as anonymous:
        page = (await status_of(anonymous, uri))[2].decode()
    assert "Matériel à télécharger" in page
    assert "deroule.odt" in page and "Texte OpenDocument" in page and "notes.md" in page


async def test_the_edit_form_replaces_and_removes_the_cover_and_files(island, visitors):
    alice = await visitors("alice")
    uri = await create_with_files(alice, "fiche", {**FICHE_FORM, "cover_alt": "Première image"}, [
        ("cover_file", "une.png", png()), ("attachment_files", "a.pdf", pdf(1500)),
        ("attachment_files", "b.pdf", pdf(2500))])
    first_cover = (await item_at(island, uri)).cover["url"]
    status, page, _ = await alice.get(edit_path(uri))
    assert "Image de couverture actuelle" in page and 'alt="Première image"' in page
    assert page.count('name="attachment_remove"') == 2 and "Retirer « a.pdf »" in page
    assert 'enctype="multipart/form-data"' in page

    # Only the alt text changes: same file, new description, a new revision.
    status, page, _ = await edit_with_files(alice, uri, {"cover_alt": "Une image mieux décrite"})
    assert status == 303, errors_in(page)
    item = await item_at(island, uri)
    assert item.cover["url"] == first_cover and item.cover["name"] == "Une image mieux décrite"

    # A new cover replaces the old one (whose file goes), one attachment is removed, one added.
    rows = {row.filename: row for row in await media_rows(island)}
    status, page, _ = await edit_with_files(alice, uri, {"cover_alt": "Deuxième image",
                                                         "attachment_remove": rows["a.pdf"].id},
                                            [("cover_file", "deux.jpg", jpeg_with_gps()),
                                             ("attachment_files", "c.pdf", pdf(900))])
    assert status == 303, errors_in(page)
    item = await item_at(island, uri)
    assert item.cover["url"] != first_cover and item.cover["url"].endswith("/deux.jpg")
    assert sorted(row.filename for row in await media_rows(island)) == ["b.pdf", "c.pdf", "deux.jpg"]
    assert sorted(path.name for path in files_on_disk(island)) == sorted(row.id for row in await media_rows(island))
    async with aiohttp.ClientSession() as anonymous:
        assert (await status_of(anonymous, first_cover))[0] == 404
        assert (await status_of(anonymous, item.cover["url"]))[0] == 200

    # Removing the cover: no alt text needed any more.
    status, page, _ = await edit_with_files(alice, uri, {"cover_remove": "yes", "cover_alt": ""})
    assert status == 303, errors_in(page)
    assert (await item_at(island, uri)).cover is None
    assert sorted(row.filename for row in await media_rows(island)) == ["b.pdf", "c.pdf"]
    assert len(files_on_disk(island)) == 2


# ---- bad files: a clear message in the form, nothing half-saved ------------------------------------

@pytest.mark.parametrize("files, changes, field, message", [
    ([("cover_file", "photo.png", HTML_AS_PNG)], {"cover_alt": "Une photo"}, "cover_file",
     "« photo.png » n'est pas une image JPEG, PNG, WebP ou GIF lisible."),
    ([("cover_file", "logo.svg", SVG_WITH_SCRIPT)], {"cover_alt": "Un logo"}, "cover_file",
     "« logo.svg » n'est pas une image JPEG, PNG, WebP ou GIF lisible."),
    ([("attachment_files", "dessin.svg", SVG_WITH_SCRIPT)], {}, "attachment_files",
     "« dessin.svg » : ce type de fichier n'est pas accepté. Fichiers acceptés : images JPEG"),
    ([("attachment_files", "page.pdf", HTML_AS_PNG)], {}, "attachment_files",
     "« page.pdf » : ce type de fichier n'est pas accepté."),
    ([("attachment_files", "notes.txt", HTML_AS_PNG)], {}, "attachment_files",
     "« notes.txt » : ce type de fichier n'est pas accepté."),
    ([("attachment_files", "vide.pdf", b"")], {}, "attachment_files", "« vide.pdf » est refusé. Le fichier est vide."),
    ([("attachment_files", "photo.png", png()[:60])], {}, "attachment_files",  # cut short
     "« photo.png » est refusé. Image illisible."),
    ([("cover_file", "photo.jpg", jpeg_with_gps())], {"cover_alt": "  "}, "cover_alt",
     "Décrivez l'image de couverture en quelques mots (texte alternatif)"),
])
async def test_bad_files_are_refused_next_to_their_field(island, visitors, files, changes, field, message):
    alice = await visitors("alice")
    before = await count_items(island)
    status, page, _ = await post_files(alice, "/espace/nouveau?kind=fiche",
                                       {**FICHE_FORM, **changes, "action": "publish"},
                                       [*files, ("attachment_files", "bon.pdf", pdf(1000))])
    assert status == 400
    assert message in errors_in(page)
    assert f'id="e-{field}"' in page and f'id="f-{field}"' in page
    assert re.search(rf'<(input|textarea) id="f-{field}"[^>]*aria-invalid="true"', page)
    assert FICHE_FORM["title"].replace("'", "&#39;") in page  # what was typed is kept
    assert await count_items(island) == before
    # The good file is kept, attached to nothing, and comes back with the form (by id): it need
    # not be chosen again. The refused one is not kept.
    kept = await media_rows(island)
    assert all(row.object_id is None for row in kept) and len(files_on_disk(island)) == len(kept)
    good = next(row for row in kept if row.filename == "bon.pdf")
    assert f'name="pending_attachment" value="{good.id}" checked' in page
    assert [row.filename for row in kept if row is not good] == (["photo.jpg"] if field == "cover_alt" else [])


async def test_an_oversized_file_is_refused_in_the_form(make_island):
    island = await make_island("petite", max_upload_bytes=100_000)
    await island.add_user("alice")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        alice = await Visitor(island, http).login("alice")
        status, page, _ = await post_files(alice, "/espace/nouveau?kind=resource", {**RESOURCE_FORM, "action": "draft"},
                                           [("attachment_files", "gros.pdf", pdf(150_000))])
        assert status == 400
        assert "« gros.pdf » est trop gros : 100 ko au plus par fichier." in errors_in(page)
        assert await count_items(island) == 0 and await media_rows(island) == [] and files_on_disk(island) == []
        # Just under the limit: accepted.
        await create_with_files(alice, "resource", RESOURCE_FORM, [("attachment_files", "juste.pdf", pdf(99_000))],
                                action="draft")
        assert [row.filename for row in await media_rows(island)] == ["juste.pdf"]


async def test_files_beyond_what_the_island_reads_get_a_plain_answer(make_island):
    island = await make_island("petite", max_upload_bytes=100_000, max_body_bytes=200_000)
    await island.add_user("alice")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        alice = await Visitor(island, http).login("alice")
        status, page, _ = await post_files(alice, "/espace/nouveau?kind=fiche", {**FICHE_FORM, "action": "publish"},
                                           [("attachment_files", "enorme.pdf", pdf(600_000))])
    assert status == 413
    assert page.startswith("Cet envoi dépasse 0,2 Mo : rien n'a été enregistré.")
    assert await count_items(island) == 0 and await media_rows(island) == [] and files_on_disk(island) == []


async def test_a_bad_file_in_an_edit_changes_nothing(island, visitors):
    alice = await visitors("alice")
    uri = await create_with_files(alice, "fiche", {**FICHE_FORM, "cover_alt": "Une image"},
                                  [("cover_file", "une.png", png())])
    before = await item_at(island, uri)
    status, page, _ = await edit_with_files(alice, uri, {"title": "Nouveau titre", "cover_alt": "Autre"},
                                            [("cover_file", "deux.png", HTML_AS_PNG),
                                             ("attachment_files", "ok.pdf", pdf(800))])
    assert status == 400 and "« deux.png » n'est pas une image" in errors_in(page)
    after = await item_at(island, uri)
    assert (after.name, after.cover) == (before.name, before.cover)
    rows = await media_rows(island)  # the good file waits, attached to nothing, for the next save
    assert [(row.filename, row.object_id is None) for row in rows] == [("une.png", False), ("ok.pdf", True)]
    assert len(files_on_disk(island)) == 2

    # An existing cover needs its alt text too.
    status, page, _ = await edit_with_files(alice, uri, {"cover_alt": ""})
    assert status == 400 and "texte alternatif" in errors_in(page)


async def test_when_the_item_is_refused_after_the_files_are_written_they_are_removed(island, visitors,
                                                                                      monkeypatch):
    alice = await visitors("alice")

    async def refuse(*args, **kwargs):
        raise InvalidInput("refusé par le domaine")

    monkeypatch.setattr(actions, "publish_item", refuse)
    status, page, _ = await post_files(alice, "/espace/nouveau?kind=fiche",
                                       {**FICHE_FORM, "cover_alt": "Une image", "action": "publish"},
                                       [("cover_file", "une.png", png()), ("attachment_files", "a.pdf", pdf())])
    assert status == 400 and "refusé par le domaine" in errors_in(page)
    assert await media_rows(island) == [] and files_on_disk(island) == []


async def test_the_multipart_form_needs_its_csrf_token(island, visitors):
    alice = await visitors("alice")
    status, _, _ = await post_files(alice, "/espace/nouveau?kind=fiche", {**FICHE_FORM, "action": "publish"},
                                    [("attachment_files", "a.pdf", pdf())], csrf=False)
    assert status == 403
    assert await count_items(island) == 0 and await media_rows(island) == [] and files_on_disk(island) == []


# ---- who sees the files of a draft ------------------------------------------------------------------

async def test_a_drafts_files_are_private_until_it_is_published(island, visitors):
    alice, claire, bob, mona = [await visitors(name) for name in ("alice", "claire", "bob", "mona")]
    anonymous = await visitors()
    uri = await create_with_files(alice, "fiche", {**FICHE_FORM, "cover_alt": "Une image"},  # claire co-authors
                                  [("cover_file", "une.png", png()), ("attachment_files", "a.pdf", pdf())],
                                  action="propose")
    item = await item_at(island, uri)
    assert item.state == "proposed"
    pdf_row = next(row for row in await media_rows(island) if row.filename == "a.pdf")
    urls = [item.cover["url"], f"{island.url}/media/{pdf_row.id}/a.pdf"]
    for url in urls:
        status, headers, body = await status_of(anonymous.http, url)
        assert status == 404 and body == b"no such file", url  # the same answer as for no file at all
        for allowed in (alice, claire, mona):  # authors and moderators
            status, headers, _ = await status_of(allowed.http, url)
            assert status == 200 and headers["Cache-Control"] == "private, no-store", url
        assert (await status_of(bob.http, url))[0] == 404  # another author of the island
    # The edit form shows the cover to its author.
    assert f'src="{item.cover["url"]}"' in (await alice.get(edit_path(uri)))[1]

    status, page, _ = await edit_with_files(alice, uri, {}, action="publish")
    assert status == 303, errors_in(page)
    for url in urls:
        status, headers, _ = await status_of(anonymous.http, url)
        assert status == 200 and "immutable" in headers["Cache-Control"]

    # Withdrawn: its files go with it.
    async with island.sessions() as session:
        stored = await content.find_object(session, uri)
        await content.withdraw(session, stored)
        await session.commit()
    assert (await status_of(anonymous.http, urls[1]))[0] == 404


async def test_an_upload_attached_to_nothing_is_its_owners_alone(island, visitors):
    alice, bob, mona = [await visitors(name) for name in ("alice", "bob", "mona")]
    anonymous = await visitors()
    async with alice.http.post(f"{island.url}/media", headers={"X-CSRF-Token": alice.csrf},
                               data=multipart({"alt": "x"}, [("file", "a.pdf", pdf())])) as response:
        assert response.status == 201
        url = (await response.json())["url"]
    assert (await status_of(alice.http, url))[0] == 200
    for other in (bob, mona, anonymous):
        assert (await status_of(other.http, url))[0] == 404
