"""Fiches and resources: written here, federated losslessly, edited with revisions, withdrawn."""

from pathlib import Path

import aiohttp

from archipel import accounts, content, revisions
from archipel.fiches import fields_for
from archipel.markdown_items import read_item, write_item
from archipel.social import find_follow
from federation import actions, documents
from tests.nodes import wait_for

FICHES = Path(__file__).parent.parent / "data" / "fiches"
PUBLIC_COLUMNS = ("name", "summary", "source", "tags", "language", "licence", "kind", "state", "fields",
                  "place", "region", "latitude", "longitude", "content", "based_on", "cover")


async def publish_file(node, name: str, *usernames: str) -> str:
    fields = read_item((FICHES / name).read_text())
    fields.pop("authors")
    async with node.sessions() as session:
        authors = [await accounts.get_actor(session, username) for username in usernames]
        item = await actions.publish_item(session, node.url, authors, **fields)
        await session.commit()
    node.wake()
    return item.uri


async def two_islands(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    for username in ("alice", "claire"):
        await brest.add_user(username)
    await nantes.add_user("bob")
    await nantes.follow("bob", brest.actor_uri("alice"))

    async def accepted():
        async with nantes.sessions() as session:
            follow = await find_follow(session, nantes.actor_uri("bob"), brest.actor_uri("alice"))
            return follow is not None and follow.state == "accepted"

    await wait_for(accepted, message="bob follows alice")
    return brest, nantes


async def snapshot_of(node, uri):
    async with node.sessions() as session:
        item = await content.find_object(session, uri)
        if item is None:
            return None
        return ({column: getattr(item, column) for column in PUBLIC_COLUMNS},
                await content.authors_of(session, item), item)


async def test_a_fiche_arrives_identical_on_every_public_field(make_island):
    brest, nantes = await two_islands(make_island)
    uri = await publish_file(brest, "papi-brest.md", "alice", "claire")
    original, original_authors, item = await snapshot_of(brest, uri)
    assert item.private_fields == {"contacts": [{"holder": 0, "contact": "papi@brest.example"}]}

    await wait_for(lambda: snapshot_of(nantes, uri), message="the fiche on nantes")
    replica, replica_authors, replica_item = await snapshot_of(nantes, uri)
    for column in PUBLIC_COLUMNS:
        assert replica[column] == original[column], column
    assert replica_authors == original_authors == [brest.actor_uri("alice"), brest.actor_uri("claire")]
    assert replica_item.is_local is False
    assert replica_item.private_fields == {}
    assert len(original["fields"]["steps"]) == 3 and len(original["fields"]["sections"]) == 7


async def test_articles_and_resources_with_a_cover_arrive_identical_although_servers_get_a_card(make_island):
    brest, nantes = await two_islands(make_island)
    cover = {"url": f"{brest.url}/media/01JB0000000000000000000000/velo.png", "name": "Un vélo retourné",
             "mediaType": "image/png"}
    uris = [await brest.publish("alice", "Réparer son vélo", "## Outils\n\nUne **clé** de 15 & du courage.",
                                kind=kind, summary="Un atelier d'entraide", tags=["Mobilité"], cover=cover,
                                data={"duration": "2 h"} if kind == "resource" else None)
            for kind in ("article", "resource")]
    for uri in uris:
        await wait_for(lambda: snapshot_of(nantes, uri), message="the item on nantes")
        replica, _, _ = await snapshot_of(nantes, uri)
        original, _, _ = await snapshot_of(brest, uri)
        for column in PUBLIC_COLUMNS:
            assert replica[column] == original[column], column
        assert "<h2>Outils</h2>" in replica["content"]  # the whole text, not the card other servers get


async def test_a_fiches_files_are_listed_on_other_islands_with_links_to_their_origin(make_island):
    brest, nantes = await two_islands(make_island)
    files = [{"url": f"{brest.url}/media/01JB0000000000000000000000/guide.pdf", "name": "guide.pdf",
              "mediaType": "application/pdf", "size": 3000}]
    uri = await brest.publish("alice", "Un atelier vélo", kind="fiche",
                              data={"pitch": "Réparer ensemble.", "files": files})
    await wait_for(lambda: snapshot_of(nantes, uri), message="the fiche on nantes")
    replica, _, item = await snapshot_of(nantes, uri)
    assert replica["fields"]["files"] == files
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{nantes.url}/r/{item.id}") as response:
            page = await response.text()
    assert response.status == 200
    assert f'<a href="{files[0]["url"]}">guide.pdf</a>' in page and "Document PDF" in page


async def test_contacts_never_leave_the_island(make_island):
    brest = await make_island("brest")
    await brest.add_user("alice")
    uri = await publish_file(brest, "papi-brest.md", "alice")
    async with brest.sessions() as session:
        item = await content.find_object(session, uri)
        document = documents.object_document(item, brest.url, authors=await content.authors_of(session, item))
    assert "papi@brest.example" not in str(document)
    assert "papi@brest.example" not in item.content


async def test_what_other_servers_are_sent_of_a_fiche(make_island):
    brest = await make_island("brest")
    await brest.add_user("alice")
    uri = await publish_file(brest, "papi-brest.md", "alice")
    async with brest.sessions() as session:
        item = await content.find_object(session, uri)
        document = documents.object_document(item, brest.url)
    assert document["type"] == "Article" and document["nameMap"]["fr"].startswith("Les Points d'Accès")
    assert "name" not in document  # GoToSocial would take it for a content warning
    assert "summary" not in document and document["sensitive"] is False  # a summary is a content warning
    card = document["content"]
    assert card.startswith("<p><strong>Les Points d'Accès Public à Internet de Brest</strong></p>")
    assert "Brest, Bretagne" in card and "#MediationNumerique" in card and "Un réseau de 105 lieux" in card
    assert card.endswith(f'<p><a href="{uri}">{uri}</a></p>') and "<h2>" not in card
    assert document["url"] == uri and "attachment" not in document  # no cover, no attachment
    assert document["license"] == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert document["spatialCoverage"] == {"type": "Place", "name": "Brest, Bretagne",
                                           "latitude": 48.3904, "longitude": -4.4861}
    assert "Mode d'emploi" in document["details"]["source"] + str(document["details"]["fields"]) or \
        document["details"]["fields"]["steps"]  # the whole fiche travels in `details`


async def test_an_edit_arrives_as_a_new_revision_and_a_withdrawal_removes_it(make_island):
    brest, nantes = await two_islands(make_island)
    uri = await publish_file(brest, "papi-brest.md", "alice")
    await wait_for(lambda: snapshot_of(nantes, uri), message="the fiche on nantes")
    async with brest.sessions() as session:
        item = await content.find_object(session, uri)
        alice = await accounts.get_actor(session, "alice")
        sections = dict(item.fields["sections"], successes="Le réseau des animateurs, et les fêtes annuelles.")
        await actions.edit_item(session, brest.url, item, editor=alice, data={"sections": sections},
                                title="Les 105 PAPI de Brest")
        await session.commit()
    brest.wake()

    async def edited():
        snapshot = await snapshot_of(nantes, uri)
        return snapshot and snapshot[0]["name"] == "Les 105 PAPI de Brest" and snapshot

    replica, _, replica_item = await wait_for(edited, message="the edit on nantes")
    original, _, _ = await snapshot_of(brest, uri)
    assert replica == original
    async with nantes.sessions() as session:
        history = await revisions.history(session, replica_item)
    assert [r.number for r in history] == [2, 1]
    changes = {change.label: change.lines for change in revisions.diff(history[1].snapshot, history[0].snapshot)}
    assert set(changes) == {"Titre", "Ce qui a marché"}
    assert ("+", "Les 105 PAPI de Brest") in changes["Titre"]

    await brest.withdraw(uri)

    async def withdrawn():
        snapshot = await snapshot_of(nantes, uri)
        return snapshot[2].deleted_at is not None

    await wait_for(withdrawn, message="the withdrawal on nantes")


async def test_a_training_resource_arrives_identical(make_island):
    brest, nantes = await two_islands(make_island)
    uri = await publish_file(brest, "atelier-wiki.md", "alice")
    original, authors, _ = await snapshot_of(brest, uri)
    assert original["kind"] == "resource" and original["fields"]["format"] == "atelier"
    await wait_for(lambda: snapshot_of(nantes, uri), message="the resource on nantes")
    replica, replica_authors, _ = await snapshot_of(nantes, uri)
    assert replica == original and replica_authors == authors


async def test_markdown_export_reads_back_to_the_same_item(make_island):
    brest = await make_island("brest")
    await brest.add_user("alice")
    for name in ("papi-brest.md", "atelier-wiki.md"):
        uri = await publish_file(brest, name, "alice")
        _, authors, item = await snapshot_of(brest, uri)
        again = read_item(write_item(item, ["alice"], private=True))
        assert again["authors"] == ["alice"]
        assert (again["kind"], again["title"], again["source"], again["summary"], again["tags"],
                again["licence"]) == (item.kind, item.name, item.source, item.summary, item.tags, item.licence)
        fields, private = fields_for(item.kind, again["data"])
        assert fields == item.fields and private == item.private_fields


async def test_drafts_are_neither_federated_nor_public(make_island):
    brest, nantes = await two_islands(make_island)
    deliveries_before = len(await brest.deliveries())
    async with brest.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        draft = await actions.publish_item(session, brest.url, [alice], kind="fiche", title="Brouillon",
                                           source="À finir", state="draft")
        await session.commit()
    assert len(await brest.deliveries()) == deliveries_before
    async with aiohttp.ClientSession() as http:
        async with http.get(draft.uri, headers={"Accept": "application/activity+json"}) as response:
            assert response.status == 404
    async with brest.sessions() as session:
        item = await content.find_object(session, draft.uri)
        await actions.edit_item(session, brest.url, item, editor=alice, state="published")
        await session.commit()
    brest.wake()
    await wait_for(lambda: snapshot_of(nantes, draft.uri), message="the published draft on nantes")


def remote_fiche(remote, follower_island, details: dict, n: int) -> dict:
    note_id = f"{remote.url}/fiches/{n}"
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", documents.OBJECT_CONTEXT[1]],
        "id": f"{note_id}/create", "type": "Create", "actor": remote.actor_uri("rosa"),
        "to": [follower_island.actor_uri("alice")],
        "object": {"id": note_id, "type": "Article", "attributedTo": remote.actor_uri("rosa"),
                   "name": f"Fiche {n}", "content": "<p>ignored for fiches</p>",
                   "to": [follower_island.actor_uri("alice")], "itemKind": "fiche", "details": details},
    }


