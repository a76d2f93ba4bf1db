"""`archipel publish` takes a cover and attached files from beside the Markdown file, checked as
the item form checks uploads (same checks, limits and storage), with one-line errors."""

from __future__ import annotations

import asyncio

import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from archipel import content
from archipel import media as media_store
from archipel.storage.tables import Media, StoredObject
from tests.processes import ENV

EXAMPLE = Path(__file__).parent.parent / "data" / "fiches" / "repair-cafe"
AS2 = {"Accept": "application/activity+json"}


async def publish(island, markdown: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The command beside the serving island, whose event loop keeps running meanwhile (blocking
    it would freeze any transaction it had open, and the command would wait for its lock)."""
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "web.cli", "publish", str(island.directory), str(markdown),
                         "--as", "alice", *extra], env={**ENV, **(env or {})}, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL)


def refused(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archipel: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def files_on_disk(island) -> list[Path]:
    return sorted(p for p in Path(island.settings.effective_media_directory).rglob("*") if p.is_file())


async def counts(island) -> tuple[int, int]:
    async with island.sessions() as session:
        return (await session.scalar(select(func.count(Media.id))),
                await session.scalar(select(func.count(StoredObject.id))))


def folder_with(tmp_path: Path, front: str, files: dict[str, bytes | Path] | None = None) -> Path:
    """A copy of the example folder with another front matter block and extra files."""
    folder = tmp_path / "fiche"
    shutil.copytree(EXAMPLE, folder, dirs_exist_ok=True)
    for name, value in (files or {}).items():
        (folder / name).write_bytes(value.read_bytes() if isinstance(value, Path) else value)
    markdown = folder / "fiche.md"
    markdown.write_text(f"---\ntitle: Un atelier\n{front}---\nDu texte.\n", "utf-8")
    return markdown


async def get(url: str, accept: dict | None = None) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=accept or {}) as response:
            return response.status, await response.read(), response.content_type


async def test_a_complete_fiche_is_published_from_a_folder(make_island):
    island = await make_island("douarnenez")
    await island.add_user("alice")
    result = await publish(island, EXAMPLE / "repair-cafe.md")
    assert result.returncode == 0, result.stderr
    uri = result.stdout.strip()
    async with island.sessions() as session:
        item = await content.find_object(session, uri)
        cover, attachments = await media_store.cover_and_attachments(session, island.url, item)
    assert item.cover["name"] == "Une caisse à outils et une roue de vélo dessinées sur fond crème"
    assert cover is not None and cover.content_type == "image/png" and cover.alt == item.cover["name"]
    assert [m.content_type for m in attachments] == ["application/pdf", "text/markdown; charset=utf-8"]
    assert [f["name"] for f in item.fields["files"]] == [m.filename for m in attachments]
    assert not [p for p in files_on_disk(island) if p.suffix == ".pending"] and len(files_on_disk(island)) == 3

    status, body, kind = await get(item.cover["url"])
    assert (status, kind) == (200, "image/png") and body.startswith(b"\x89PNG")
    status, body, _ = await get(uri, AS2)
    document = __import__("json").loads(body)
    assert document["attachment"] == [{"type": "Image", "url": item.cover["url"], "mediaType": "image/png",
                                       "name": item.cover["name"]}] and document["image"] == document["attachment"][0]
    status, page, _ = await get(item.url)
    assert status == 200 and "mode-emploi.pdf" in page.decode()


async def test_what_the_form_refuses_the_command_refuses_in_one_line_and_writes_nothing(tmp_path, make_island):
    island = await make_island("brest")
    await island.add_user("alice")
    before, disk = await counts(island), files_on_disk(island)
    pdf = EXAMPLE / "fichiers" / "mode-emploi.pdf"
    shapes = [
        ("cover: couverture.png\n", {}, ["cover_alt", "Describe the cover image"]),
        ("cover: absente.png\ncover_alt: Rien\n", {}, ["cover:", "no such file", "absente.png"]),
        ("cover: fichiers/mode-emploi.pdf\ncover_alt: Un PDF\n", {}, ["not a readable JPEG, PNG, WebP or GIF"]),
        ("cover: fichiers\ncover_alt: Un dossier\n", {}, ["is a folder"]),
        ("cover: faux.png\ncover_alt: Une page\n", {"faux.png": b"<html><script>x</script></html>"},
         ["faux.png", "not a readable"]),
        ("cover: vide.png\ncover_alt: Rien\n", {"vide.png": b""}, ["vide.png", "refused"]),
        ("cover: couverture.png\ncover_alt: " + "x" * 501 + "\n", {}, ["longer than 500"]),
        ("cover_alt: Une image\n", {}, ["no cover image to describe"]),
        ("attachments: [programme.exe]\n", {"programme.exe": b"MZ\x90\x00" + bytes(200)},
         ["programme.exe", "file type is not accepted"]),
        ("attachments: [fichiers/mode-emploi.pdf, absent.pdf]\n", {}, ["absent.pdf"]),
        ("attachments: fichiers/mode-emploi.pdf\nkind: article\n", {}, ["only a fiche or a resource"]),
        ("attachments: [" + ", ".join(f"f{n}.pdf" for n in range(21)) + "]\n", {f"f{n}.pdf": pdf for n in range(21)},
         ["No more than 20"]),
        ("attachments: {a: 1}\n", {}, ["attachments:", "list of file paths"]),
        ("cover: [a, b]\n", {}, ["cover:", "path of an image"]),
    ]
    for front, files, fragments in shapes:
        refused(await publish(island, folder_with(tmp_path, front, files)), *fragments)
        shutil.rmtree(tmp_path / "fiche")
    big = folder_with(tmp_path, "cover: couverture.png\ncover_alt: Une image\n")
    refused(await publish(island, big, env={"ARCHIPEL_MAX_UPLOAD_BYTES": "1000"}), "couverture.png", "too large")
    assert await counts(island) == before and files_on_disk(island) == disk


async def test_update_replaces_the_cover_and_files_or_keeps_them(tmp_path, make_island):
    island = await make_island("morlaix")
    await island.add_user("alice")
    markdown = folder_with(tmp_path, "cover: couverture.png\ncover_alt: Première\n"
                                     "attachments: [fichiers/mode-emploi.pdf]\n")
    uri = (await publish(island, markdown)).stdout.strip()
    assert uri.startswith(island.url), uri
    first_files = files_on_disk(island)

    markdown.write_text("---\ntitle: Un atelier, deuxième version\ncover_alt: Deuxième\n---\nDu texte.\n")
    assert (await publish(island, markdown, "--update", uri)).returncode == 0
    async with island.sessions() as session:
        item = await content.find_object(session, uri)
        cover, attachments = await media_store.cover_and_attachments(session, island.url, item)
    assert item.name == "Un atelier, deuxième version" and item.cover["name"] == "Deuxième" and cover.alt == "Deuxième"
    assert [f["name"] for f in item.fields["files"]] == ["mode-emploi.pdf"] and len(attachments) == 1
    assert files_on_disk(island) == first_files

    markdown.write_text("---\ntitle: Un atelier\ncover: nouvelle.png\n---\nDu texte.\n")
    (markdown.parent / "nouvelle.png").write_bytes((EXAMPLE / "couverture.png").read_bytes())
    refused(await publish(island, markdown, "--update", uri), "cover_alt")  # a new picture needs its description
    markdown.write_text("---\ntitle: Un atelier\ncover: nouvelle.png\ncover_alt: Troisième\nattachments: []\n"
                        "---\nDu texte.\n")
    assert (await publish(island, markdown, "--update", uri)).returncode == 0
    async with island.sessions() as session:
        item = await content.find_object(session, uri)
        new_cover, attachments = await media_store.cover_and_attachments(session, island.url, item)
    assert new_cover.id != cover.id and item.cover["name"] == "Troisième"
    assert attachments == [] and item.fields["files"] == []
    assert len(files_on_disk(island)) == 1  # the old cover and the PDF went with the commit
