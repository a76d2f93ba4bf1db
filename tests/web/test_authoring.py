"""Writing fiches and resources through the pages, over real HTTP on a real island: the form
(every field, errors, nothing half-saved), preview, permissions, history and diffs, withdrawal."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import aiohttp
import pytest
from babel.messages.pofile import read_po
from sqlalchemy import func, select

from archipel import content, revisions, social
from archipel.fiches import FICHE_SECTIONS, MAX_TEXT
from archipel.storage.tables import LocalActor, OutgoingActivity, Revision, StoredObject
from tests.nodes import wait_for
from web import forms, i18n

PASSWORD = "correct horse battery"
AS = "https://www.w3.org/ns/activitystreams"

SECTIONS = {
    "genesis": "En 1997, la ville lance un appel à projets.",
    "goals": "- réduire les inégalités d'accès\n- favoriser l'appropriation",
    "means": "Un poste, une connexion, une **personne** disponible.",
    "successes": "Le réseau des animateurs.",
    "difficulties": "Des lieux trop isolés ont fermé.",
    "advice": "Commencer petit.",
    "perspectives": "Ouvrir à la fabrication numérique.",
}

FICHE_FORM = {
    "title": "Les Points d'Accès Public à Internet",
    "summary": "Cent lieux de proximité pour découvrir le numérique ensemble",
    "pitch": "Un réseau de 105 lieux où l'on apprend internet en faisant avec",
    "source": "Les PAPI sont nés du constat qu'on apprend mieux **ensemble**.",
    **{f"section-{name}": text for name, text in SECTIONS.items()},
    "steps": "Repérer un lieu de proximité\nFormer une personne relais\n   (le « faire avec »)\nÉquiper le lieu",
    "holder-0-name": "Ville de Brest", "holder-0-kind": "organisation",
    "holder-0-url": "https://www.brest.fr", "holder-0-contact": "papi@brest.example",
    "holder-1-name": "Michel Briand", "holder-1-kind": "person", "holder-1-url": "", "holder-1-contact": "",
    "holder-2-name": "", "holder-2-kind": "organisation", "holder-2-url": "", "holder-2-contact": "",
    "place": "Brest", "region": "Bretagne", "latitude": "48.3904", "longitude": "-4.4861",
    "audience": "Habitant·es, associations", "started": "1997-09-01",
    "themes": "Médiation numérique, Inclusion", "language": "fr", "licence": "CC-BY-SA-4.0",
    "attribution": "D'après le réseau des espaces publics numériques.",
    "coauthors": "claire",
}

RESOURCE_FORM = {
    "title": "Atelier « contribuer à un wiki de territoire »",
    "summary": "Deux heures pour écrire à plusieurs une page de wiki",
    "source": "Un atelier pour **faire avec**.",
    "learning_goals": "Créer un compte\nÉcrire une page\nCiter ses sources",
    "duration": "PT2H", "format": "atelier", "prerequisites": "Savoir utiliser un navigateur.",
    "materials": "Guide de l'animateur | https://wiki.example/guide\nhttps://wiki.example/fiche",
    "related": "https://ile.example/o/01aaaaaaaaaaaaaaaaaaaaaaaa",
    "place": "Brest", "region": "", "latitude": "", "longitude": "", "audience": "Tout public",
    "themes": "Wiki, Écriture collaborative", "language": "fr", "licence": "CC-BY-4.0", "coauthors": "",
    "attribution": "",
}


# ---- a logged-in visitor -----------------------------------------------------------------------

class Visitor:
    """A browser-like HTTP client (cookies kept for IP hosts), logged in as someone."""

    def __init__(self, island, http: aiohttp.ClientSession):
        self.island, self.http, self.csrf = island, http, ""

    async def login(self, username: str) -> Visitor:
        status, page, _ = await self.get("/login")
        self.csrf = hidden_csrf(page)
        async with self.http.post(f"{self.island.url}/login", allow_redirects=False, data={
                "csrf_token": self.csrf, "username": username, "password": PASSWORD}) as response:
            assert response.status == 303
        status, page, _ = await self.get("/espace")
        assert status == 200
        self.csrf = hidden_csrf(page)
        return self

    async def get(self, path: str, **headers) -> tuple[int, str, str | None]:
        url = path if path.startswith("http") else self.island.url + path
        async with self.http.get(url, allow_redirects=False, headers=headers) as response:
            return response.status, await response.text(), response.headers.get("Location")

    async def post(self, path: str, data: dict, *, csrf: bool = True, **headers) -> tuple[int, str, str | None]:
        url = path if path.startswith("http") else self.island.url + path
        if csrf:
            data = {"csrf_token": self.csrf, **data}
        async with self.http.post(url, data=data, allow_redirects=False, headers=headers) as response:
            return response.status, await response.text(), response.headers.get("Location")

    async def create(self, kind: str, form: dict, action: str = "publish") -> str:
        """Posts the new-item form; returns the item's URI."""
        status, page, location = await self.post(f"/espace/nouveau?kind={kind}", {**form, "action": action})
        assert status == 303, errors_in(page)
        ulid = re.fullmatch(r"/espace/items/([0-9a-z]{26})/modifier\?done=\w+", location).group(1)
        return f"{self.island.url}/o/{ulid}"

    async def edit(self, uri: str, changes: dict, action: str = "save") -> tuple[int, str, str | None]:
        """Loads the edit form, keeps every value it shows, applies `changes`, posts it."""
        status, page, _ = await self.get(edit_path(uri))
        assert status == 200, page
        return await self.post(edit_path(uri), {**form_values(page), **changes, "action": action})


