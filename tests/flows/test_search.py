"""Search on a real island, SQLite and PostgreSQL alike: French words found whatever their form
or accents, each item by its own language's rules, ranking, facets with counts, replicas that
join, change and leave the results at once, the index rebuilt by `archipel reindex`."""

import aiohttp
import feedparser
import pytest
from alembic import command
from sqlalchemy import literal, select, text

from archipel import accounts, content, search, search_index, search_totals
from archipel.accounts import island_actor
from archipel.social import find_follow
from archipel.themes import theme_key
from archipel.storage import migrate
from archipel.storage.engine import make_engine
from archipel.storage.tables import RemoteActor
from federation import actions
from tests.nodes import island_follows, wait_for
from web import cli


async def publish(node, username: str, title: str, *, kind: str = "fiche", pitch: str = "", body: str = "",
                  tags=(), language: str = "fr", licence: str | None = None, place: str = "", region: str = "",
                  audience: str = "", started: str | None = None, state: str = "published") -> str:
    data = {}
    if kind == "fiche":
        data = {"pitch": pitch, "sections": {"genesis": body} if body else {}, "audience": audience,
                "started": started, "territory": {"place": place, "region": region}}
    elif kind == "resource":
        data = {"prerequisites": body, "audience": audience, "territory": {"place": place, "region": region}}
    async with node.sessions() as session:
        author = await accounts.get_actor(session, username)
        item = await actions.publish_item(session, node.url, [author], kind=kind, title=title,
                                          source="" if kind != "article" else body, summary=pitch,
                                          tags=list(tags), language=language, licence=licence, data=data,
                                          state=state)
        await session.commit()
    node.wake()
    return item.uri


async def search_json(node, **params) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.url}/recherche.json", params=params) as response:
            assert response.status == 200, await response.text()
            return await response.json()


def names(result: dict) -> list[str]:
    return [item["name"] for item in result["items"]]


@pytest.fixture
async def brest(make_island):
    node = await make_island("brest")
    await node.add_user("alice")
    await publish(node, "alice", "Former les formateurs du numérique", pitch="Un parcours pour formateurs.",
                  body="Des ateliers de pair à pair.", tags=["Médiation numérique"], place="Brest",
                  region="Bretagne", licence="CC-BY-SA-4.0", audience="Animateurs", started="2019-03-16")
    await publish(node, "alice", "Une épicerie coopérative de quartier",
                  pitch="L'Économie sociale au coin de la rue.", body="Les coopératives de consommateurs.",
                  tags=["Transition alimentaire"], place="Nantes", region="Pays de la Loire",
                  licence="CC0-1.0", started="2021-01-01")
    await publish(node, "alice", "Repair café", kind="resource", pitch="Réparer ensemble plutôt que jeter.",
                  body="Le réemploi des objets, une formation pour les bénévoles.",
                  tags=["Réemploi"], place="Brest", region="Bretagne")
    await publish(node, "alice", "Community workshops", pitch="Workshops where neighbours repair things.",
                  body="Training the trainers.", language="en", tags=["Réemploi"])
    await publish(node, "alice", "Un brouillon sur le réemploi", pitch="Pas encore publié.",
                  state="draft")
    return node


async def test_french_forms_and_accents_find_the_same_fiches(brest):
    former = "Former les formateurs du numérique"
    assert names(await search_json(brest, q="formateur")) == [former]  # plural found from singular
    assert names(await search_json(brest, q="FORMATEURS")) == [former]
    epicerie = "Une épicerie coopérative de quartier"
    assert names(await search_json(brest, q="economie")) == [epicerie]  # no accent finds « Économie »
    assert names(await search_json(brest, q="coopératives")) == [epicerie]
    assert names(await search_json(brest, q="cooperative")) == [epicerie]
    assert names(await search_json(brest, q="numerique parcours")) == [former]  # every word required
    assert names(await search_json(brest, q="numerique epicerie")) == []
    # Themes are words of their items; the draft is not shown.
    assert sorted(names(await search_json(brest, q="reemploi"))) == ["Community workshops", "Repair café"]
    assert names(await search_json(brest, q='"pair à pair"')) == [former]  # a phrase
    assert names(await search_json(brest, q='"pair numérique"')) == []
    assert names(await search_json(brest, q="brest -formateurs")) == ["Repair café"]  # an exclusion


async def test_each_item_is_searched_by_its_own_languages_rules(brest):
    # « workshop » meets « Workshops » by the English stemmer; the French one would not reduce it.
    assert names(await search_json(brest, q="workshop")) == ["Community workshops"]
    assert names(await search_json(brest, q="trainer")) == ["Community workshops"]
    assert (await search_json(brest, q="workshop", language="fr"))["total"] == 0


async def test_title_and_pitch_rank_above_the_body(make_island):
    node = await make_island("brest")
    await node.add_user("alice")
    await publish(node, "alice", "Un jardin partagé", pitch="Cultiver ensemble.", body="Il y a aussi un compost.")
    await publish(node, "alice", "Le compost collectif", pitch="Des bacs au pied des immeubles.")
    await publish(node, "alice", "Une ressourcerie", pitch="Le compost des biodéchets du quartier.")
    assert names(await search_json(node, q="compost")) == [
        "Le compost collectif", "Une ressourcerie", "Un jardin partagé"]


