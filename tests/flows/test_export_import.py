"""`archipel export` and `archipel import`, through the real command: an island's items move to a
fresh island identical field by field, revisions included, without federating anything."""

import json
import shutil
from pathlib import Path

from sqlalchemy import func, select

from archipel import accounts, content, revisions
from archipel.ids import new_ulid
from archipel.markdown_items import read_item
from archipel.storage.tables import Media, OutgoingActivity, StoredObject
from federation import actions, documents
from tests.processes import cli

FICHES = Path(__file__).parent.parent / "data" / "fiches"
CONTACT = "papi@brest.example"
COMPARED = ("kind", "name", "summary", "source", "tags", "licence", "state", "fields", "language", "content",
            "based_on", "cover", "place", "region", "latitude", "longitude", "published", "updated")


async def publish_file(node, name: str, *usernames: str) -> StoredObject:
    fields = read_item((FICHES / name).read_text())
    fields.pop("authors")
    async with node.sessions() as session:
        authors = [await accounts.get_actor(session, username) for username in usernames]
        item = await actions.publish_item(session, node.url, authors, **fields)
        await session.commit()
    return item


async def populated_island(make_island):
    """Two example fiches, a draft, an edited fiche (2 revisions), an article, a withdrawn article,
    and an attachment stored the way uploads are (DIR/media/<2 chars>/<id>)."""
    brest = await make_island("brest")
    for username in ("alice", "claire"):
        await brest.add_user(username)
    papi = await publish_file(brest, "papi-brest.md", "alice", "claire")
    await publish_file(brest, "atelier-wiki.md", "alice")
    async with brest.sessions() as session:
        alice, claire = [await accounts.get_actor(session, name) for name in ("alice", "claire")]
        await actions.publish_item(session, brest.url, [claire], kind="fiche", title="Brouillon de fiche",
                                   source="À *finir*", state="draft", data={"pitch": "Plus tard"})
        jardin = await actions.publish_item(
            session, brest.url, [alice], kind="fiche", title="Jardin partagé", source="Un jardin.",
            summary="Cultiver ensemble", tags=["Jardinage"], licence="CC0-1.0",
            data={"territory": {"place": "Quimper"}, "steps": ["Trouver un terrain", "Planter"]})
        await session.commit()
        await actions.edit_item(session, brest.url, jardin, editor=claire, title="Le jardin partagé de Kerfeunteun",
                                data={"sections": {"successes": "Les récoltes partagées."}})
        await session.commit()
    await brest.publish("alice", "Un article", "Du **texte**.", summary="En bref", tags=["Numérique"])
    await brest.withdraw(await brest.publish("claire", "Retiré", "Ceci fut retiré."))

    media_id = new_ulid()
    stored = Path(brest.directory) / "media" / media_id[:2] / media_id
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"\x89PNG fake image")
    async with brest.sessions() as session:
        session.add(Media(id=media_id, owner_id=alice.id, object_id=papi.id, kind="image", filename="../photo.png",
                          content_type="image/png", size=15, sha256="0" * 64, alt="Un atelier"))
        await session.commit()
    return brest, media_id


async def items_of(node) -> dict[str, dict]:
    """Every local item by its original id (imported_from, or its own id), with what must survive."""
    result = {}
    async with node.sessions() as session:
        for item in await session.scalars(select(StoredObject).where(StoredObject.is_local.is_(True))
                                          .order_by(StoredObject.id)):
            history = await revisions.history(session, item)
            key = (item.extra or {}).get("imported_from", item.uri)
            assert key not in result, f"{key} twice"
            result[key] = {
                **{column: getattr(item, column) for column in COMPARED},
                "uri": item.uri, "withdrawn": item.deleted_at is not None, "private": item.private_fields,
                "authors": [uri.rsplit("/users/", 1)[1] for uri in await content.authors_of(session, item)],
                "revisions": [(r.number, r.editor_uri.rsplit("/users/", 1)[1], r.created_at, r.snapshot)
                              for r in reversed(history)],
            }
    return result