@pytest.fixture
async def visitors(island):
    for username, role in (("claire", "author"), ("bob", "author"), ("mona", "moderator")):
        await add_user(island, username, role)
    sessions = []

    async def make(username: str | None = None) -> Visitor:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(http)
        visitor = Visitor(island, http)
        return await visitor.login(username) if username else visitor

    yield make
    for http in sessions:
        await http.close()


async def add_user(island, username: str, role: str) -> None:
    from web import provision
    await provision.add_user(island.sessions, username=username, password=PASSWORD,
                             display_name=username.capitalize(), role=role)


def hidden_csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def edit_path(uri: str) -> str:
    return f"/espace/items/{uri.rsplit('/', 1)[-1]}/modifier"


def errors_in(page: str) -> str:
    found = re.search(r'<div role="alert" class="errors".*?</div>', page, re.DOTALL)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", found.group(0))) if found else "(no error block)"


def form_values(page: str) -> dict:
    """The values the item form shows, as a browser would post them (inputs, textareas, selects)."""
    form = re.search(r'<form method="post" action="[^"]*" id="item-form".*?</form>', page, re.DOTALL).group(0)
    values = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and 'type="checkbox"' not in tag:
            values[name.group(1)] = html_lib.unescape(value.group(1) if value else "")
    for name, text in re.findall(r'<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.DOTALL):
        values[name] = html_lib.unescape(text)
    for name, options in re.findall(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.DOTALL):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', options) or re.search(r'<option value="([^"]*)"',
                                                                                         options)
        values[name] = html_lib.unescape(chosen.group(1))
    return values


async def stored(island, uri: str) -> tuple[StoredObject, list[str], list[Revision]]:
    async with island.sessions() as session:
        item = await content.find_object(session, uri)
        return item, await content.authors_of(session, item), await revisions.history(session, item)


async def count_items(island) -> int:
    async with island.sessions() as session:
        return await session.scalar(select(func.count(StoredObject.id)))


async def outgoing(island, uri: str) -> list[OutgoingActivity]:
    async with island.sessions() as session:
        return list(await session.scalars(select(OutgoingActivity).where(OutgoingActivity.object_uri == uri)
                                          .order_by(OutgoingActivity.id)))


async def rosa_follows_alice(island, remote) -> None:
    follow = {"@context": AS, "id": f"{remote.url}/follows/1", "type": "Follow",
              "actor": remote.actor_uri("rosa"), "object": island.actor_uri("alice")}
    status, text = await remote.post(f"{island.url}/users/alice/inbox", follow)
    assert status == 202, text

    async def accepted():
        async with island.sessions() as session:
            relation = await social.find_follow(session, remote.actor_uri("rosa"), island.actor_uri("alice"))
            return relation is not None and relation.state == "accepted"

    await wait_for(accepted, message="rosa follows alice")


# ---- one's space ---------------------------------------------------------------------------------

async def test_the_space_needs_a_login(island, visitors):
    anonymous = await visitors()
    for path in ("/espace", "/espace/nouveau?kind=fiche", "/espace/items/01aaaaaaaaaaaaaaaaaaaaaaaa/modifier"):
        status, _, location = await anonymous.get(path)
        assert status == 302 and location.startswith("/login?next=/espace"), path