async def test_a_received_fiche_is_checked_and_rendered_here(island, remote):
    hostile = {"summary": "ok", "source": "<script>alert(1)</script> **texte**", "state": "published",
               "fields": {"sections": {"genesis": "<img src=x onerror=alert(2)> genèse"},
                          "steps": ["[clic](javascript:alert(3))"]}}
    status, _ = await remote.post(f"{island.url}/inbox", remote_fiche(remote, island, hostile, 1))
    assert status == 202
    stored = await wait_for(lambda: island.object(f"{remote.url}/fiches/1"), message="the fiche")
    assert stored.kind == "fiche" and "<strong>texte</strong>" in stored.content
    assert "<script" not in stored.content and "<img" not in stored.content  # shown as text, escaped
    assert 'href="javascript' not in stored.content
    assert "ignored for fiches" not in stored.content  # our HTML comes from the fields, not theirs

    invalid = {"fields": {"territory": {"place": "Nulle part", "latitude": 500, "longitude": 0}}}
    status, _ = await remote.post(f"{island.url}/inbox", remote_fiche(remote, island, invalid, 2))
    assert status == 202

    async def settled():
        rows = [r for r in await island.incoming() if r.activity_uri == f"{remote.url}/fiches/2/create"]
        return rows and rows[0].state != "received" and rows[0]

    row = await wait_for(settled, message="the invalid fiche to be settled")
    assert row.state == "ignored" and "latitude" in row.last_error
    assert await island.object(f"{remote.url}/fiches/2") is None