async def outgoing_count(node) -> int:
    async with node.sessions() as session:
        return await session.scalar(select(func.count()).select_from(OutgoingActivity))


async def fresh_island(make_island, name: str, *usernames: str):
    node = await make_island(name, workers=False)
    for username in usernames:
        await node.add_user(username)
    return node


def assert_identical(imported: dict, original: dict, *, private: bool) -> None:
    expected = {uri: item for uri, item in original.items() if not item["withdrawn"]}
    assert set(imported) == set(expected)
    for uri, item in expected.items():
        copy = imported[uri]
        assert copy["uri"] != uri  # ids belong to their island
        for column in (*COMPARED, "authors", "revisions"):
            assert copy[column] == item[column], (uri, column)
        assert copy["private"] == (item["private"] if private else {})


async def test_export_in_both_formats_and_import_into_fresh_islands(make_island, tmp_path):
    brest, media_id = await populated_island(make_island)
    original = await items_of(brest)
    assert len(original) == 6
    jardin = next(item for item in original.values() if item["name"].startswith("Le jardin"))
    assert len(jardin["revisions"]) == 2 and jardin["revisions"][1][1] == "claire"

    for fmt in ("jsonld", "markdown"):
        out = tmp_path / f"export-{fmt}"
        printed = cli("export", brest.directory, out, "--format", fmt).stdout
        assert "6 item(s)" in printed and "1 withdrawn" in printed
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["format"] == fmt and manifest["format_version"] == 1
        assert manifest["island"] == {"name": brest.name, "url": brest.url, "handle": brest.settings.handle}
        assert manifest["software"]["name"] == "archipel" and manifest["exported_at"]
        assert manifest["counts"] == {"items": 6, "fiche": 3, "resource": 1, "article": 2, "drafts": 1,
                                      "withdrawn": 1, "revisions": 5, "media": 1}
        [media] = manifest["media"]
        assert media["file"] == f"media/{media_id}-photo.png" and media["alt"] == "Un atelier"
        assert (out / media["file"]).read_bytes() == b"\x89PNG fake image"
        everything = "".join(p.read_text() for p in out.rglob("*") if p.is_file() and p.suffix in (".json", ".md"))
        assert CONTACT not in everything

        target = await fresh_island(make_island, f"cible-{fmt}", "alice", "claire")
        printed = cli("import", target.directory, out).stdout
        assert "imported 5 item(s)" in printed and "nothing was federated" in printed
        assert "withdrawn on its island, not imported" in printed
        imported = await items_of(target)
        assert_identical(imported, original, private=False)
        for uri, item in imported.items():
            assert f"{uri} -> {item['uri']}" in printed  # the mapping of ids
        assert await outgoing_count(target) == 0

        again = cli("import", target.directory, out).stdout
        assert "imported 0 item(s)" in again and "5 already imported" in again
        assert await items_of(target) == imported


async def test_jsonld_items_are_the_documents_as_served(make_island, tmp_path):
    brest, _ = await populated_island(make_island)
    out = tmp_path / "export"
    cli("export", brest.directory, out)
    manifest = json.loads((out / "manifest.json").read_text())
    async with brest.sessions() as session:
        for entry in manifest["items"]:
            item = await content.find_object(session, entry["id"])
            assert entry["file"] == f"items/{item.uri.rsplit('/', 1)[1]}.json"
            written = json.loads((out / entry["file"]).read_text())
            if item.deleted_at is not None:
                assert written == documents.tombstone(item) and "revisions" not in entry
                continue
            served = documents.object_document(item, brest.url, authors=await content.authors_of(session, item))
            if item.kind == "article":  # the export's details say more than the served ones
                details = written.pop("details")
                assert details["summary"] == item.summary
                assert details.items() >= served.pop("details").items()
            assert written == served
            history = json.loads((out / entry["revisions"]).read_text())
            assert [r["number"] for r in history] == list(range(1, len(history) + 1))
            assert all({"number", "editor", "date", "snapshot"} <= set(r) for r in history)