async def test_the_space_lists_ones_items_and_moderators_see_all(island, visitors):
    alice, bob, mona = await visitors("alice"), await visitors("bob"), await visitors("mona")
    draft = await alice.create("fiche", {**FICHE_FORM, "title": "Fiche en cours", "coauthors": ""}, action="draft")
    published = await alice.create("resource", {**RESOURCE_FORM, "title": "Ressource publiée"})
    proposed = await bob.create("fiche", {**FICHE_FORM, "title": "Proposition de Bob", "coauthors": ""},
                                action="propose")

    _, page, _ = await alice.get("/espace")
    assert "Nouvelle fiche" in page and "Nouvelle ressource" in page
    assert 'href="' + island.url + '/espace/nouveau?kind=fiche"' in page
    rows = re.findall(r"<tr>.*?</tr>", page, re.DOTALL)
    text = [" ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in rows[1:]]
    assert len(text) == 2
    assert text[0].startswith("Ressource publiée Ressource de formation Publiée")
    assert text[1].startswith("Fiche en cours Fiche d'innovation Brouillon")
    assert "Proposition de Bob" not in page
    assert edit_path(draft) in page and f'href="{published}"' in page

    _, page, _ = await mona.get("/espace")
    assert "Toutes les publications de l'île" in page
    for title in ("Fiche en cours", "Ressource publiée", "Proposition de Bob"):
        assert title in page
    assert "Proposée à la relecture" in page and "Bob" in page and edit_path(proposed) in page

    _, page, _ = await bob.get("/espace?lang=en")
    assert "My items" in page
    assert "Submitted for review" in page and "Fiche en cours" not in page


# ---- creating ------------------------------------------------------------------------------------

async def test_a_fiche_with_every_field_is_stored_as_typed_and_sent(island, remote, visitors):
    await rosa_follows_alice(island, remote)
    alice = await visitors("alice")
    status, page, _ = await alice.get("/espace/nouveau?kind=fiche")
    assert status == 200 and "Nouvelle fiche" in page
    for heading in FICHE_SECTIONS.values():
        assert f">{heading}</label>" in page

    uri = await alice.create("fiche", FICHE_FORM)
    item, authors, history = await stored(island, uri)
    assert item.kind == "fiche" and item.state == "published" and item.is_local
    assert item.name == FICHE_FORM["title"]
    assert item.summary == FICHE_FORM["summary"]
    assert item.source == FICHE_FORM["source"]
    assert item.tags == ["Médiation numérique", "Inclusion"]
    assert item.language == "fr" and item.licence == "CC-BY-SA-4.0"
    assert item.fields["pitch"] == FICHE_FORM["pitch"]
    assert item.fields["sections"] == SECTIONS
    assert item.fields["steps"] == ["Repérer un lieu de proximité", "Former une personne relais\n(le « faire avec »)",
                                    "Équiper le lieu"]
    assert item.fields["holders"] == [
        {"name": "Ville de Brest", "kind": "organisation", "url": "https://www.brest.fr"},
        {"name": "Michel Briand", "kind": "person", "url": ""}]
    assert item.private_fields == {"contacts": [{"holder": 0, "contact": "papi@brest.example"}]}
    assert item.fields["territory"] == {"place": "Brest", "region": "Bretagne", "latitude": 48.3904,
                                        "longitude": -4.4861}
    assert (item.place, item.region, item.latitude, item.longitude) == ("Brest", "Bretagne", 48.3904, -4.4861)
    assert item.fields["audience"] == FICHE_FORM["audience"] and item.fields["started"] == "1997-09-01"
    assert item.fields["attribution"] == FICHE_FORM["attribution"]
    assert authors == [island.actor_uri("alice"), island.actor_uri("claire")]
    assert [revision.number for revision in history] == [1]
    assert history[0].editor_uri == island.actor_uri("alice")

    # Queued in the same transaction, then delivered to rosa's server, contacts left out.
    [create] = await outgoing(island, uri)
    assert create.activity_type == "Create"
    assert any(d.outgoing_id == create.id for d in await island.deliveries())
    received = await wait_for(lambda: [r for r in remote.received if r["activity"].get("type") == "Create"],
                              message="the Create at rosa's server")
    assert received[0]["verified"] is True and received[0]["activity"]["object"]["id"] == uri
    assert "papi@brest.example" not in str(received[0]["activity"])

    # The edit form shows back exactly what was typed.
    _, page, _ = await alice.get(edit_path(uri))
    shown = form_values(page)
    for name, value in FICHE_FORM.items():
        if name.startswith("holder-2"):
            continue
        assert shown[name] == value, name
    assert shown["state"] == "published"

    # The public page shows it rendered; the private contact is nowhere.
    status, page, _ = await alice.get(uri, Accept="text/html")
    assert status == 200
    assert "<strong>personne</strong>" in page and "Contexte et genèse</h2>" in page and "emploi</h2>" in page
    assert "papi@brest.example" not in page
    assert f'href="{uri}/historique"' in page


async def test_a_resource_with_every_field_saved_as_a_draft(island, visitors):
    alice = await visitors("alice")
    uri = await alice.create("resource", RESOURCE_FORM, action="draft")
    item, authors, history = await stored(island, uri)
    assert item.kind == "resource" and item.state == "draft"
    assert (item.name, item.summary, item.source) == (RESOURCE_FORM["title"], RESOURCE_FORM["summary"],
                                                      RESOURCE_FORM["source"])
    assert item.tags == ["Wiki", "Écriture collaborative"] and item.licence == "CC-BY-4.0"
    assert item.fields == {
        "learning_goals": ["Créer un compte", "Écrire une page", "Citer ses sources"],
        "audience": "Tout public", "duration": "PT2H", "format": "atelier",
        "prerequisites": "Savoir utiliser un navigateur.",
        "materials": [{"title": "Guide de l'animateur", "url": "https://wiki.example/guide"},
                      {"title": "", "url": "https://wiki.example/fiche"}],
        "related": ["https://ile.example/o/01aaaaaaaaaaaaaaaaaaaaaaaa"],
        "territory": {"place": "Brest", "region": "", "latitude": None, "longitude": None},
        "attribution": "", "files": [],
    }
    assert authors == [island.actor_uri("alice")] and history == []
    assert await outgoing(island, uri) == []  # a draft is not sent anywhere
    anonymous = await visitors()
    assert (await anonymous.get(uri, Accept="text/html"))[0] == 404
    assert (await anonymous.get(f"{uri}/historique"))[0] == 404
    assert (await alice.get(f"{uri}/historique"))[0] == 200  # its authors see it (empty)

    _, page, _ = await alice.get(edit_path(uri))
    shown = form_values(page)
    for name, value in RESOURCE_FORM.items():
        assert shown[name] == value, name

    # Publishing the draft later sends its first Create.
    status, _, location = await alice.edit(uri, {}, action="publish")
    assert status == 303 and location.endswith("?done=published")
    item, _, history = await stored(island, uri)
    assert item.state == "published" and [r.number for r in history] == [1]
    assert [o.activity_type for o in await outgoing(island, uri)] == ["Create"]


async def test_the_preview_button_works_without_script_and_saves_nothing(island, visitors):
    alice = await visitors("alice")
    before = await count_items(island)
    form = {**FICHE_FORM, "section-goals": "Un objectif **important**", "action": "preview"}
    status, page, _ = await alice.post("/espace/nouveau?kind=fiche", form)
    assert status == 200
    assert await count_items(island) == before
    preview = re.search(r'<div id="preview"[^>]*aria-live="polite">(.*?)</div>\s*</section>', page, re.DOTALL)
    assert "Un objectif <strong>important</strong>" in preview.group(1)
    assert form_values(page)["section-goals"] == "Un objectif **important**"  # values kept
    assert '<script src="' + island.url + '/static/editor.js" defer></script>' in page
    status, script, _ = await alice.get("/static/editor.js")
    assert status == 200 and "aria-live" in script and "X-CSRF-Token" in script


async def test_the_live_preview_renders_the_published_html(island, visitors):
    alice = await visitors("alice")
    fields = {"kind": "fiche", "title": "Titre <em>piégé</em>", "pitch": "Accroche",
              "section-advice": "Lire **ceci** <script>alert(1)</script> [x](javascript:alert(1))",
              "licence": "CC0-1.0", "steps": "Premier pas"}
    status, fragment, _ = await alice.post("/espace/apercu", fields, csrf=False, **{"X-CSRF-Token": alice.csrf})
    assert status == 200
    assert '<p class="preview-title">Titre &lt;em&gt;piégé&lt;/em&gt;</p>' in fragment
    assert "<h2>Conseils pour réutiliser</h2>" in fragment and "<strong>ceci</strong>" in fragment
    assert "<h2>Mode d'emploi</h2>" in fragment and "<li><p>Premier pas</p>" in fragment and "CC0 1.0" in fragment
    assert "<script" not in fragment and "&lt;script&gt;alert(1)&lt;/script&gt;" in fragment  # text, not markup
    assert "href=\"javascript" not in fragment.lower()

    status, fragment, _ = await alice.post("/espace/apercu", {**fields, "latitude": "500", "longitude": "1"},
                                           csrf=False, **{"X-CSRF-Token": alice.csrf})
    assert status == 200 and "Latitude" in fragment and "-90" in fragment
    assert "Corrigez ces erreurs pour voir l’aperçu" in fragment
    status, fragment, _ = await alice.post("/espace/apercu", {**fields, "latitude": "500", "longitude": "1"},
                                           csrf=False, **{"X-CSRF-Token": alice.csrf, "Accept-Language": "en"})
    assert status == 200 and "Fix these errors to see the preview:" in fragment and "Corrigez" not in fragment

    assert (await alice.post("/espace/apercu", fields, csrf=False))[0] == 403
    assert (await alice.post("/espace/apercu", fields, csrf=False, **{"X-CSRF-Token": "forged"}))[0] == 403


# ---- editing, history, diff ------------------------------------------------------------------------

async def test_an_edit_makes_revision_2_and_the_diff_shows_it(island, visitors):
    alice = await visitors("alice")
    uri = await alice.create("fiche", FICHE_FORM)
    status, _, location = await alice.edit(uri, {
        "title": "Les PAPI de Brest", "section-goals": "- réduire les inégalités d'accès\n- ouvrir le soir",
        "themes": "Médiation numérique, Inclusion, Éducation populaire"})
    assert status == 303 and location == edit_path(uri) + "?done=saved"

    item, _, history = await stored(island, uri)
    assert [r.number for r in history] == [2, 1]
    assert history[0].editor_uri == island.actor_uri("alice")
    assert item.name == "Les PAPI de Brest"
    assert item.fields["sections"]["goals"].endswith("ouvrir le soir")
    assert item.fields["sections"]["genesis"] == SECTIONS["genesis"]  # the rest is unchanged
    assert item.private_fields == {"contacts": [{"holder": 0, "contact": "papi@brest.example"}]}
    assert [o.activity_type for o in await outgoing(island, uri)] == ["Create", "Update"]

    anonymous = await visitors()
    status, page, _ = await anonymous.get(f"{uri}/historique")
    assert status == 200 and "Historique de « Les PAPI de Brest »" in page
    assert f'href="{uri}/historique/1/2"' in page and "Alice" in page

    status, page, _ = await anonymous.get(f"{uri}/historique/1/2")
    assert status == 200 and "Changements entre les versions 1 et 2" in page
    assert '<h2 id="change-1">Titre</h2>' in page
    # Word by word: « Les » stays, the words that changed are marked.
    assert ('<span class="line changed">Les <del><span class="visually-hidden">Retiré : </span>'
            'Points d&#39;Accès Public à Internet</del><ins><span class="visually-hidden">Ajouté : </span>'
            'PAPI de Brest</ins></span>') in page
    assert ">Objectifs</h2>" in page and ('<span class="line changed">- <del><span class="visually-hidden">Retiré : '
                                         '</span>favoriser l&#39;appropriation</del><ins><span class="visually-hidden">'
                                         'Ajouté : </span>ouvrir le soir</ins></span>') in page
    assert ">Thèmes</h2>" in page
    assert "Contexte et genèse" not in page  # unchanged sections are not shown

    status, page, _ = await anonymous.get(f"{uri}/historique/1/2?lang=en")
    assert status == 200 and "Changes between versions 1 and 2" in page
    assert ">Title</h2>" in page and ">Goals</h2>" in page and ">Themes</h2>" in page
    assert (await anonymous.get(f"{uri}/historique/1/9"))[0] == 404


async def test_archiving_through_the_form_and_no_way_back_to_draft(island, visitors):
    alice = await visitors("alice")
    uri = await alice.create("fiche", FICHE_FORM)
    status, page, _ = await alice.edit(uri, {"state": "draft"})
    assert status == 400 and 'role="alert"' in page and "brouillon" in errors_in(page)
    assert (await stored(island, uri))[0].state == "published"

    status, _, _ = await alice.edit(uri, {"state": "archived"})
    assert status == 303
    item, _, history = await stored(island, uri)
    assert item.state == "archived" and len(history) == 2
    assert [o.activity_type for o in await outgoing(island, uri)] == ["Create", "Update"]
    assert (await alice.get(uri, Accept="text/html"))[0] == 200  # an archived fiche stays readable


async def test_co_authors_can_be_changed_and_must_be_local_people(island, visitors):
    alice, claire = await visitors("alice"), await visitors("claire")
    uri = await alice.create("fiche", {**FICHE_FORM, "coauthors": ""})
    assert (await claire.get(edit_path(uri)))[0] == 403
    status, _, _ = await alice.edit(uri, {"coauthors": "@claire, bob"})
    assert status == 303
    assert (await stored(island, uri))[1] == [island.actor_uri(name) for name in ("alice", "claire", "bob")]
    assert (await claire.get(edit_path(uri)))[0] == 200
    assert (await claire.edit(uri, {"summary": "Revu par Claire"}))[0] == 303
    item, _, history = await stored(island, uri)
    assert item.summary == "Revu par Claire" and history[0].editor_uri == island.actor_uri("claire")

    for wrong in ("nobody", island.island_username, "rosa@elsewhere.example"):
        status, page, _ = await alice.edit(uri, {"coauthors": f"claire, {wrong}", "title": "Ne change pas"})
        assert status == 400, wrong
        assert wrong.split("@")[0] in errors_in(page)
        assert form_values(page)["title"] == "Ne change pas"  # what was typed is kept
    item, authors, _ = await stored(island, uri)
    assert item.name == FICHE_FORM["title"] and len(authors) == 3  # nothing saved


async def test_an_article_is_edited_with_its_own_fields(island, visitors):
    uri = await island.publish("alice", "Un article", "Du *texte*.", tags=["vélo"])
    alice = await visitors("alice")
    _, page, _ = await alice.get(edit_path(uri))
    shown = form_values(page)
    assert (shown["title"], shown["source"], shown["themes"]) == ("Un article", "Du *texte*.", "vélo")
    for absent in ("section-goals", "pitch", "licence", "learning_goals", "latitude", "attribution"):
        assert absent not in shown, absent
    status, _, _ = await alice.edit(uri, {"source": "Du *texte* revu."})
    assert status == 303
    item, _, history = await stored(island, uri)
    assert item.source == "Du *texte* revu." and item.licence is None and len(history) == 2


# ---- permissions ---------------------------------------------------------------------------------

async def test_only_authors_and_moderators_edit_or_withdraw(island, visitors):
    alice, bob, mona = await visitors("alice"), await visitors("bob"), await visitors("mona")
    uri = await alice.create("fiche", {**FICHE_FORM, "coauthors": ""})

    status, page, _ = await bob.get(edit_path(uri))
    assert status == 403 and "Seul·es les auteur·ices" in page
    status, _, _ = await bob.post(edit_path(uri), {**FICHE_FORM, "title": "Pris par Bob", "action": "save"})
    assert status == 403
    assert (await bob.post(f"{edit_path(uri).removesuffix('/modifier')}/retirer", {"confirm": "yes"}))[0] == 403
    item, _, history = await stored(island, uri)
    assert item.name == FICHE_FORM["title"] and item.deleted_at is None and len(history) == 1
    assert (await bob.post("/espace/items/01aaaaaaaaaaaaaaaaaaaaaaaa/modifier", {}))[0] == 404
    assert (await bob.get("/espace/items/not-a-ulid/modifier"))[0] == 404

    status, _, _ = await mona.edit(uri, {"pitch": "Relu par la modération"})
    assert status == 303
    item, _, history = await stored(island, uri)
    assert item.fields["pitch"] == "Relu par la modération" and history[0].editor_uri == island.actor_uri("mona")

    status, _, location = await mona.post(f"{edit_path(uri).removesuffix('/modifier')}/retirer", {"confirm": "yes"})
    assert status == 303 and location == "/espace?done=withdrawn"
    item, _, _ = await stored(island, uri)
    assert item.deleted_at is not None
    delete = (await outgoing(island, uri))[-1]
    async with island.sessions() as session:
        alice_id = (await session.scalar(select(LocalActor).where(LocalActor.username == "alice"))).id
    assert delete.activity_type == "Delete" and delete.actor_id == alice_id  # sent as the author who created it


async def test_withdrawing_needs_the_confirmation(island, visitors):
    alice = await visitors("alice")
    uri = await alice.create("fiche", FICHE_FORM)
    withdraw = f"{edit_path(uri).removesuffix('/modifier')}/retirer"
    status, page, _ = await alice.post(withdraw, {})
    assert status == 400 and 'role="alert"' in page and "Cochez la case" in page
    assert (await stored(island, uri))[0].deleted_at is None

    status, _, location = await alice.post(withdraw, {"confirm": "yes"})
    assert status == 303
    _, page, _ = await alice.get(location)
    assert "L'élément a été retiré" in page and FICHE_FORM["title"] not in page.replace("&#39;", "'")
    assert (await alice.get(uri, Accept="text/html"))[0] == 410
    assert (await alice.get(f"{uri}/historique"))[0] == 410
    status, page, _ = await alice.get(edit_path(uri))
    assert status == 410 and "retiré" in page
    assert [o.activity_type for o in await outgoing(island, uri)] == ["Create", "Delete"]


async def test_items_from_other_islands_cannot_be_edited(island, visitors):
    # An item received from elsewhere, stored under an id this route can reach (the way a stale
    # link or a hand-typed URL would), must be refused by the domain with a clear message.
    uri = f"{island.url}/o/01bbbbbbbbbbbbbbbbbbbbbbbb"
    async with island.sessions() as session:
        session.add(StoredObject(uri=uri, is_local=False, type="Article", kind="fiche", state="published",
                                 author_uri="https://autre.example/users/zoe", name="Fiche d'ailleurs",
                                 content="<p>texte</p>", fields={}, private_fields={}, tags=[]))
        await session.commit()
    mona = await visitors("mona")
    status, page, _ = await mona.get(edit_path(uri))
    assert status == 403 and "vient d&#39;une autre île" in page
    status, page, _ = await mona.post(edit_path(uri), {**FICHE_FORM, "action": "save"})
    assert status == 403 and "vient d&#39;une autre île" in page
    assert (await stored(island, uri))[0].name == "Fiche d'ailleurs"


# ---- bad input -----------------------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def test_html_in_every_field_is_kept_as_text_and_shown_harmless(island, visitors):
    alice = await visitors("alice")
    form = {name: (f"{value} {HOSTILE}" if value and not name.startswith("holder-") and name not in (
        "latitude", "longitude", "started", "language", "licence", "coauthors", "themes") else value)
        for name, value in FICHE_FORM.items()}
    form.update({"holder-0-name": f"Ville {HOSTILE}", "holder-0-url": "javascript:alert(1)",
                 "themes": "<b>gras</b>, inclusion"})
    status, page, _ = await alice.post("/espace/nouveau?kind=fiche", {**form, "action": "publish"})
    assert status == 400 and "javascript:alert(1)" in errors_in(page)  # a link must be a web address
    assert form_values(page)["holder-0-url"] == "javascript:alert(1)"
    assert "<script>alert" not in page

    form["holder-0-url"] = "https://www.brest.fr"
    uri = await alice.create("fiche", form)
    item, _, _ = await stored(island, uri)
    assert item.name == f"{FICHE_FORM['title']} {HOSTILE}"  # text is text: kept as typed
    assert item.fields["sections"]["goals"] == f"{SECTIONS['goals']} {HOSTILE}"
    assert item.fields["pitch"].endswith(HOSTILE) and item.fields["holders"][0]["name"].endswith(HOSTILE)
    assert "<script" not in item.summary  # a summary is plain text
    for page_path in (uri, edit_path(uri), "/espace", f"{uri}/historique"):
        status, page, _ = await alice.get(page_path, Accept="text/html")
        assert status == 200, page_path
        assert "<script>alert" not in page and not re.search(r"<img[^>]*onerror", page), page_path
        assert "&lt;script&gt;alert(" in page, page_path  # shown as the text that was typed
    status, fragment, _ = await alice.post("/espace/apercu", {**form, "kind": "fiche"})
    assert status == 200 and "<script>alert" not in fragment and not re.search(r"<img[^>]*onerror", fragment)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"title": "   "}, "title", "Le titre est obligatoire."),
    ({"latitude": "500"}, "latitude", "« Latitude » doit être un nombre entre -90 et 90."),
    ({"longitude": "abc"}, "longitude", "« Longitude » doit être un nombre entre -180 et 180."),
    ({"latitude": "", "longitude": "-4.4"}, "latitude", "Indiquez la latitude et la longitude"),
    ({"section-advice": "x" * (MAX_TEXT + 1)}, "section-advice", "« Conseils pour réutiliser » dépasse"),
    ({"title": "t" * 301}, "title", "Le titre dépasse 300 caractères."),
    ({"summary": "r" * 1001}, "summary", "« Résumé » dépasse"),
    ({"pitch": "p" * 501}, "pitch", "« Accroche » dépasse"),
    ({"licence": "WTFPL"}, "licence", "Choisissez une licence de la liste."),
    ({"language": "klingon"}, "language", "Choisissez une langue de la liste."),
    ({"started": "1er septembre"}, "started", "AAAA-MM-JJ"),
    ({"holder-1-name": "", "holder-1-url": "https://example.org"}, "holder-1-name", "Porteur n° 2 : le nom"),
    ({"holder-0-kind": "robot"}, "holder-0-kind", "Porteur n° 1 : choisissez"),
    ({"coauthors": "personne"}, "coauthors", "« personne » n'est pas un·e utilisateur·ice de cette île."),
    ({"themes": ", ".join(f"thème {n}" for n in range(21))}, "themes", "Pas plus de 20 thèmes."),
])
async def test_bad_input_is_refused_next_to_the_field_and_nothing_is_saved(island, visitors, changes, field,
                                                                           message):
    alice = await visitors("alice")
    before = await count_items(island)
    status, page, _ = await alice.post("/espace/nouveau?kind=fiche", {**FICHE_FORM, **changes, "action": "publish"})
    assert status == 400
    assert await count_items(island) == before
    assert message in errors_in(page)
    assert f'id="e-{field}"' in page and re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', page)
    shown = form_values(page)
    for name in ("section-genesis", "pitch", "holder-0-contact", "region"):  # everything typed is still there
        if name not in changes:
            assert shown[name] == FICHE_FORM[name], name


