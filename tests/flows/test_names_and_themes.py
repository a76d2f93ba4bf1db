"""People read names, not addresses: islands and authors by their names on the timeline, the
island pages and replica pages; /themes and theme and author pages, paged by cursor."""

import re
from html import unescape

from babel.dates import format_date

from sqlalchemy import event, select

from archipel import accounts, cards, content
from archipel.storage.tables import Follow, RemoteActor
from federation import actions
from tests.flows.test_federated_timeline import archipelago, get
from tests.flows.test_fiches import publish_file
from tests.nodes import wait_for

PAPI = "Les Points d&#39;Accès Public à Internet de Brest"


def cards_of(page: str) -> list[str]:
    return re.findall(r'<article class="card".*?</article>', page, flags=re.S)


def visible_text(html: str) -> str:
    """What a reader sees: the text, without tags and their attributes (where hosts may be)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def replicated_papi(make_island):
    brest, nantes = await archipelago(make_island)
    uri = await publish_file(brest, "papi-brest.md", "alice")
    await wait_for(lambda: nantes.object(uri), message="replication")
    await wait_for(lambda: knows(nantes, brest.actor_uri("alice")), timeout=15, message="the author's name")
    return brest, nantes, await nantes.object(uri)


async def knows(node, uri: str) -> bool:
    """The island learnt who this remote author is (federation/author_names.py)."""
    async with node.sessions() as session:
        return await session.scalar(select(RemoteActor.id).where(RemoteActor.uri == uri)) is not None


async def test_the_timeline_names_islands_and_authors_and_dates_its_cards(make_island):
    brest, nantes, replica = await replicated_papi(make_island)
    await nantes.publish("bob", "Un article nantais", "Texte.")
    host = brest.url.split("//")[1]

    page = await get(f"{nantes.url}/federated")
    [card] = [card for card in cards_of(page) if PAPI in card]
    text = visible_text(card)
    assert "Île brest" in text and host not in text and "127.0.0.1" not in text
    assert f'href="{nantes.url}/federated/islands/{host}"' in card
    assert "Par Alice" in text  # the remote author by their name, with their picture kept here
    assert re.search(rf'<img class="avatar" src="{nantes.url}/images-distantes/[0-9a-f]{{64}}"', card)
    assert f'<time datetime="{replica.published.isoformat()}">{format_date(replica.published, "long", locale="fr")}' in card
    [ours] = [card for card in cards_of(page) if "Un article nantais" in card]
    assert "Île nantes (ici)" in visible_text(ours) and "Par Bob" in visible_text(ours)

    english = await get(f"{nantes.url}/federated?lang=en")
    assert format_date(replica.published, "long", locale="en") in english

    # The island filter: islands by name, the value still the host the filter reads.
    assert f'<option value="{host}">Île brest</option>' in page
    assert f'<option value="{nantes.url.split("//")[1]}">Île nantes</option>' in page
    assert "État de l&#39;Île brest" in page and f"État de {host}" not in page

    state = await get(f"{nantes.url}/federated/islands/{host}")
    assert "<title>Île brest · Île nantes</title>" in state and "<h1>Île brest</h1>" in state
    assert "acceptée" not in state and "accepted" not in state  # no follow state for a visitor


async def test_a_replica_page_says_where_it_was_published_by_name(make_island):
    brest, nantes, replica = await replicated_papi(make_island)
    page = await get(f"{nantes.url}/r/{replica.id}")
    origin = page.split('class="origin-island">')[1].split("</p>")[0]
    assert visible_text(origin).startswith("Publiée sur Île brest")
    assert f'<a href="{brest.url}/users/{brest.island_username}"' in origin or f'<a href="{brest.url}/@' in origin
    assert brest.url.split("//")[1] not in visible_text(origin)
    assert "Alice" in visible_text(page.split("Par", 1)[1].split("</p>")[0])


async def test_themes_lists_every_theme_with_its_count(make_island):
    brest, nantes, replica = await replicated_papi(make_island)  # Médiation numérique, Inclusion, Éducation populaire
    await nantes.publish("bob", "Un article nantais", "Texte.", tags=["Inclusion", "Vélo"])
    await nantes.publish("bob", "Un autre", "Texte.", tags=["vélo"])

    page = await get(f"{nantes.url}/themes")
    counts = dict(re.findall(r'<a href="[^"]*/tags/(\w+)">[^<]*</a>\s*<span class="count">\((\d+) publications?\)', page))
    assert counts == {"inclusion": "2", "velo": "2", "mediationnumerique": "1", "educationpopulaire": "1"}
    assert f'href="{nantes.url}/tags/velo#follow-heading"' in page
    assert f'href="{nantes.url}/tags/inclusion#follow-heading"' in page
    # where the follow box gives the theme's fediverse account
    assert f"@inclusion@{nantes.url.split('//')[1]}" in await get(f"{nantes.url}/tags/inclusion")


async def test_theme_and_author_pages_page_past_their_first_page(make_island):
    nantes = await make_island("nantes")
    await nantes.add_user("bob")
    async with nantes.sessions() as session:
        bob = await accounts.get_actor(session, "bob")
        for n in range(35):
            await actions.publish_item(session, nantes.url, [bob], title=f"Article {n:02d}", source="x",
                                       tags=["Jardins"])
        await session.commit()
    titles = [f"Article {n:02d}" for n in range(35)]
    for path in ("/tags/jardins", "/@bob"):
        first = await get(f"{nantes.url}{path}")
        assert len(cards_of(first)) == 30 and "Par Bob" in visible_text(cards_of(first)[0])
        assert "Plus anciens" in first
        next_link = unescape(first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0])
        second = await get(next_link)
        assert len(cards_of(second)) == 5 and 'rel="next"' not in second
        assert all((t in first) != (t in second) for t in titles), path


async def test_a_fiches_themes_link_to_their_pages(make_island):
    brest, nantes, replica = await replicated_papi(make_island)
    for page in (await get(f"{brest.url}{replica.uri.split(brest.url)[1]}"), await get(f"{nantes.url}/r/{replica.id}")):
        base = brest.url if brest.url + "/tags" in page else nantes.url
        for key, label in (("mediationnumerique", "Médiation numérique"), ("inclusion", "Inclusion")):
            assert f'href="{base}/tags/{key}">{label}</a>' in page
    theme = await get(f"{nantes.url}/tags/inclusion")
    assert PAPI in theme and "Île brest" in visible_text("".join(cards_of(theme)))


async def test_a_page_of_cards_costs_the_same_queries_whatever_its_length(make_island):
    brest, nantes, replica = await replicated_papi(make_island)
    for n in range(5):
        await nantes.publish("bob", f"Article {n}", "Texte.")
    here = cards.Here(nantes.url, nantes.name)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if conn is ours:  # the island's workers share the engine: only this session's queries
            statements.append(statement)

    async with nantes.sessions() as session:
        items = list(await session.scalars(content.public_items(local=None)))
        engine = session.bind.sync_engine
        ours = (await session.connection()).sync_connection
        event.listen(engine, "before_cursor_execute", count)
        try:
            one = await cards.cards_for(session, here, [replica_row := next(i for i in items if not i.is_local)])
            few = len(statements)
            statements.clear()
            everything = await cards.cards_for(session, here, items)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert one[0].island.name == "Île brest" and replica_row.uri == replica.uri
    assert len(everything) == 6 and len(statements) <= 3 and few <= 3
    assert sum("remote_actors" in statement for statement in statements) == 1  # every name at once
    assert {card.island.name for card in everything} == {"Île brest", "Île nantes"}


async def test_the_timelines_island_filter_names_the_islands_followed_and_only_those(make_island):
    """One query gives the filter's islands: by name, in the order of names; a followed island
    whose actor is not known yet by its host; nothing pending, nothing another actor follows."""
    brest, nantes, _ = await replicated_papi(make_island)
    here = cards.Here(nantes.url, nantes.name)
    async with nantes.sessions() as session:
        island = await accounts.island_actor(session)
        ours = nantes.actor_uri(island.username)
        session.add_all([
            Follow(follower_uri=ours, followed_uri="https://ailleurs.example/users/ile",
                   activity_uri="https://x.example/1", state="accepted"),
            Follow(follower_uri=ours, followed_uri="https://attente.example/users/ile",
                   activity_uri="https://x.example/2", state="pending"),
            Follow(follower_uri=nantes.actor_uri("bob"), followed_uri="https://personne.example/users/zoe",
                   activity_uri="https://x.example/3", state="accepted"),
        ])
        await session.commit()
        islands = await cards.followed_islands(session, here)
    assert [(i.name, i.host) for i in islands] == [
        ("ailleurs.example", "ailleurs.example"), ("Île brest", brest.url.split("//")[1])]
    assert islands[0].url is None  # nothing known to link to
