"""Atom feeds of the island, its authors and its themes, read by an independent parser
(feedparser) and by a strict XML parser: what the pages list, newest first, nothing else."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from html import unescape

import aiohttp
import feedparser
from sqlalchemy import event

from archipel import accounts, content
from federation import actions
from web import appkeys, feeds, provision
from tests.nodes import island_follows, wait_for

ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = "Fiche <b>&amp; ]]> \x01\x08\x7f\ufffe fin"  # markup, an entity, a CDATA end, controls
WITHOUT_FORBIDDEN = "Fiche <b>&amp; ]]>  fin"  # what XML 1.0 can carry of it


async def get(url: str, **headers) -> tuple[int, dict, str]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers, allow_redirects=False) as response:
        return response.status, response.headers, await response.text()


async def feed(url: str, **headers) -> feedparser.FeedParserDict:
    """The feed at `url`, checked well-formed by a strict parser and by feedparser (no bozo)."""
    status, response_headers, text = await get(url, **headers)
    assert status == 200, (url, status, text)
    assert response_headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    ElementTree.fromstring(text.encode())  # raises on anything not well-formed
    parsed = feedparser.parse(text.encode())
    assert not parsed.bozo, parsed.bozo_exception
    return parsed


async def publish(node, usernames: list[str], **fields) -> str:
    async with node.sessions() as session:
        authors = [await accounts.get_actor(session, username) for username in usernames]
        item = await actions.publish_item(session, node.url, authors, **fields)
        await session.commit()
    node.wake()
    return item.uri


def fiche(title: str, **fields) -> dict:
    return {"kind": "fiche", "title": title, "source": "Le **texte** de la fiche.", "summary": "Résumé",
            "tags": ["Inclusion", "Médiation numérique"], "licence": "CC-BY-4.0",
            "data": {"pitch": f"En bref : {title}"}, **fields}


async def test_the_island_feed_lists_its_public_items_newest_first(island):
    await island.add_user("claire")
    first = await publish(island, ["alice", "claire"], **fiche("Les PAPI de Brest"))
    resource = await publish(island, ["alice"], kind="resource", title="Atelier wiki", source="Pas à pas",
                             tags=["Inclusion"], data={"duration": "2 h"})
    article = await island.publish("claire", "Un article", "Du *texte*.")
    await publish(island, ["alice"], **fiche("Brouillon secret", state="draft"))
    withdrawn = await publish(island, ["alice"], **fiche("Bientôt retirée"))

    parsed = await feed(f"{island.url}/flux.atom")
    assert [entry.id for entry in parsed.entries] == [withdrawn, article, resource, first]
    await island.withdraw(withdrawn)
    parsed = await feed(f"{island.url}/flux.atom")
    assert [entry.id for entry in parsed.entries] == [article, resource, first]

    assert parsed.feed.title == "Île brest : fiches d'innovation, ressources et articles"
    assert parsed.feed.id == f"{island.url}/flux.atom"
    links = {link.rel: link for link in parsed.feed.links}
    assert links["self"].href == f"{island.url}/flux.atom" and links["self"].type == "application/atom+xml"
    assert links["alternate"].href == f"{island.url}/" and links["alternate"].type == "text/html"
    assert parsed.feed.generator == "Archipel"

    entry = parsed.entries[2]
    async with island.sessions() as session:
        stored = await content.get_object(session, first)
    assert entry.title == "Les PAPI de Brest" and entry.link == first  # a local item's page is its id
    assert [author.name for author in entry.authors] == ["Alice", "Claire"]
    assert [author.href for author in entry.authors] == [f"{island.url}/@alice", f"{island.url}/@claire"]
    assert entry.summary == "En bref : Les PAPI de Brest"  # the pitch, as the page's description
    assert "<strong>texte</strong>" in entry.content[0].value and entry.content[0].type == "text/html"
    assert [(tag.term, tag.label) for tag in entry.tags] == [("inclusion", "Inclusion"),
                                                            ("mediationnumerique", "Médiation numérique")]
    assert entry.rights == "CC BY 4.0"
    assert entry.published == stored.published.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert parsed.feed.updated == parsed.entries[0].updated  # the newest change
    assert parsed.entries[0].get("rights") is None  # an article has no licence


async def test_an_author_feed_lists_what_they_wrote_or_co_wrote(island):
    await island.add_user("claire")
    both = await publish(island, ["alice", "claire"], **fiche("À deux"))
    await publish(island, ["alice"], **fiche("Seule"))
    parsed = await feed(f"{island.url}/@claire/flux.atom")
    assert [entry.id for entry in parsed.entries] == [both]
    assert parsed.feed.title == "Claire sur Île brest"
    assert {link.rel: link.href for link in parsed.feed.links}["alternate"] == f"{island.url}/@claire"
    assert len((await feed(f"{island.url}/@alice/flux.atom")).entries) == 2
    assert (await get(f"{island.url}/@nobody/flux.atom"))[0] == 404
    status, headers, _ = await get(f"{island.url}/@{island.island_username}/flux.atom")
    assert status == 302 and headers["Location"] == "/flux.atom"


async def test_a_feed_shows_the_50_newest_in_two_queries(make_island):
    island = await make_island("brest", workers=False)  # no worker queries while we count
    for name in ("alice", "claire"):
        await island.add_user(name)
    async with island.sessions() as session:
        people = [await accounts.get_actor(session, name) for name in ("alice", "claire")]
        uris = [(await actions.publish_item(session, island.url, people, **fiche(f"Fiche {n}"))).uri
                for n in range(52)]
        await session.commit()
    statements = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = island.app[appkeys.ENGINE].sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        parsed = await feed(f"{island.url}/flux.atom")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [entry.id for entry in parsed.entries] == uris[::-1][:50]
    assert all(len(entry.authors) == 2 for entry in parsed.entries)
    assert len(statements) == 2, statements  # the items, then every author's name at once


async def test_hostile_text_is_escaped_and_characters_xml_forbids_are_removed(make_island):
    node = await make_island("brest")
    await provision.add_user(node.sessions, username="zoe", password="x" * 12, display_name="Zoé </name> & \x02")
    uri = await publish(node, ["zoe"], **fiche(HOSTILE, summary=HOSTILE, tags=["<Inclusion>", "a&b"],
                                               source=f"{HOSTILE}\n\n<script>alert(1)</script> ]]>",
                                               data={"pitch": HOSTILE}))
    status, _, text = await get(f"{node.url}/flux.atom")
    assert "\x01" not in text and "]]>" not in text and "<b>" not in text
    parsed = await feed(f"{node.url}/flux.atom")
    [entry] = parsed.entries
    assert entry.id == uri
    assert entry.title == WITHOUT_FORBIDDEN and entry.summary == WITHOUT_FORBIDDEN
    assert entry.author == "Zoé </name> &"
    assert [tag.label for tag in entry.tags] == ["<Inclusion>", "a&b"]
    # The content is the page's sanitised HTML, carried as escaped text: no script survives.
    assert "<script" not in entry.content[0].value and "]]&gt;" in entry.content[0].value


async def test_pages_name_their_feed_in_the_reader_language(island):
    await publish(island, ["alice"], **fiche("Les PAPI de Brest"))
    pages = {f"{island.url}/": f"{island.url}/flux.atom",
             f"{island.url}/@alice": f"{island.url}/@alice/flux.atom",
             f"{island.url}/tags/Inclusion": f"{island.url}/tags/inclusion/flux.atom"}
    titles = {}
    for language, suffix in (("fr", ""), ("en", "?lang=en")):
        for page, href in pages.items():
            status, _, html = await get(page, **{"Accept-Language": language})
            links = re.findall(r'<link rel="alternate" type="application/atom\+xml" title="([^"]*)" href="([^"]*)">',
                               html)
            assert len(links) == 1, (page, links)
            [(title, link)] = links
            assert unescape(link) == href + suffix
            parsed = await feed(unescape(link))  # no Accept-Language: the link carries the language
            assert parsed.feed.title == unescape(title), (page, language)
            assert parsed.feed.language == language
            titles[language, page] = parsed.feed.title
    assert titles["en", f"{island.url}/"] == "Île brest: innovation sheets, training resources and articles"
    assert titles["en", f"{island.url}/@alice"] == "Alice on Île brest"
    assert titles["fr", f"{island.url}/tags/Inclusion"] == "Thème « Inclusion » dans l'archipel de l'Île brest"
    assert titles["en", f"{island.url}/tags/Inclusion"] == "Theme “Inclusion” in the archipelago of Île brest"
    english = await feed(f"{island.url}/flux.atom", **{"Accept-Language": "en-GB,en;q=0.9"})
    assert english.feed.title == titles["en", f"{island.url}/"]
    assert english.feed.id == f"{island.url}/flux.atom"  # one feed, whatever its language


async def test_a_theme_feed_shows_the_archipelago_with_the_replicas_local_pages(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    for name in ("alice", "claire"):
        await brest.add_user(name)
    await nantes.add_user("bob")
    await island_follows(nantes, brest)
    await nantes.follow("bob", brest.actor_uri("alice"))  # nantes knows alice's profile, not claire's
    theirs = await publish(brest, ["alice", "claire"], **fiche(f"{HOSTILE} de Brest"))
    ours = await publish(nantes, ["bob"], **fiche("Celle de Nantes", tags=["Inclusion"]))
    await publish(nantes, ["bob"], **fiche("Hors thème", tags=["Jardins"]))
    replica = await wait_for(lambda: brest_item_on(nantes, theirs), message="the fiche on nantes")

    parsed = await feed(f"{nantes.url}/tags/inclusion/flux.atom")
    assert [entry.id for entry in parsed.entries] == [ours, theirs]
    entry = parsed.entries[1]
    assert entry.link == f"{nantes.url}/r/{replica.id}"  # read here, even when brest is down
    # Names arrive as text without markup (replicas.object_fields); the controls came along.
    assert "\x01" in replica.name and entry.title == "Fiche & ]]>  fin de Brest"
    # Names, never ids: a profile fetched gives its name; an author not fetched yet, their handle
    # (nantes may fetch claire's profile on its own while the fiche arrives: seen once in three runs).
    alice, claire = [(author.name, author.href) for author in entry.authors]
    assert alice == ("Alice", f"{brest.url}/@alice")
    assert claire in [(f"@claire@{brest.url.split('//')[1]}", brest.actor_uri("claire")),
                      ("Claire", f"{brest.url}/@claire")]
    assert (await get(f"{nantes.url}/tags/!!/flux.atom"))[0] == 404  # no theme: not every item
    # The island's own feed keeps to the island's own items.
    assert [entry.id for entry in (await feed(f"{nantes.url}/flux.atom")).entries][-1] == ours


async def brest_item_on(node, uri: str):
    async with node.sessions() as session:
        return await content.find_object(session, uri)


def test_a_feed_link_keeps_its_query_and_its_id_is_the_same_in_every_language():
    """What a search or territory feed needs: its parameters in the URL, one id for all languages."""
    french = feeds.feed_link("https://ile.example/", "/recherche.atom", "Recherche", "fr",
                             {"q": "café & vélo", "lang": "en"})
    english = feeds.feed_link("https://ile.example", "/recherche.atom", "Search", "en", {"q": "café & vélo"})
    assert french.href == french.id == "https://ile.example/recherche.atom?q=caf%C3%A9+%26+v%C3%A9lo"
    assert english.href == f"{french.id}&lang=en" and english.id == french.id