@pytest.mark.parametrize(("changes", "message"), [
    ({"format": "podcast"}, "Choisissez un format de la liste."),
    ({"materials": "Guide | ftp://example.org/guide"}, "n'est pas une adresse web"),
    ({"related": "pas une adresse"}, "n'est pas une adresse web"),
    ({"prerequisites": "p" * (MAX_TEXT + 1)}, "« Prérequis » dépasse"),
    ({"learning_goals": "\n".join(f"objectif {n}" for n in range(51))}, "plus de 50 lignes"),
])
async def test_bad_resource_input(island, visitors, changes, message):
    alice = await visitors("alice")
    before = await count_items(island)
    status, page, _ = await alice.post("/espace/nouveau?kind=resource", {**RESOURCE_FORM, **changes,
                                                                         "action": "draft"})
    assert status == 400 and message in errors_in(page)
    assert await count_items(island) == before


async def test_a_refused_edit_changes_nothing(island, visitors):
    alice = await visitors("alice")
    uri = await alice.create("fiche", FICHE_FORM)
    status, page, _ = await alice.edit(uri, {"title": "Nouveau titre", "coauthors": "", "latitude": "500"})
    assert status == 400 and "Latitude" in errors_in(page)
    assert form_values(page)["title"] == "Nouveau titre"
    item, authors, history = await stored(island, uri)
    assert item.name == FICHE_FORM["title"] and len(authors) == 2 and len(history) == 1
    assert [o.activity_type for o in await outgoing(island, uri)] == ["Create"]