async def test_items_of_every_language_rank_by_where_the_words_are(make_island):
    """A title match above a body match whatever each item's language (PostgreSQL ranks each
    item against its own language's version of the words; unknown languages unstemmed)."""
    node = await make_island("brest")
    await node.add_user("alice")
    for title, body, language in [("Compost partagé", "", "fr"), ("Un jardin", "Du compost partagé.", "fr"),
                                  ("Shared compost", "", "en"), ("Compost partejat", "", "oc"),
                                  ("A garden", "Some compost here.", "en"), ("Un ort", "Compost de barri.", "oc")]:
        await publish(node, "alice", title, body=body, language=language)
    found = names(await search_json(node, q="compost"))
    assert sorted(found[:3]) == ["Compost partagé", "Compost partejat", "Shared compost"]
    assert sorted(found[3:]) == ["A garden", "Un jardin", "Un ort"]


async def test_a_word_in_most_items_ranks_every_language_alike(make_island):
    """SQLite's bm25 weighs each language's version of a word by its rarity: in most of the
    French items, « atelier » weighed almost nothing next to its Basque and German versions, in
    one item each, and their body matches ranked above a French title match."""
    node = await make_island("brest")
    await node.add_user("alice")
    await publish(node, "alice", "L'atelier vélo", pitch="Réparer son vélo.")
    for number in range(6):
        await publish(node, "alice", f"Un lieu n°{number}", body="Un atelier vélo chaque semaine.")
    await publish(node, "alice", "Lantegi irekia", body="Atelier vélo bat astero.", language="eu")
    await publish(node, "alice", "Offene Werkstatt", body="Ein Atelier vélo jede Woche.", language="de")
    await publish(node, "alice", "Atelier des langues", body="Un atelier de conversation.", language="fr-CA")
    in_bodies = ["Lantegi irekia", "Offene Werkstatt"] + [f"Un lieu n°{number}" for number in range(6)]

    found = names(await search_json(node, q="atelier"))
    assert sorted(found[:2]) == ["Atelier des langues", "L'atelier vélo"]  # in the title, one in Canadian French
    assert sorted(found[2:]) == sorted(in_bodies)
    for words in ("atelier vélo", '"atelier vélo"'):  # two words, a phrase
        found = names(await search_json(node, q=words))
        assert found[0] == "L'atelier vélo" and sorted(found[1:]) == sorted(in_bodies), words


async def test_a_word_search_pages_through_every_match_once_ranked_or_newest_first(make_island):
    from archipel import search

    node = await make_island("brest")
    await node.add_user("alice")
    titles = [f"Atelier compost n°{number}" for number in range(5)] + ["Un jardin"]
    for number, title in enumerate(titles):
        await publish(node, "alice", title, pitch="Le compost des voisins." if number == 2 else "",
                      body="Un peu de compost." if title == "Un jardin" else "")
    async with node.sessions() as session:
        async def pages(**wanted) -> list[list[str]]:
            found = []
            for page in (1, 2, 3, 4):
                result = await search.search(session, search.SearchRequest(text="compost", page=page, **wanted),
                                             page_size=2)
                assert result.total == 6
                found.append([item.name for item in result.items])
            return found
        ranked = await pages()
        newest = await pages(newest_first=True)
    # Every match once; the word only in the body last; equal ranks newest first.
    found = [name for page in ranked for name in page]
    assert sorted(found) == sorted(titles) and found[-1] == "Un jardin" and ranked[3] == []
    assert [name for name in found if name != "Atelier compost n°2"][:4] == [
        "Atelier compost n°4", "Atelier compost n°3", "Atelier compost n°1", "Atelier compost n°0"]
    assert newest == [["Un jardin", "Atelier compost n°4"], ["Atelier compost n°3", "Atelier compost n°2"],
                      ["Atelier compost n°1", "Atelier compost n°0"], []]


async def test_facets_count_the_results_and_combine(brest):
    everything = await search_json(brest)
    assert everything["total"] == 4
    facets = everything["facets"]
    assert facets["kind"] == {"fiche": 3, "resource": 1}
    assert facets["region"] == {"Bretagne": 2, "Pays de la Loire": 1}
    assert facets["theme"] == {"reemploi": 2, "mediationnumerique": 1, "transitionalimentaire": 1}
    assert facets["language"] == {"fr": 3, "en": 1}
    assert facets["licence"] == {"CC-BY-SA-4.0": 3, "CC0-1.0": 1}  # the default licence counts
    assert facets["year"] == {"2019": 1, "2021": 1}
    assert facets["audience"] == {"Animateurs": 1}

    breton = await search_json(brest, region="Bretagne")
    assert sorted(names(breton)) == ["Former les formateurs du numérique", "Repair café"]
    # Counts follow the choice: another facet counts within Bretagne only...
    assert breton["facets"]["kind"] == {"fiche": 1, "resource": 1}
    # ...while the chosen facet still offers its other values (several values: either).
    assert breton["facets"]["region"] == {"Bretagne": 2, "Pays de la Loire": 1}
    both = await _search_pairs(brest, [("region", "Bretagne"), ("region", "Pays de la Loire")])
    assert both["total"] == 3
    combined = await _search_pairs(brest, [("q", "brest"), ("kind", "resource"), ("theme", "Réemploi")])
    assert names(combined) == ["Repair café"]
    assert combined["facets"]["kind"] == {"resource": 1}  # the fiche at Brest is not on Réemploi
    assert (await _search_pairs(brest, [("q", "brest")]))["facets"]["kind"] == {"fiche": 1, "resource": 1}
    for facet, counts in everything["facets"].items():
        if facet != "theme":
            for value, count in counts.items():
                assert (await _search_pairs(brest, [(facet, value)]))["total"] == count, (facet, value)


