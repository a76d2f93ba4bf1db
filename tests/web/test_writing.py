"""Writing that never loses work, over real HTTP on a real island: files chosen before a preview
are kept and carried by id; drafts saved while writing, restored when the form opens, bounded,
removed when the item is saved."""

from __future__ import annotations

import re

from sqlalchemy import select

from archipel import drafts, revisions
from archipel.storage.tables import Draft, Media
from tests.web.test_authoring import FICHE_FORM, edit_path, outgoing, stored, visitors  # noqa: F401
from tests.web.test_item_media import item_at, media_rows, post_files
from tests.web.test_media import jpeg_with_gps, pdf

FORM = {**FICHE_FORM, "coauthors": ""}


async def saved_drafts(island) -> list[Draft]:
    async with island.sessions() as session:
        return list(await session.scalars(select(Draft).order_by(Draft.id)))


# ---- the preview keeps the chosen files ---------------------------------------------------------

async def test_the_preview_keeps_the_chosen_cover_and_files_until_the_item_is_saved(island, visitors):
    alice = await visitors("alice")
    form = {**FORM, "cover_alt": "Un atelier", "action": "preview"}
    status, page, _ = await post_files(alice, "/espace/nouveau?kind=fiche", form,
                                       [("cover_file", "atelier.jpg", jpeg_with_gps()),
                                        ("attachment_files", "guide.pdf", pdf(2000))])
    assert status == 200
    rows = {row.filename: row for row in await media_rows(island)}
    assert set(rows) == {"atelier.jpg", "guide.pdf"} and all(row.object_id is None for row in rows.values())
    cover, guide = rows["atelier.jpg"], rows["guide.pdf"]
    # Carried by id in the form, ticked; shown in the preview with the themes.
    assert f'name="pending_cover" value="{cover.id}" checked' in page
    assert f'name="pending_attachment" value="{guide.id}" checked' in page
    preview = re.search(r'<div id="preview"[^>]*>(.*?)</div>\s*</section>', page, re.DOTALL).group(1)
    assert f'src="{island.url}/media/{cover.id}/atelier.jpg" alt="Un atelier"' in preview
    assert "guide.pdf" in preview and '<span class="tag">Médiation numérique</span>' in preview

    # Saved with the ids only (no file sent again): the item has its cover and its file.
    form = {**FORM, "cover_alt": "Un atelier", "action": "publish", "pending_cover": cover.id,
            "pending_attachment": guide.id}
    status, page, location = await post_files(alice, "/espace/nouveau?kind=fiche", form)
    assert status == 303, page
    item = await item_at(island, f"{island.url}/o/{location.split('/')[3]}")
    assert item.cover == {"url": f"{island.url}/media/{cover.id}/atelier.jpg", "name": "Un atelier",
                          "mediaType": "image/jpeg"}
    assert [entry["name"] for entry in item.fields["files"]] == ["guide.pdf"]
    assert {row.object_id for row in await media_rows(island)} == {item.id}


async def test_the_live_preview_shows_the_chosen_files_and_unticked_ones_go(island, visitors):
    alice = await visitors("alice")
    status, _, _ = await post_files(alice, "/espace/nouveau?kind=fiche", {**FORM, "action": "preview"},
                                    [("attachment_files", "a.pdf", pdf(900)), ("attachment_files", "b.pdf", pdf(900))])
    assert status == 200
    a, b = await media_rows(island)
    status, fragment, _ = await alice.post("/espace/apercu", {**FORM, "kind": "fiche", "pending_attachment": a.id},
                                           csrf=False, **{"X-CSRF-Token": alice.csrf})
    assert status == 200 and "a.pdf" in fragment and "b.pdf" not in fragment  # b was unticked
    status, page, location = await post_files(alice, "/espace/nouveau?kind=fiche",
                                              {**FORM, "action": "draft", "pending_attachment": a.id})
    assert status == 303
    item = await item_at(island, f"{island.url}/o/{location.split('/')[3]}")
    assert [entry["name"] for entry in item.fields["files"]] == ["a.pdf"]