async def test_every_post_needs_the_csrf_token(island, visitors):
    alice = await visitors("alice")
    uri = await alice.create("fiche", FICHE_FORM)
    before = await count_items(island)
    withdraw = f"{edit_path(uri).removesuffix('/modifier')}/retirer"
    for path, data in (("/espace/nouveau?kind=fiche", {**FICHE_FORM, "action": "publish"}),
                       (edit_path(uri), {**FICHE_FORM, "title": "Forgé", "action": "save"}),
                       (withdraw, {"confirm": "yes"}),
                       ("/espace/apercu", {"kind": "fiche", "title": "x"})):
        assert (await alice.post(path, data, csrf=False))[0] == 403, path
        assert (await alice.post(path, {**data, "csrf_token": "forged"}, csrf=False))[0] == 403, path
    item, _, history = await stored(island, uri)
    assert await count_items(island) == before and item.name == FICHE_FORM["title"] and item.deleted_at is None
    assert len(history) == 1


async def test_unknown_kinds_are_refused(island, visitors):
    alice = await visitors("alice")
    assert (await alice.get("/espace/nouveau?kind=article"))[0] == 400
    assert (await alice.post("/espace/nouveau?kind=video", {"title": "x"}))[0] == 400


# ---- languages -----------------------------------------------------------------------------------

async def test_the_form_in_english(island, visitors):
    alice = await visitors("alice")
    status, page, _ = await alice.get("/espace/nouveau?kind=fiche&lang=en")
    assert status == 200 and '<html lang="en">' in page
    assert "New sheet" in page and "Background and origins" in page and "Publish" in page
    status, page, _ = await alice.post("/espace/nouveau?kind=fiche", {**FICHE_FORM, "latitude": "500",
                                                                     "action": "publish"})
    assert status == 400 and "Latitude" in errors_in(page) and "must be a number between -90 and 90" in page


def test_every_label_of_a_diff_and_every_section_has_an_english_name():
    with (i18n.LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        english = {message.id: message.string for message in read_po(po, locale="en") if message.id}
    for label in revisions._as_lines({}):
        assert forms.diff_label("fr", label) == label
        assert english.get(label), label
    assert [heading for heading, _ in forms.section_labels("fr").values()] == list(FICHE_SECTIONS.values())
    assert Path(forms.__file__).parent.joinpath("static", "editor.js").is_file()
