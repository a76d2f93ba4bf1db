"""The `replies` of what we serve is embedded with its first page (GoToSocial loads replies only
from such a collection; Mastodon reads the first page and follows `next`), and the standalone
collection still answers with the same collection and its pages."""

from __future__ import annotations

from datetime import timedelta

import aiohttp

from archipel import accounts, content
from archipel.storage.tables import StoredObject, utcnow
from federation import documents
from federation import replies as replies_module

AS2 = {"Accept": "application/activity+json"}


async def get_as2(url: str) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=AS2) as response:
            assert response.status == 200, url
            assert response.content_type == "application/activity+json"
            return await response.json(content_type=None)


async def add_replies(node, root_uri: str, count: int, author: str = "https://remote.example/users/rosa") -> list[str]:
    uris, start = [], utcnow() - timedelta(days=1)
    async with node.sessions() as session:
        for n in range(count):
            uri = f"{author}/statuses/{root_uri.rsplit('/', 1)[1]}-{n}"
            session.add(StoredObject(uri=uri, url=uri, is_local=False, type="Note", kind="note", author_uri=author,
                                     in_reply_to=root_uri, content=f"<p>Réponse {n}</p>",
                                     published=start + timedelta(seconds=n)))
            uris.append(uri)
        await session.commit()
    return uris


def assert_embedded(document: dict, uri: str, total: int, first_items: list[str], *, more: bool) -> dict:
    replies = document["replies"]
    assert isinstance(replies, dict), "a bare link: GoToSocial would load no replies"
    assert replies["id"] == f"{uri}/replies" and replies["type"] == "OrderedCollection"
    assert replies["totalItems"] == total
    first = replies["first"]
    assert isinstance(first, dict) and first["type"] == "OrderedCollectionPage"
    assert first["partOf"] == replies["id"] and first["id"].startswith(f"{uri}/replies?")
    assert first["orderedItems"] == first_items
    assert ("next" in first) is more
    return first


async def test_objects_embed_their_replies_with_the_first_page(make_island):
    island = await make_island("lorient")
    await island.add_user("alice")
    fiche = await island.publish("alice", "Jardin partagé", kind="fiche", data={"pitch": "Cultiver ensemble"})
    article = await island.publish("alice", "Un billet")
    quiet = await island.publish("alice", "Sans réponse", kind="resource")

    replies = await add_replies(island, fiche, 23)
    async with island.sessions() as session:  # hidden by a moderator, withdrawn, or not public: not listed
        for n, change in enumerate(("hidden_at", "deleted_at", "public")):
            item = await content.find_object(session, replies[n])
            setattr(item, change, False if change == "public" else utcnow())
        await session.commit()
    listed = replies[3:][::-1]  # newest first
    document = await get_as2(fiche)
    first = assert_embedded(document, fiche, 20, listed[:20], more=False)
    assert first["id"] == f"{fiche}/replies?page=1"

    more = await add_replies(island, article, 25)
    document = await get_as2(article)
    first = assert_embedded(document, article, 25, more[::-1][:20], more=True)
    page = await get_as2(first["next"])
    assert page["orderedItems"] == more[::-1][20:] and "next" not in page
    assert page["partOf"] == f"{article}/replies"

    standalone = await get_as2(f"{article}/replies")  # the same collection, first page embedded
    assert {k: v for k, v in standalone.items() if k != "@context"} == document["replies"]
    assert (await get_as2(f"{article}/replies?page=1"))["orderedItems"] == more[::-1][:20]

    assert_embedded(await get_as2(quiet), quiet, 0, [], more=False)


async def test_a_local_reply_embeds_its_replies_too(make_island):
    island = await make_island("vannes")
    await island.add_user("alice")
    fiche = await island.publish("alice", "Jardin partagé", kind="fiche", data={"pitch": "Cultiver ensemble"})
    async with island.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        parent = await content.find_object(session, fiche)
        reply = await replies_module.reply(session, island.url, alice, parent, "Merci !")
        await session.commit()
    answers = await add_replies(island, reply.uri, 2)
    document = await get_as2(reply.uri)
    assert document["type"] == "Note" and "summary" not in document
    assert_embedded(document, reply.uri, 2, answers[::-1], more=False)


def test_an_activity_embeds_an_empty_first_page_leading_to_the_live_one():
    collection = documents.replies_collection("https://ile.example/o/1")
    assert collection["first"]["orderedItems"] == [] and "totalItems" not in collection
    assert collection["first"]["next"] == "https://ile.example/o/1/replies?page=1"