async def test_nobody_uses_someone_elses_pending_file(island, visitors):
    alice, bob = await visitors("alice"), await visitors("bob")
    await post_files(alice, "/espace/nouveau?kind=fiche", {**FORM, "action": "preview"},
                     [("attachment_files", "a.pdf", pdf(900))])
    [mine] = await media_rows(island)
    status, page, location = await post_files(bob, "/espace/nouveau?kind=fiche",
                                              {**FORM, "action": "publish", "pending_attachment": mine.id})
    assert status == 303
    item = await item_at(island, f"{island.url}/o/{location.split('/')[3]}")
    assert item.fields["files"] == []
    async with island.sessions() as session:
        assert (await session.get(Media, mine.id)).object_id is None  # still alice's, still waiting


# ---- drafts saved while writing ----------------------------------------------------------------

async def autosave(visitor, fields: dict, *, csrf: bool = True):
    headers = {"X-CSRF-Token": visitor.csrf} if csrf else {}
    return await visitor.post("/espace/brouillon", fields, csrf=False, **headers)


async def test_a_draft_is_saved_restored_on_another_device_and_removed_with_the_save(island, visitors):
    alice = await visitors("alice")
    fields = {**FORM, "kind": "fiche", "draft_key": "new-fiche", "title": "Une idée <en cours>",
              "section-goals": "Ne rien perdre."}
    status, _, _ = await autosave(alice, fields)
    assert status == 204
    [draft] = await saved_drafts(island)
    assert draft.key == "new-fiche" and draft.fields["title"] == ["Une idée <en cours>"]
    assert "draft_key" not in draft.fields and "csrf_token" not in draft.fields

    other_device = await visitors("alice")
    status, page, _ = await other_device.get("/espace/nouveau?kind=fiche")
    assert status == 200
    assert 'value="Une idée &lt;en cours&gt;"' in page and "Ne rien perdre." in page
    assert "Voici le brouillon enregistré automatiquement" in page
    assert "Une idée" not in (await other_device.get("/espace/nouveau?kind=resource"))[1]  # one per form
    bob = await visitors("bob")
    assert "Une idée" not in (await bob.get("/espace/nouveau?kind=fiche"))[1]  # one's own only

    status, _, _ = await autosave(alice, {**fields, "title": "Une idée mûre"})  # the latest wins
    assert status == 204 and [d.fields["title"] for d in await saved_drafts(island)] == [["Une idée mûre"]]
    status, _, location = await alice.post("/espace/nouveau?kind=fiche", {**FORM, "title": "Une idée mûre",
                                                                          "action": "draft"})
    assert status == 303 and await saved_drafts(island) == []


async def test_an_edit_draft_is_restored_and_can_be_abandoned(island, visitors):
    alice, bob = await visitors("alice"), await visitors("bob")
    uri = await alice.create("fiche", FORM)
    ulid = uri.rsplit("/", 1)[-1]
    status, _, _ = await autosave(alice, {**FORM, "kind": "fiche", "draft_key": ulid, "title": "Titre en cours"})
    assert status == 204
    assert 'value="Titre en cours"' in (await alice.get(edit_path(uri)))[1]
    # Only for an item one may edit.
    assert (await autosave(bob, {**FORM, "draft_key": ulid}))[0] == 404
    status, _, location = await alice.post("/espace/brouillon/abandonner", {"draft_key": ulid})
    assert status == 303 and location == edit_path(uri)
    page = (await alice.get(edit_path(uri)))[1]
    assert 'value="Titre en cours"' not in page and await saved_drafts(island) == []