async def test_private_contacts_leave_only_when_asked(make_island, tmp_path):
    brest, _ = await populated_island(make_island)
    for fmt in ("markdown", "jsonld"):
        out = tmp_path / f"private-{fmt}"
        cli("export", brest.directory, out, "--format", fmt, "--include-private")
        assert CONTACT in "".join(p.read_text() for p in out.rglob("*") if p.suffix in (".json", ".md"))
        target = await fresh_island(make_island, f"prive-{fmt}", "alice", "claire")
        cli("import", target.directory, out)
        assert_identical(await items_of(target), await items_of(brest), private=True)


async def test_missing_users_need_as_and_map_to_it(make_island, tmp_path):
    brest, _ = await populated_island(make_island)
    out = tmp_path / "export"
    cli("export", brest.directory, out, "--format", "markdown")
    target = await fresh_island(make_island, "cible", "dora")
    refused = cli("import", target.directory, out, check=False)
    assert refused.returncode == 1 and "alice, claire" in refused.stderr and "--as" in refused.stderr
    assert await items_of(target) == {}
    cli("import", target.directory, out, "--as", "dora")
    imported = await items_of(target)
    assert len(imported) == 5
    assert all(item["authors"] == ["dora"] for item in imported.values())
    assert all(editor == "dora" for item in imported.values() for _, editor, _, _ in item["revisions"])


async def test_a_corrupted_file_is_named_and_nothing_is_half_imported(make_island, tmp_path):
    brest, _ = await populated_island(make_island)
    target = await fresh_island(make_island, "cible", "alice", "claire")

    jsonld = tmp_path / "jsonld"
    cli("export", brest.directory, jsonld)
    broken = jsonld / json.loads((jsonld / "manifest.json").read_text())["items"][2]["file"]
    broken.write_text(broken.read_text()[:200])
    result = cli("import", target.directory, jsonld, check=False)
    assert result.returncode == 1 and str(broken) in result.stderr and "not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr

    # Valid Markdown whose fields are not: it fails after the items before it were written.
    markdown = tmp_path / "markdown"
    cli("export", brest.directory, markdown, "--format", "markdown")
    entries = [e for e in json.loads((markdown / "manifest.json").read_text())["items"] if "file" in e]
    jardin = markdown / next(e["file"] for e in entries if e["title"].startswith("Le jardin"))
    assert entries.index(next(e for e in entries if e["title"].startswith("Le jardin"))) >= 3
    jardin.write_text(jardin.read_text().replace("latitude: null", "latitude: 500")
                      .replace("longitude: null", "longitude: 0"))
    result = cli("import", target.directory, markdown, check=False)
    assert result.returncode == 1 and str(jardin) in result.stderr and "latitude" in result.stderr
    assert await items_of(target) == {}

    shutil.rmtree(markdown / "items")
    assert "file not found" in cli("import", target.directory, markdown, check=False).stderr
    assert "manifest.json not found" in cli("import", target.directory, tmp_path, check=False).stderr
    assert await items_of(target) == {}


def test_export_refuses_a_folder_in_use_and_commands_have_help(tmp_path):
    island = tmp_path / "ile"
    cli("init", island, "--url", "http://127.0.0.1:9", "--name", "Île")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("à garder")
    assert "not empty" in cli("export", island, tmp_path / "used", check=False).stderr
    assert "0 item(s)" in cli("export", island, tmp_path / "empty").stdout
    assert cli("export", "--help").stdout.startswith("usage: archipel")
    help_text = " ".join(cli("import", "--help").stdout.split())
    assert help_text.startswith("usage: archipel") and "Nothing is federated" in help_text