SINGLE_CHOICES = (("region", "Bretagne"), ("theme", "Réemploi"), ("kind", "fiche"), ("year", "2019"))


async def _search_pairs(node, pairs) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.url}/recherche.json", params=pairs) as response:
            assert response.status == 200
            return await response.json()


async def test_the_search_page_marks_words_and_keeps_its_state_in_the_address(brest):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{brest.url}/recherche", params={"q": "formateur", "region": "Bretagne"}) as response:
            assert response.status == 200
            page = await response.text()
    assert "<mark>formateurs</mark>" in page
    assert 'href="/recherche?q=formateur"' in page  # removing the region keeps the words
    assert 'aria-current="true"' in page
    assert "1 résultat" in page


async def test_hostile_queries_never_fail(brest):
    for q in ['"', '""', "NEAR(a b)", "a OR", "AND", "*", "-", "--x", "a:b", "^x", "(((", "'", "\\", "é" * 500,
              "x " * 400, "🙂", "SELECT * FROM objects", "formateur*", '"unterminated phrase',
              # PostgreSQL's statement carries the query written in: quotes must stay words.
              "l'atelier'); DROP TABLE search_text; --", "\\' OR 1=1 --", "$$ || pg_sleep(5) $$"]:
        result = await search_json(brest, q=q)
        assert isinstance(result["total"], int)
    assert (await search_json(brest, q="formateur"))["total"] > 0  # and the index is still there
    async with aiohttp.ClientSession() as http:
        for params in ({"page": "0"}, {"page": "999999"}, {"page": "x"}):
            async with http.get(f"{brest.url}/recherche", params=params) as response:
                assert response.status == 400
        async with http.get(f"{brest.url}/recherche", params={"year": "20x9", "kind": "<b>" * 100}) as response:
            assert response.status == 200
            assert "<b><b>" not in await response.text()


async def test_a_theme_s_page_is_the_same_walked_in_date_order_or_listed(brest, monkeypatch):
    """A theme chosen alone, no words: its page is found walking the items newest first (a common
    theme, on SQLite) or reading the theme's list, the same page either way."""
    await publish(brest, "alice", "Un atelier de réparation", tags=["Réemploi"], region="Bretagne")
    pages, decided = [], []
    for walked in (False, True):
        monkeypatch.setattr(search, "walk_is_shorter", lambda *counts, walked=walked: decided.append(counts) or walked)
        pages.append(await search_json(brest, theme="Réemploi"))
    assert pages[0] == pages[1]
    assert names(pages[0]) == ["Un atelier de réparation", "Community workshops", "Repair café"]
    async with brest.sessions() as session:
        sqlite = session.bind.dialect.name == "sqlite"
    # The theme's items, every item shown, the items the page needs (PostgreSQL's planner decides).
    assert decided == ([(3, 5, search.PAGE_SIZE)] * 2 if sqlite else [])


def test_a_theme_is_walked_when_the_walk_is_the_shorter():
    assert search.walk_is_shorter(15_848, 99_081, 20)  # a common theme's first page
    assert not search.walk_is_shorter(10, 99_081, 20)  # a rare theme: its list
    assert not search.walk_is_shorter(2_144, 99_081, 60)  # a less common one's third page