async def test_drafts_are_bounded_and_need_the_csrf_token(island, visitors):
    alice = await visitors("alice")
    assert (await autosave(alice, {"draft_key": "new-fiche", "title": "x"}, csrf=False))[0] == 403
    assert (await autosave(alice, {"draft_key": "../etc", "title": "x"}))[0] == 400
    assert (await autosave(alice, {"draft_key": "new-fiche", "source": "x" * (drafts.MAX_BYTES + 10)}))[0] == 413
    many = {f"f{number}": "x" for number in range(drafts.MAX_FIELDS + 1)}
    assert (await autosave(alice, {"draft_key": "new-fiche", **many}))[0] == 413
    assert await saved_drafts(island) == []
    anonymous = await visitors()
    status, _, _ = await anonymous.post("/espace/brouillon", {"draft_key": "new-fiche"}, csrf=False)
    assert status in (302, 303, 401, 403)


# ---- history: restore an earlier version, word diffs --------------------------------------------

async def test_restoring_an_earlier_version_makes_a_new_revision(island, visitors):
    alice, bob = await visitors("alice"), await visitors("bob")
    uri = await alice.create("fiche", FORM)
    status, _, _ = await alice.edit(uri, {"title": "Les PAPI de Brest", "section-goals": "Autre chose.",
                                          "pitch": ""})
    assert status == 303
    ulid = uri.rsplit("/", 1)[-1]
    assert (await bob.post(f"/o/{ulid}/historique/1/restaurer", {}))[0] == 403  # not an author
    assert (await alice.post(f"/o/{ulid}/historique/1/restaurer", {}, csrf=False))[0] == 403
    assert (await alice.post(f"/o/{ulid}/historique/7/restaurer", {}))[0] == 404

    status, _, location = await alice.post(f"/o/{ulid}/historique/1/restaurer", {})
    assert status == 303 and location == f"/o/{ulid}/historique?done=restored"
    item, _, history = await stored(island, uri)
    assert [revision.number for revision in history] == [3, 2, 1]
    assert item.name == FORM["title"] and item.fields["pitch"] == FORM["pitch"]
    assert item.fields["sections"]["goals"] == FICHE_FORM["section-goals"]
    assert history[0].snapshot["title"] == history[2].snapshot["title"]
    assert item.private_fields == {"contacts": [{"holder": 0, "contact": "papi@brest.example"}]}  # kept
    assert [o.activity_type for o in await outgoing(island, uri)] == ["Create", "Update", "Update"]
    status, page, _ = await alice.get(location)
    assert "Version restaurée" in page and "Restaurer la version 2" in page and "Restaurer la version 3" not in page
    assert "Restaurer" not in (await (await visitors()).get(f"/o/{ulid}/historique"))[1]  # readers only read


def test_the_word_diff_marks_the_words_that_changed_not_the_line():
    old = {"title": "Un café réparation", "source": "Première ligne.\nOn répare le samedi matin.\nFin."}
    new = {"title": "Un café réparation", "source": "Première ligne.\nOn répare le dimanche matin, ensemble.\nFin."}
    [change] = revisions.word_diff(old, new)
    assert change.label == "Texte"
    assert [line.op for line in change.lines] == [" ", "~", " "]
    assert change.lines[1].segments == ((" ", "On répare le "), ("-", "samedi"), ("+", "dimanche"), (" ", " matin"),
                                        ("+", ", ensemble"), (" ", "."))
    # A line only on one side stays whole.
    [change] = revisions.word_diff(old, {**old, "source": old["source"] + "\nUne ligne de plus."})
    assert change.lines[-1] == revisions.WordLine("+", (("+", "Une ligne de plus."),))


# ---- a reuse has a title of its own ---------------------------------------------------------------

def test_an_adapted_title_is_its_own_and_fits():
    from archipel.reuse import MAX_TITLE, adapted_title
    assert adapted_title("Repair café", "fr", "Île de Brest") == "Repair café — adaptation pour Île de Brest"
    assert adapted_title("Repair café", "en", "Brest") == "Repair café — adapted for Brest"
    # A reuse of a reuse: one suffix, the newest.
    assert adapted_title("Repair café — adaptation pour Île de Brest", "fr", "Île de Nantes") == \
        "Repair café — adaptation pour Île de Nantes"
    long = adapted_title("x" * 300, "fr", "Île de Brest")
    assert len(long) == MAX_TITLE and long.endswith("x… — adaptation pour Île de Brest")
