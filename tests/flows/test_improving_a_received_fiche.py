"""« Proposer une amélioration » on the page of a fiche received from another island: the link
goes to the fiche's own island, its proposal form for that fiche, where the proposal is made."""

import html
import re

from sqlalchemy import select

from archipel.improvements import proposal_url
from archipel.storage.tables import Proposal, StoredObject
from tests.flows.test_fiches import publish_file, two_islands
from tests.nodes import wait_for
from tests.web.test_auth import browser_like, hidden_csrf


async def test_a_received_fiche_is_improved_on_its_own_island(make_island):
    brest, nantes = await two_islands(make_island)
    origin_uri = await publish_file(brest, "papi-brest.md", "alice")
    await wait_for(lambda: nantes.object(origin_uri), message="the fiche on nantes")
    ulid = origin_uri.rsplit("/", 1)[-1]

    async with browser_like() as http:
        async with http.get(origin_uri) as response:  # nantes shows it at /r/<id>; brest owns it
            assert response.status == 200
        replica = await nantes.object(origin_uri)
        async with http.get(f"{nantes.url}/r/{replica.id}") as response:
            page = await response.text()
        links = re.findall(r'<a href="([^"]+)"[^>]*>Proposer une amélioration</a>', page)
        assert [html.unescape(link) for link in links] == [f"{brest.url}/proposer?item={ulid}"]

        # There, the form is the fiche's own, and the proposal reaches its island.
        async with http.get(f"{brest.url}/proposer?item={ulid}") as response:
            form = await response.text()
            assert response.status == 200 and "Les Points d&#39;Accès Public" in form
        fields = {"csrf_token": hidden_csrf(form), "item": ulid,
                  "title": "Les Points d'Accès Public à Internet de Brest",
                  "source": "Un texte plus précis.", "name": "Rosa", "language": "fr"}
        async with http.post(f"{brest.url}/proposer", data=fields, allow_redirects=False) as response:
            assert response.status == 303, await response.text()
    async with brest.sessions() as session:
        [proposal] = list(await session.scalars(select(Proposal)))
        assert proposal.target_uri == origin_uri


def test_where_a_proposal_goes():
    def item(**fields):
        return StoredObject(**{"is_local": False, "kind": "fiche", "deleted_at": None, "url": None, **fields})
    ulid = "01hzzzzzzzzzzzzzzzzzzzzzzz"
    assert proposal_url(item(uri=f"https://ile.example/o/{ulid}")) == f"https://ile.example/proposer?item={ulid}"
    assert proposal_url(item(uri=f"https://ex.org/archipel/o/{ulid}")) == \
        f"https://ex.org/archipel/proposer?item={ulid}"
    # Not an Archipel address: its page there. Not a fiche, ours, or an unsafe address: nothing.
    assert proposal_url(item(uri="https://wiki.example/p/42", url="https://wiki.example/page/42")) == \
        "https://wiki.example/page/42"
    assert proposal_url(item(uri=f"https://ile.example/o/{ulid}", kind="note")) is None
    assert proposal_url(item(uri=f"https://ile.example/o/{ulid}", is_local=True)) is None
    assert proposal_url(item(uri=f"javascript:alert(1)//o/{ulid}")) is None