async def test_replicas_join_change_and_leave_the_results_at_once(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await island_follows(nantes, brest)
    uri = await publish(brest, "alice", "La ressourcerie de Brest", pitch="Le réemploi des meubles.",
                        region="Bretagne")
    await wait_for(lambda: nantes.object(uri), timeout=30, message="replication")
    found = await search_json(nantes, q="reemploi")
    assert names(found) == ["La ressourcerie de Brest"]
    breton = await search_json(nantes, region="Bretagne")  # counted from the pairs kept per origin
    assert breton["total"] == 1 and breton["facets"]["kind"] == {"fiche": 1}
    assert found["items"][0]["island"]["name"] == "brest" or found["items"][0]["island"]["host"] in brest.url

    async with brest.sessions() as session:
        item = await content.get_local_object(session, uri)
        alice = await accounts.get_actor(session, "alice")
        await actions.edit_item(session, brest.url, item, editor=alice, title="La recyclerie de Brest",
                                summary="Des vélos remis en état.")
        await session.commit()
    brest.wake()

    async def updated():
        return names(await search_json(nantes, q="velo")) == ["La recyclerie de Brest"]
    async def replica_updated():
        replica = await nantes.object(uri)
        return replica.name == "La recyclerie de Brest"
    await wait_for(replica_updated, timeout=30, message="the update")
    await wait_for(updated, message="the update reaches the index")
    assert (await search_json(nantes, q="ressourcerie"))["total"] == 0  # the old title is gone

    await brest.withdraw(uri)

    async def withdrawn():
        replica = await nantes.object(uri)
        return replica is not None and replica.deleted_at is not None
    await wait_for(withdrawn, timeout=30, message="withdrawal")
    assert (await search_json(nantes, q="velo"))["total"] == 0
    breton = await search_json(nantes, region="Bretagne")
    assert breton["total"] == 0 and breton["facets"]["kind"] == {}
    assert breton["facets"]["region"] == {"Bretagne": 0}  # a chosen value stays listed, to be removed


async def test_reindex_rebuilds_the_index(brest):
    engine = make_engine(brest.settings.effective_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM search_text"))
            await connection.execute(text("DELETE FROM search_documents"))
            await connection.execute(text("DELETE FROM search_facet_totals"))
            await connection.execute(text("DELETE FROM search_value_totals"))
            await connection.execute(text("DELETE FROM search_pair_totals"))
    finally:
        await engine.dispose()
    assert (await search_json(brest))["total"] == 0
    await cli.cmd_reindex(type("Args", (), {"directory": str(brest.directory)}))
    assert names(await search_json(brest, q="formateur")) == ["Former les formateurs du numérique"]
    assert (await search_json(brest))["total"] == 4
    breton = await search_json(brest, region="Bretagne")
    assert breton["total"] == 2 and breton["facets"]["kind"] == {"fiche": 1, "resource": 1}
    assert breton["facets"]["theme"] == {"mediationnumerique": 1, "reemploi": 1}


async def downgrade_to(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            config = migrate.alembic_config(url)

            def downgrade(sync):
                config.attributes["connection"] = sync
                command.downgrade(config, revision)
            await connection.run_sync(downgrade)
    finally:
        await engine.dispose()


async def test_an_upgrade_counts_the_pairs_of_the_items_already_indexed(brest):
    url = brest.settings.effective_database_url
    before = [await _search_pairs(brest, [(facet, value)]) for facet, value in SINGLE_CHOICES]
    await downgrade_to(url, "0018")  # the schema before the pairs
    await migrate.upgrade(url)
    assert [await _search_pairs(brest, [(facet, value)]) for facet, value in SINGLE_CHOICES] == before
    assert before[0]["total"] == 2


async def test_an_upgrade_sums_the_counts_of_every_origin(brest):
    url = brest.settings.effective_database_url
    before = await search_json(brest)
    async with brest.sessions() as session:
        themes = await content.theme_counts(session, local=None, limit=None)
    await downgrade_to(url, "0020")  # the schema before the sums over every origin
    await migrate.upgrade(url)
    assert await search_json(brest) == before and before["total"] == 4
    async with brest.sessions() as session:
        assert await content.theme_counts(session, local=None, limit=None) == themes and len(themes) == 3


async def test_an_upgrade_copies_the_facets_beside_the_words(brest):
    url = brest.settings.effective_database_url
    searches = [{"q": "formateur"}, {"q": "reemploi"}, {"q": "reemploi", "region": "Bretagne"},
                {"q": "reemploi", "theme": "Réemploi", "language": "en"}]
    before = [await search_json(brest, **params) for params in searches]
    await downgrade_to(url, "0021")  # words alone in PostgreSQL's search_text
    await migrate.upgrade(url)
    assert [await search_json(brest, **params) for params in searches] == before
    assert [result["total"] for result in before] == [1, 2, 1, 1]
    assert before[1]["facets"]["region"] == {"Bretagne": 1} and before[1]["facets"]["language"] == {"en": 1, "fr": 1}
    await _facet_copies_agree(brest)


async def _facet_copies_agree(node) -> None:
    """On PostgreSQL, the facets search_text keeps beside the words are search_documents' own."""
    engine = make_engine(node.settings.effective_database_url)
    try:
        if engine.dialect.name != "postgresql":
            return
        facets = ", ".join(search_index.TEXT_FACETS)
        async with engine.connect() as connection:
            copies = set(await connection.execute(text(f"SELECT object_id, {facets} FROM search_text")))
            documents = set(await connection.execute(text(f"SELECT object_id, {facets} FROM search_documents")))
    finally:
        await engine.dispose()
    assert copies == documents and documents


async def test_an_upgrade_indexes_the_items_already_stored(brest):
    url = brest.settings.effective_database_url
    await downgrade_to(url, "0010")  # the schema before search
    await migrate.upgrade(url)
    assert names(await search_json(brest, q="formateur")) == ["Former les formateurs du numérique"]
    assert (await search_json(brest))["total"] == 4


async def test_a_search_has_its_atom_feed_newest_first(brest):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{brest.url}/recherche.atom", params=[("q", "reemploi"), ("region", "Bretagne")]) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("application/atom+xml")
            body = await response.text()
        async with http.get(f"{brest.url}/recherche", params={"q": "reemploi", "region": "Bretagne"}) as response:
            page = await response.text()
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.bozo_exception
    assert [entry.title for entry in feed.entries] == ["Repair café"]
    assert "reemploi" in feed.feed.title and "Bretagne" in feed.feed.title
    assert 'type="application/atom+xml"' in page and "/recherche.atom?q=reemploi&amp;region=Bretagne" in page

    # A territory's feed: everything in Bretagne, the newest first.
    territory = feedparser.parse(await get_bytes(f"{brest.url}/recherche.atom?region=Bretagne"))
    assert [entry.title for entry in territory.entries] == ["Repair café", "Former les formateurs du numérique"]


async def get_bytes(url: str) -> bytes:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            assert response.status == 200
            return await response.read()


async def test_the_totals_always_equal_a_count_of_the_index(make_island):
    """The counts of the empty search come from totals kept per origin: after creations,
    changes, hiding and withdrawals, they equal what counting the indexed items gives."""
    node = await make_island("brest")
    await node.add_user("alice")
    uris = [await publish(node, "alice", f"Fiche {n}", pitch="Texte.", region=("Bretagne", "Normandie")[n % 2],
                          tags=["Réemploi", "Vélo"][: 1 + n % 2], started=f"20{10 + n}-01-01") for n in range(6)]
    async with node.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        first = await content.get_local_object(session, uris[0])
        await actions.edit_item(session, node.url, first, editor=alice, tags=["Habitat"],
                                data={**first.fields, "territory": {"region": "Occitanie"}})
        second = await content.get_local_object(session, uris[1])
        second.hidden_at = second.published
        await session.commit()
    await node.withdraw(uris[2])
    totals = (await search_json(node))["facets"]
    assert totals["region"] == {"Bretagne": 1, "Normandie": 2, "Occitanie": 1}
    assert totals["theme"] == {"reemploi": 3, "velo": 2, "habitat": 1}
    # The same counts by the two other paths: a choice that keeps everything (every kind), counted
    # from the combinations kept per origin; words every item has, counted from the items.
    combined = (await _search_pairs(node, [("kind", "fiche")]))["facets"]
    counted = (await _search_pairs(node, [("q", "texte"), ("kind", "fiche")]))["facets"]
    for facet in ("region", "theme", "year", "island", "language", "licence", "kind"):
        assert combined[facet] == totals[facet] == counted[facet], facet
    two_years = await _search_pairs(node, [("year", "2013"), ("year", "2014")])
    assert two_years["total"] == 2 and two_years["facets"]["region"] == {"Bretagne": 1, "Normandie": 1}
    assert two_years["facets"]["year"] == {"2010": 1, "2013": 1, "2014": 1, "2015": 1}
    # One facet chosen, no words: counted from the pairs kept per origin, the same as from the items.
    host = next(iter(totals["island"]))
    for facet, value in (*SINGLE_CHOICES, ("theme", "Habitat"), ("year", "2013"), ("region", "Occitanie"),
                         ("island", host), ("language", "fr"), ("licence", next(iter(totals["licence"])))):
        paired = await _search_pairs(node, [(facet, value)])
        counted = await _search_pairs(node, [("q", "texte"), (facet, value)])
        assert paired["total"] == counted["total"] and paired["facets"] == counted["facets"], (facet, value)
    assert (await _search_pairs(node, [("theme", "Réemploi")]))["facets"]["region"] == {"Bretagne": 1, "Normandie": 2}
    # Two facets chosen, no words: each one's values from the other choice's pairs (the island's
    # from the totals: it is the origin), the rest from the combinations; the same as from the items.
    for pairs in ([("region", "Normandie"), ("year", "2011")], [("year", "2013"), ("year", "2014"), ("island", host)],
                  [("island", host), ("region", "Bretagne")], [("language", "fr"), ("region", "Occitanie")]):
        kept = await _search_pairs(node, pairs)
        counted = await _search_pairs(node, [("q", "texte"), *pairs])
        assert kept["total"] == counted["total"] and kept["facets"] == counted["facets"], pairs
    await _facet_copies_agree(node)


async def test_counts_are_the_same_after_compaction(brest):
    before = [await search_json(brest), await _search_pairs(brest, [("region", "Bretagne")])]
    async with brest.sessions() as session:
        assert await search_totals.compact(session) > 0  # +1/-1 rows of the fixture's edits folded
        await session.commit()
    async with brest.sessions() as session:
        assert await search_totals.compact(session) == 0  # nothing left to fold
    after = [await search_json(brest), await _search_pairs(brest, [("region", "Bretagne")])]
    assert [result["facets"] for result in after] == [result["facets"] for result in before]
    assert [result["total"] for result in after] == [result["total"] for result in before]


async def test_a_compaction_after_a_mark_folds_the_keys_written_since(brest):
    marks: dict = {}
    async with brest.sessions() as session:
        await search_totals.compact(session, marks)  # no mark yet: every key
        await session.commit()
    assert set(marks) == {"search_facet_totals", "search_value_totals", "search_combinations", "search_pair_totals"}
    uri = await publish(brest, "alice", "Un atelier vélo", pitch="Réparer.", region="Bretagne", tags=["Vélo"])
    async with brest.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        item = await content.get_local_object(session, uri)
        await actions.edit_item(session, brest.url, item, editor=alice, tags=["Réemploi"])
        await session.commit()
    before = [await search_json(brest)] + [await _search_pairs(brest, [pair]) for pair in SINGLE_CHOICES]
    async with brest.sessions() as session:
        rows = await _pair_rows(session)
        assert await search_totals.compact(session, dict(marks)) > 0  # the edit's +1/-1 folded
        await session.commit()
    async with brest.sessions() as session:
        assert await search_totals.compact(session) == 0  # nothing the marks left unfolded
        assert await _pair_rows(session) < rows
    assert [await search_json(brest)] + [await _search_pairs(brest, [pair]) for pair in SINGLE_CHOICES] == before
    async with brest.sessions() as session:  # and the same rows as counting again from the index
        folded = await _pair_sums(session)
        await search_totals.rebuild_pairs(session)
        assert await _pair_sums(session) == folded


async def _pair_rows(session) -> int:
    return await session.scalar(text("SELECT count(*) FROM search_pair_totals"))


async def _pair_sums(session) -> dict:
    rows = await session.execute(text("SELECT island, local, via, facet, value, counted, counted_value, sum(count) "
                                      "FROM search_pair_totals GROUP BY island, local, via, facet, value, counted, "
                                      "counted_value HAVING sum(count) != 0"))
    return {tuple(row[:-1]): row[-1] for row in rows}


ITEMS = [  # title, kind, region, audience (free text: each its own), language, theme, words
    ("Atelier vélo", "fiche", "Bretagne", "Jeunes du quartier Bellevue", "fr", "Vélo", "atelier"),
    ("Jardin partagé", "fiche", "Bretagne", "Familles", "fr", "Jardins", "potager"),
    ("Repair café mobile", "resource", "Bretagne", "Familles", "fr", "Réemploi", "atelier"),
    ("Cargo bikes", "fiche", "Normandie", "Parents d'élèves de Caen", "en", "Vélo", "atelier"),
    ("Compost collectif", "fiche", "Normandie", "", "fr", "Réemploi", "potager"),
    ("Ressourcerie", "resource", "Occitanie", "Familles", "fr", "Réemploi", "atelier"),
]
FACET_INDEX = {"kind": 1, "region": 2, "audience": 3, "language": 4}


def expected(chosen: dict, *, theme: str | None = None, word: str | None = None) -> tuple[int, dict]:
    """Disjunctive counts by brute force: a facet's counts apply every other choice, not its own."""
    rows = [row for row in ITEMS if (theme is None or row[5] == theme) and (word is None or row[6] == word)]

    def passes(row, leaving_out=None):
        return all(row[FACET_INDEX[facet]] in values for facet, values in chosen.items() if facet != leaving_out)

    counts = {}
    for facet, index in FACET_INDEX.items():
        counted = {}
        for row in rows:
            if row[index] and passes(row, facet):
                counted[row[index]] = counted.get(row[index], 0) + 1
        counts[facet] = counted
    themes = {}  # every choice and the words, not the theme chosen
    for row in ITEMS:
        if (word is None or row[6] == word) and passes(row):
            themes[theme_key(row[5])] = themes.get(theme_key(row[5]), 0) + 1
    counts["theme"] = themes
    return sum(1 for row in rows if passes(row)), counts


async def test_choices_are_counted_disjunctively_with_and_without_words(make_island):
    """Every path of the counts (choices alone, from the combinations kept per origin; one facet
    chosen, from the pairs; with a theme or words, from the matching items; a theme and one other
    facet, the themes from the pairs) gives each facet, the
    themes included, the counts of every other choice, a free-text audience included, exactly as a
    count item by item does."""
    node = await make_island("brest")
    await node.add_user("alice")
    for title, kind, region, audience, language, theme, word in ITEMS:
        await publish(node, "alice", title, kind=kind, region=region, audience=audience, language=language,
                      pitch=f"Un {word} pour tous.", tags=[theme])
    cases = [
        {},  # with a theme alone: the pairs kept per origin
        {"region": ["Bretagne"]},
        {"region": ["Bretagne", "Normandie"]},
        {"audience": ["Familles"]},
        {"audience": ["Familles", "Parents d'élèves de Caen"]},
        {"kind": ["resource"]},
        {"language": ["en"]},
        {"region": ["Bretagne"], "audience": ["Familles"]},
        {"region": ["Bretagne", "Normandie"], "kind": ["fiche"]},
        {"region": ["Normandie"], "audience": ["Familles", "Parents d'élèves de Caen"], "language": ["en"]},
        {"kind": ["resource"], "audience": ["Familles"], "region": ["Occitanie", "Bretagne"]},
    ]
    for chosen in cases:
        pairs = [(facet, value) for facet, values in chosen.items() for value in values]
        for extra, kwargs in (([], {}), ([("theme", "Réemploi")], {"theme": "Réemploi"}),
                              ([("q", "atelier")], {"word": "atelier"})):
            result = await _search_pairs(node, pairs + extra)
            total, counts = expected(chosen, **kwargs)
            assert result["total"] == total, (chosen, extra)
            for facet, counted in counts.items():
                shown = {value: count for value, count in result["facets"][facet].items() if count}
                assert shown == counted, (chosen, extra, facet)


async def test_the_compactor_folds_every_key_once_then_the_new_rows_keys(brest):
    compactor = search_totals.Compactor(brest.sessions)
    compactor.GROWTH = 1
    await compactor.run_once()
    assert set(compactor.marks) == {"search_facet_totals", "search_value_totals", "search_combinations", "search_pair_totals"}
    async with brest.sessions() as session:
        assert await search_totals.compact(session) == 0
        rows = await _pair_rows(session)
    before = [await _search_pairs(brest, [pair]) for pair in SINGLE_CHOICES]
    uri = await publish(brest, "alice", "Un atelier vélo", pitch="Réparer.", region="Bretagne", tags=["Vélo"])
    await brest.withdraw(uri)  # its +1 rows, then its -1 rows: nothing once folded
    await compactor.run_once()
    async with brest.sessions() as session:
        assert await _pair_rows(session) == rows
    assert [await _search_pairs(brest, [pair]) for pair in SINGLE_CHOICES] == before


def _document(island: str, *, local: bool = False, via: str = "", kind: str = "fiche", region: str = "",
              themes: tuple[str, ...] = ()) -> dict:
    return {"island": island, "local": local, "via": via, "kind": kind, "region": region, "place": "",
            "language": "fr", "licence": "", "audience": "", "started_year": None,
            "themes": " ".join(themes), "theme_labels": {key: key.capitalize() for key in themes}}


@pytest.mark.parametrize("per_statement", [300, 1])
async def test_counts_shown_are_every_origins_minus_the_origins_not_shown(make_island, monkeypatch,
                                                                         per_statement):
    """shown_totals (the empty search, the themes of /themes, /federated and the map) against a
    count over the origins shown: its own items, a followed island's, those a followed island
    re-shared; not an island no longer followed, nor one only re-shared by such an island, nor
    items withdrawn since. Several origins not shown, subtracted a few per statement too."""
    monkeypatch.setattr(search_totals, "HIDDEN_PER_STATEMENT", per_statement)
    node = await make_island("nantes", workers=False)
    documents = [
        _document("nantes.example", local=True, themes=("velo",), region="Bretagne"),
        _document("suivie.example", themes=("velo", "jardins")),
        _document("autre.example", via="suivie.example", kind="resource", themes=("jardins",)),
        _document("quittee.example", themes=("velo",), region="Bretagne"),
        _document("quittee.example", kind="resource", themes=("compost",), region="Normandie"),
        _document("lointaine.example", via="quittee.example", themes=("velo",)),
        _document("troisieme.example", kind="article"),
    ]
    withdrawn = _document("suivie.example", themes=("compost",))
    async with node.sessions() as session:
        await session.run_sync(lambda sync: search_totals.apply(sync.connection(), [], [*documents, withdrawn]))
        await session.run_sync(lambda sync: search_totals.apply(sync.connection(), [withdrawn], []))
        followed = select(literal("suivie.example"))
        counted = {(facet, value): count for facet, value, _, count in
                   await search_totals.shown_totals(session, followed)}
        themes = await search_totals.shown_totals(session, followed, "theme")
        total, facets = await search_totals.summed(session, followed)
    assert counted == {("kind", "fiche"): 2, ("kind", "resource"): 1, ("island", "nantes.example"): 1,
                       ("island", "suivie.example"): 1, ("island", "autre.example"): 1,
                       ("region", "Bretagne"): 1, ("language", "fr"): 3,
                       ("theme", "velo"): 2, ("theme", "jardins"): 2}
    assert sorted(themes) == [("theme", "jardins", "Jardins", 2), ("theme", "velo", "Velo", 2)]
    assert total == 3 and facets["theme"] == [("jardins", "Jardins", 2), ("velo", "Velo", 2)]


async def test_an_island_no_longer_followed_leaves_the_counts_at_once(make_island):
    nantes, brest = await make_island("nantes"), await make_island("brest")
    await brest.add_user("alice")
    await nantes.add_user("bob")
    await publish(brest, "alice", "Un atelier vélo", pitch="Réparer.", region="Bretagne", tags=["Vélo"])
    await publish(brest, "alice", "Une recyclerie", kind="resource", region="Bretagne", tags=["Réemploi"])
    await publish(nantes, "bob", "Un jardin partagé", pitch="Semer.", region="Pays de la Loire", tags=["Jardins"])
    await island_follows(nantes, brest)

    async def counts() -> tuple[int, dict, list, dict]:
        everything = await search_json(nantes)
        async with nantes.sessions() as session:
            themes = await content.theme_counts(session, local=None, limit=100)
        # One facet chosen: its own values counted with every other value it could take instead.
        breton = await search_json(nantes, region="Bretagne")
        return (everything["total"], everything["facets"]["theme"], [(key, n) for key, _, n in themes],
                breton["facets"]["region"])

    async def replicated():
        return (await counts())[0] == 3
    await wait_for(replicated, timeout=30, message="Brest's items replicated")
    assert await counts() == (3, {"velo": 1, "reemploi": 1, "jardins": 1},
                              [("jardins", 1), ("reemploi", 1), ("velo", 1)],
                              {"Bretagne": 2, "Pays de la Loire": 1})

    await unfollow(nantes, brest)
    # Kept, no longer shown (a chosen value stays listed, to be removed).
    assert await counts() == (1, {"jardins": 1}, [("jardins", 1)], {"Pays de la Loire": 1, "Bretagne": 0})

    async def undone():  # Brest has the Undo before the next Follow
        async with brest.sessions() as session:
            return await find_follow(session, nantes.actor_uri(nantes.island_username),
                                     brest.actor_uri(brest.island_username)) is None
    await wait_for(undone, timeout=30, message="Brest no longer followed")
    await island_follows(nantes, brest)
    assert await counts() == (3, {"velo": 1, "reemploi": 1, "jardins": 1},
                              [("jardins", 1), ("reemploi", 1), ("velo", 1)],
                              {"Bretagne": 2, "Pays de la Loire": 1})


async def test_words_in_most_items_are_counted_by_what_they_miss(make_island, monkeypatch):
    """Words found in most items shown are counted as the totals kept per origin minus the shown
    items they miss: the same answer, page and counts, as counting the matches, with an item
    withdrawn and with an island no longer followed (its items still indexed, not shown)."""
    nantes, brest = await make_island("nantes"), await make_island("brest")
    await brest.add_user("alice")
    await nantes.add_user("bob")
    await publish(brest, "alice", "Un atelier vélo", pitch="Réparer.", region="Bretagne", tags=["Vélo"])
    await publish(brest, "alice", "Atelier compost", kind="resource", region="Bretagne", tags=["Réemploi", "Jardins"])
    await publish(brest, "alice", "Une recyclerie", kind="resource", region="Bretagne", tags=["Réemploi"])
    await publish(nantes, "bob", "Atelier jardin", pitch="Semer.", region="Pays de la Loire", tags=["Jardins"])
    withdrawn = await publish(nantes, "bob", "Un atelier cuisine", region="Pays de la Loire", tags=["Cuisine"])
    await publish(nantes, "bob", "Une épicerie", region="Pays de la Loire", tags=["Transition alimentaire"])
    await nantes.withdraw(withdrawn)
    await island_follows(nantes, brest)

    async def replicated():
        return (await search_json(nantes))["total"] == 5
    await wait_for(replicated, timeout=30, message="Brest's items replicated")
    missed = []
    monkeypatch.setattr(search, "_missed_statement", _spy(search._missed_statement, missed))

    async def both_ways() -> dict:
        monkeypatch.setattr(search, "BROAD_MIN_MATCHES", 10**9)  # the matches counted
        counted = await search_json(nantes, q="ateliers")
        monkeypatch.setattr(search, "BROAD_MIN_MATCHES", 0)
        monkeypatch.setattr(search, "BROAD_SHARE", 0)  # every word search by what it misses
        calls = len(missed)
        by_what_they_miss = await search_json(nantes, q="ateliers")
        assert len(missed) == calls + 1, "the counts did not come from the items missed"
        assert by_what_they_miss == counted
        return counted

    assert await shown_count(nantes) == 5  # what decides whether words are broad
    found = await both_ways()
    assert sorted(names(found)) == ["Atelier compost", "Atelier jardin", "Un atelier vélo"]
    assert found["total"] == 3
    assert found["facets"]["theme"] == {"jardins": 2, "reemploi": 1, "velo": 1}
    assert found["facets"]["region"] == {"Bretagne": 2, "Pays de la Loire": 1}
    assert found["facets"]["kind"] == {"fiche": 2, "resource": 1}

    await unfollow(nantes, brest)
    assert await shown_count(nantes) == 2 == (await search_json(nantes))["total"]
    found = await both_ways()
    assert names(found) == ["Atelier jardin"] and found["total"] == 1
    assert found["facets"]["theme"] == {"jardins": 1} and found["facets"]["region"] == {"Pays de la Loire": 1}


async def shown_count(island) -> int:
    async with island.sessions() as session:
        return await search_totals.shown_count(session, content.followed_island_hosts())


async def unfollow(follower, followed) -> None:
    """`follower` (an island) stops following `followed`'s island: its items stay, not shown."""
    async with follower.sessions() as session:
        island = await island_actor(session)
        target = await session.scalar(select(RemoteActor).where(
            RemoteActor.uri == followed.actor_uri(followed.island_username)))
        assert await actions.unfollow(session, follower.url, island, target)
        await session.commit()


def _spy(function, calls: list):
    def spied(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)
    return spied
