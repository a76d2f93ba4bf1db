"""Open contribution over real HTTP on a real island: the public form (no account), its protections
(honeypot, sizes, links, rate limit behind a trusted proxy, CSRF), the proposer's private status
page, and the moderators' queue (edit, accept with credit, refuse with a reason, journal)."""

from __future__ import annotations

import html as html_lib
import re

import aiohttp
import pytest
from sqlalchemy import func, select

from archipel import audit, content, revisions
from archipel.storage.tables import ModerationEntry, Notification, OutgoingMail, Proposal
from federation import documents
from federation.items import item_columns
from tests.archipel.test_mail import smtp  # noqa: F401 (fixture)
from tests.nodes import wait_for
from web import provision

PASSWORD = "correct horse battery"
SCRIPT = "<script>alert('x')</script>"

FICHE = {
    "kind": "fiche",
    "title": "Le jardin partagé des Capucins",
    "pitch": "Un potager en pied d'immeuble cultivé par les voisin·es",
    "source": "Tout a commencé par une **friche** et une grainothèque.",
    "section-genesis": "Une friche derrière la médiathèque.",
    "section-advice": "Commencer par trois bacs.",
    "place": "Brest", "region": "Bretagne", "audience": "Habitant·es du quartier",
    "themes": "Alimentation, Lien social", "language": "fr", "licence": "CC-BY-SA-4.0",
    "name": "Zoé Martin", "email": "zoe@example.org", "credit": "yes",
}


class Client:
    """A browser-like HTTP client: keeps cookies (IP hosts included) and the page's CSRF token."""

    def __init__(self, node, http: aiohttp.ClientSession):
        self.node, self.http, self.csrf = node, http, ""

    async def get(self, path: str, **headers) -> tuple[int, str, str | None]:
        async with self.http.get(self.node.url + path, allow_redirects=False, headers=headers) as response:
            text = await response.text()
            found = re.search(r'name="csrf_token" value="([^"]+)"', text)
            if found:
                self.csrf = found.group(1)
            return response.status, text, response.headers.get("Location")

    async def post(self, path: str, data: dict, *, csrf: bool = True, **headers) -> tuple[int, str, str | None]:
        if csrf:
            data = {"csrf_token": self.csrf, **data}
        async with self.http.post(self.node.url + path, data=data, allow_redirects=False,
                                  headers=headers) as response:
            return response.status, await response.text(), response.headers.get("Location")

    async def login(self, username: str) -> Client:
        await self.get("/login")
        status, _, _ = await self.post("/login", {"username": username, "password": PASSWORD})
        assert status == 303
        await self.get("/espace")
        return self

    async def propose(self, form: dict, path: str = "/proposer", **headers) -> tuple[int, str, str | None]:
        await self.get(path, **headers)
        return await self.post("/proposer", form, **headers)


@pytest.fixture
async def clients(island):
    await provision.add_user(island.sessions, username="mona", password=PASSWORD, display_name="Mona",
                             role="moderator")
    await provision.add_user(island.sessions, username="gwen", password=PASSWORD, display_name="Gwen",
                             role="admin")
    sessions = []

    async def make(username: str | None = None, node=None) -> Client:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(http)
        client = Client(node or island, http)
        return await client.login(username) if username else client

    yield make
    for http in sessions:
        await http.close()


async def all_proposals(node) -> list[Proposal]:
    async with node.sessions() as session:
        return list(await session.scalars(select(Proposal).order_by(Proposal.id)))


def token_of(location: str) -> str:
    return re.fullmatch(r"/proposition/([A-Za-z0-9_-]+)\?envoyee=1", location).group(1)


def alert_text(page: str) -> str:
    found = re.search(r'<div role="alert" class="errors".*?</div>', page, re.DOTALL)
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0)))) if found else ""


# ---- proposing ---------------------------------------------------------------------------------

async def test_a_visitor_proposes_a_fiche_without_an_account(island, clients):
    visitor = await clients()
    status, page, _ = await visitor.get("/")
    assert 'href="' + island.url + '/proposer"' in page  # offered from every page
    status, page, _ = await visitor.get("/proposer")
    assert status == 200 and "Proposer une fiche" in page
    assert "n'envoie pas encore d'e-mails" in page  # no SMTP here: the status link is the channel
    assert "restent privés" in page and 'aria-hidden="true"' in page and 'tabindex="-1"' in page
    status, _, location = await visitor.post("/proposer", FICHE)
    assert status == 303
    token = token_of(location)

    status, page, _ = await visitor.get(location)
    assert status == 200 and "Merci" in page and f"{island.url}/proposition/{token}" in page
    assert "En attente de relecture" in page

    [proposal] = await all_proposals(island)
    assert proposal.state == "pending" and proposal.origin == "form" and proposal.kind == "new"
    assert proposal.token_hash != token and token not in proposal.token_hash  # only its hash is kept
    assert proposal.proposer_name == "Zoé Martin" and proposal.proposer_email == "zoe@example.org"
    assert proposal.fields["title"] == FICHE["title"]
    assert proposal.fields["data"]["pitch"] == FICHE["pitch"]
    assert proposal.fields["data"]["sections"] == {"genesis": "Une friche derrière la médiathèque.",
                                                   "advice": "Commencer par trois bacs."}
    assert proposal.fields["tags"] == ["Alimentation", "Lien social"]
    async with island.sessions() as session:
        notified = list(await session.scalars(select(Notification).where(Notification.kind == "proposal")))
    assert len(notified) == 2 and {n.detail for n in notified} == {FICHE["title"]}  # mona and gwen

    # Neither the name nor the address appear anywhere public.
    status, page, _ = await visitor.get(f"/proposition/{token}")
    assert "zoe@example.org" not in page
    async with visitor.http.get(f"{island.url}/proposition/{token}") as response:
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "noindex" in response.headers["X-Robots-Tag"]
    assert (await visitor.get("/proposition/not-a-token"))[0] == 404


async def test_missing_fields_are_explained_and_nothing_is_saved(island, clients):
    visitor = await clients()
    status, page, _ = await visitor.propose({"kind": "fiche", "title": "", "name": "Zoé", "email": "pas une adresse"})
    assert status == 400
    text = alert_text(page)
    assert "Le titre est obligatoire." in text and "adresse e-mail" in text
    assert 'value="Zoé"' in page  # what was typed is kept
    status, page, _ = await visitor.propose({"kind": "fiche", "title": "Un titre seul"})
    assert status == 400 and "une accroche ou un texte" in alert_text(page)
    assert await all_proposals(island) == []


async def test_scripts_in_every_field_are_kept_as_text_and_shown_harmless(island, clients):
    visitor = await clients()
    form = {name: SCRIPT for name in FICHE if name not in ("kind", "language", "licence", "credit", "email")}
    form.update(kind="fiche", language="fr", licence="CC-BY-SA-4.0", credit="yes")
    status, _, location = await visitor.propose(form)
    assert status == 303
    [proposal] = await all_proposals(island)
    assert proposal.fields["title"] == SCRIPT and proposal.proposer_name == SCRIPT
    status, page, _ = await visitor.get(location)
    assert SCRIPT not in page and "&lt;script&gt;" in page

    moderator = await clients("mona")
    status, page, _ = await moderator.get(f"/espace/moderation/propositions/{proposal.id}")
    assert status == 200 and SCRIPT not in page
    status, page, _ = await moderator.get("/espace/moderation")
    assert SCRIPT not in page
    await moderator.post(f"/espace/moderation/propositions/{proposal.id}", {**form, "action": "accept"})
    [proposal] = await all_proposals(island)
    assert proposal.state == "accepted"
    item = await island.object(proposal.published_uri)
    assert "<script" not in item.content
    status, page, _ = await visitor.get(item.uri.removeprefix(island.url))
    assert status == 200 and SCRIPT not in page


async def test_a_filled_honeypot_gets_the_same_thanks_and_nothing_is_kept(island, clients):
    """Chosen: accepted-but-dropped. Telling a bot would teach it to leave the field empty; a person
    never sees the field (off-screen, hidden from screen readers, out of the tab order)."""
    bot = await clients()
    status, page, _ = await bot.propose({**FICHE, "reference_dossier": "1 rue des Robots"})
    assert status == 200 and "Merci" in page
    assert await all_proposals(island) == []


async def test_too_many_links_are_refused_clearly(make_island, clients):
    node = await make_island("liens", proposal_max_links=3)
    visitor = await clients(node=node)
    links = " ".join(f"https://spam{n}.example/" for n in range(4))
    status, page, _ = await visitor.propose({**FICHE, "source": f"Voyez {links}"})
    assert status == 400 and "trop de liens (4 ; 3 au plus)" in alert_text(page)
    assert f"Voyez {links}" in html_lib.unescape(page)  # the text stays in the form to be trimmed
    assert await all_proposals(node) == []
    status, _, _ = await visitor.propose({**FICHE, "source": "Voyez https://un.example/ et www.deux.example"})
    assert status == 303


async def test_size_limits(make_island, clients):
    node = await make_island("taille", proposal_max_chars=500)
    visitor = await clients(node=node)
    status, page, _ = await visitor.propose({**FICHE, "source": "a" * 600})
    assert status == 400 and "trop longue" in alert_text(page)
    status, page, _ = await visitor.propose({**FICHE, "title": "t" * 301})
    assert status == 400 and "Le titre dépasse 300 caractères." in alert_text(page)
    status, page, _ = await visitor.propose({**FICHE, "name": "n" * 201})
    assert status == 400
    assert await all_proposals(node) == []


async def test_the_rate_limit_sees_the_real_address_behind_a_trusted_proxy(make_island, clients):
    node = await make_island("proxy", trusted_proxies=("127.0.0.1",), proposals_per_hour=2)
    visitor = await clients(node=node)
    alice = {"X-Forwarded-For": "203.0.113.7"}
    for _ in range(2):
        assert (await visitor.propose(FICHE, **alice))[0] == 303
    status, page, _ = await visitor.propose(FICHE, **alice)
    assert status == 429 and "Réessayez dans" in alert_text(page)
    assert FICHE["title"] in page  # nothing typed is lost
    # Another visitor behind the same proxy is not punished for the first one.
    assert (await visitor.propose(FICHE, **{"X-Forwarded-For": "198.51.100.9"}))[0] == 303
    assert len(await all_proposals(node)) == 3


async def test_forged_forwarded_for_from_an_untrusted_client_does_not_escape_the_limit(make_island, clients):
    node = await make_island("direct", proposals_per_hour=2)  # no trusted proxy: X-Forwarded-For is a lie
    visitor = await clients(node=node)
    statuses = [(await visitor.propose(FICHE, **{"X-Forwarded-For": f"192.0.2.{n}"}))[0] for n in range(4)]
    assert statuses == [303, 303, 429, 429]
    assert len(await all_proposals(node)) == 2


async def test_the_form_needs_its_csrf_token(island, clients):
    visitor = await clients()
    await visitor.get("/proposer")
    status, _, _ = await visitor.post("/proposer", FICHE, csrf=False)
    assert status == 403
    async with aiohttp.ClientSession() as cookieless:  # a bot posting straight at the form
        async with cookieless.post(f"{island.url}/proposer", data={**FICHE, "csrf_token": "x"}) as response:
            assert response.status == 403
    assert await all_proposals(island) == []


# ---- moderating ----------------------------------------------------------------------------------

async def test_only_moderators_and_admins_see_the_queue(island, clients):
    anonymous = await clients()
    status, _, location = await anonymous.get("/espace/moderation")
    assert status == 302 and location.startswith("/login")
    author = await clients("alice")
    for path in ("/espace/moderation", "/espace/moderation/journal", "/espace/moderation/propositions/1"):
        assert (await author.get(path))[0] == 403
    assert (await author.post("/espace/moderation/propositions/1/refuser", {"reason": "non"}))[0] == 403
    for username in ("mona", "gwen"):
        moderator = await clients(username)
        status, page, _ = await moderator.get("/espace/moderation")
        assert status == 200
        for link in ("/espace/moderation/signalements", "/espace/moderation/blocages", "/espace/moderation/journal"):
            assert link in page


async def test_a_moderator_edits_and_accepts_it_is_published_with_credit(island, clients):
    visitor = await clients()
    _, _, location = await visitor.propose(FICHE)
    token = token_of(location)
    [proposal] = await all_proposals(island)

    moderator = await clients("mona")
    status, page, _ = await moderator.get("/espace/moderation")
    assert FICHE["title"] in page and "Zoé Martin" in page and "Formulaire" in page
    status, page, _ = await moderator.get(f"/espace/moderation/propositions/{proposal.id}")
    assert status == 200 and "friche" in page and "Proposée par Zoé Martin." in page
    assert "zoe@example.org" not in page  # private even to moderators: they only know there is one

    edited = {**FICHE, "title": "Le jardin partagé des Capucins (Brest)", "action": "accept"}
    status, _, location = await moderator.post(f"/espace/moderation/propositions/{proposal.id}", edited)
    assert status == 303 and location == "/espace/moderation?done=accepted"

    [proposal] = await all_proposals(island)
    assert proposal.state == "accepted" and proposal.proposer_email is None  # erased once the mail is queued
    item = await island.object(proposal.published_uri)
    assert item.name == "Le jardin partagé des Capucins (Brest)" and item.state == "published"
    assert item.author_uri == island.actor_uri(island.island_username)  # the island publishes it
    assert item.fields["attribution"] == "Proposée par Zoé Martin."
    assert "Proposée par Zoé Martin." in item.content  # shown on the page...
    async with island.sessions() as session:
        document = documents.object_document(item, island.url, authors=await content.authors_of(session, item))
        entries = list(await session.scalars(select(ModerationEntry).order_by(ModerationEntry.id)))
        [mail] = list(await session.scalars(select(OutgoingMail)))
    assert document["details"]["fields"]["attribution"] == "Proposée par Zoé Martin."  # ...and federated
    assert item_columns(document)["fields"] == item.fields  # losslessly
    assert [(e.action, e.subject) for e in entries] == [("edit_proposal", f"proposal:{proposal.id}"),
                                                        ("accept_proposal", f"proposal:{proposal.id}")]
    assert entries[0].details["changed"] == ["title"]
    assert mail.to_address == "zoe@example.org" and proposal.published_uri in mail.body and mail.state == "pending"

    status, page, _ = await visitor.get(f"/proposition/{token}")
    assert "Acceptée et publiée" in page and proposal.published_uri in page
    status, page, _ = await visitor.get(item.uri.removeprefix(island.url))
    assert status == 200 and "Proposée par Zoé Martin." in page

    # A decided proposal cannot be decided again.
    status, _, _ = await moderator.post(f"/espace/moderation/propositions/{proposal.id}/refuser", {"reason": "non"})
    assert status == 409


async def test_credit_without_the_name_when_the_proposer_prefers(island, clients):
    visitor = await clients()
    form = {key: value for key, value in FICHE.items() if key != "credit"}
    await visitor.propose(form)
    [proposal] = await all_proposals(island)
    moderator = await clients("mona")
    await moderator.post(f"/espace/moderation/propositions/{proposal.id}", {**form, "action": "accept"})
    [proposal] = await all_proposals(island)
    item = await island.object(proposal.published_uri)
    assert item.fields["attribution"] == "Proposée par une personne de passage." and "Zoé" not in item.content


async def test_a_refusal_needs_a_reason_and_the_proposer_reads_it(island, clients):
    visitor = await clients()
    _, _, location = await visitor.propose({**FICHE, "email": ""})
    token = token_of(location)
    [proposal] = await all_proposals(island)
    moderator = await clients("gwen")
    await moderator.get(f"/espace/moderation/propositions/{proposal.id}")
    status, page, _ = await moderator.post(f"/espace/moderation/propositions/{proposal.id}/refuser", {"reason": "  "})
    assert status == 400 and "Donnez une raison" in page
    assert (await all_proposals(island))[0].state == "pending"
    reason = "Cette initiative est déjà décrite : voyez la fiche « Jardins de Brest »."
    status, _, location = await moderator.post(f"/espace/moderation/propositions/{proposal.id}/refuser",
                                               {"reason": reason})
    assert status == 303 and location == "/espace/moderation?done=refused"
    status, page, _ = await visitor.get(f"/proposition/{token}")
    assert "Non retenue" in page and html_lib.escape(reason) in page
    async with island.sessions() as session:
        [entry] = await audit.recent(session)
        assert await session.scalar(select(func.count(OutgoingMail.id))) == 0  # no address, no mail
    assert entry.action == "refuse_proposal" and entry.reason == reason
    status, page, _ = await moderator.get("/espace/moderation")
    assert "refusée" in page and "Gwen" in page


async def test_an_improvement_is_shown_as_a_diff_and_becomes_a_revision(island, clients):
    author = await clients("alice")
    await author.get("/espace/nouveau?kind=fiche")
    form = {"title": "Repair café", "pitch": "On répare ensemble", "source": "Un samedi par mois.",
            "steps": "Trouver une salle", "holder-0-name": "Asso Répare", "holder-0-kind": "organisation",
            "holder-0-url": "", "holder-0-contact": "secret@repare.example", "place": "Brest", "latitude": "48.39",
            "longitude": "-4.49", "themes": "Réparation", "language": "fr", "licence": "CC-BY-4.0",
            "action": "publish"}
    status, _, location = await author.post("/espace/nouveau?kind=fiche", form)
    assert status == 303
    ulid = re.search(r"/items/([0-9a-z]{26})/", location).group(1)
    uri = f"{island.url}/o/{ulid}"

    visitor = await clients()
    status, page, _ = await visitor.get(f"/o/{ulid}")
    assert f"/proposer?item={ulid}" in page
    status, page, _ = await visitor.get(f"/proposer?item={ulid}")
    assert status == 200 and "Proposer une amélioration" in page and "On répare ensemble" in page
    improved = {"kind": "fiche", "item": ulid, "title": "Repair café", "pitch": "On répare ensemble, et on apprend",
                "source": "Un samedi par mois.", "place": "Brest", "themes": "Réparation", "name": "Yann", "credit": "yes"}
    status, _, location = await visitor.post("/proposer", improved)
    assert status == 303
    status, page, _ = await visitor.get(location)  # the proposer sees their changes too
    # Word by word: the words added are marked, not the whole line.
    marked = ('<span class="line changed">On répare ensemble<ins><span class="visually-hidden">Ajouté : </span>'
              ', et on apprend</ins></span>')
    assert "Changements proposés" in page and marked in page
    [proposal] = await all_proposals(island)
    assert proposal.kind == "edit" and proposal.target_uri == uri and proposal.item_kind == "fiche"

    moderator = await clients("mona")
    status, page, _ = await moderator.get(f"/espace/moderation/propositions/{proposal.id}")
    assert "Changements proposés" in page and "Accroche" in page
    assert marked in page
    status, _, _ = await moderator.post(f"/espace/moderation/propositions/{proposal.id}",
                                        {**improved, "action": "accept"})
    assert status == 303
    async with island.sessions() as session:
        item = await content.find_object(session, uri)
        history = await revisions.history(session, item)
    assert item.fields["pitch"] == "On répare ensemble, et on apprend"
    assert item.fields["attribution"] == "Amélioration proposée par Yann."
    # What the visitor could not see is kept: steps, holders and their private contact, coordinates.
    assert item.fields["steps"] == ["Trouver une salle"] and item.fields["holders"][0]["name"] == "Asso Répare"
    assert item.private_fields == {"contacts": [{"holder": 0, "contact": "secret@repare.example"}]}
    assert (item.latitude, item.longitude, item.licence) == (48.39, -4.49, "CC-BY-4.0")
    assert [r.number for r in history] == [2, 1] and history[0].editor_uri == island.actor_uri("mona")


async def test_improving_something_that_is_not_a_local_published_item_is_refused(island, clients):
    visitor = await clients()
    assert (await visitor.get("/proposer?item=01aaaaaaaaaaaaaaaaaaaaaaaa"))[0] == 404
    assert (await visitor.get("/proposer?item=../../etc"))[0] == 404
    assert (await visitor.get("/proposer?kind=article"))[0] == 400


async def test_the_journal_is_paginated(island, clients):
    async with island.sessions() as session:
        for number in range(60):
            await audit.record(session, moderator=None, action="refuse_proposal", subject=f"proposal:{number}",
                               reason=f"raison {number}", title=f"Proposition {number}")
        await session.commit()
    moderator = await clients("mona")
    status, page, _ = await moderator.get("/espace/moderation/journal")
    assert status == 200 and "raison 59" in page and "raison 10" in page and "raison 9<" not in page
    older = re.search(r'href="[^"]*/espace/moderation/journal\?avant=(\d+)"', page).group(1)
    status, page, _ = await moderator.get(f"/espace/moderation/journal?avant={older}")
    assert "raison 9<" in page and "raison 0<" in page and "raison 10<" not in page and "avant=" not in page
    assert (await moderator.get("/espace/moderation/journal?avant=x"))[0] == 400



async def test_the_decision_reaches_the_proposer_by_mail_and_the_address_is_erased(make_island, clients, smtp):
    controller, inbox = smtp
    node = await make_island("courriel", smtp_host="127.0.0.1", smtp_port=controller.port)
    await provision.add_user(node.sessions, username="mona", password=PASSWORD, role="moderator")
    visitor = await clients(node=node)
    status, page, _ = await visitor.get("/proposer")
    assert "recevoir la décision par e-mail" in page  # the form says mail is on
    await visitor.post("/proposer", FICHE)
    [proposal] = await all_proposals(node)
    moderator = await clients("mona", node=node)
    await moderator.post(f"/espace/moderation/propositions/{proposal.id}", {**FICHE, "action": "accept"})
    [(_, recipients, message)] = await wait_for(lambda: inbox.messages, message="the decision by e-mail")
    [proposal] = await all_proposals(node)
    assert recipients == ["zoe@example.org"] and proposal.published_uri in message.get_content()

    async def erased():
        async with node.sessions() as session:
            return [m.to_address for m in await session.scalars(select(OutgoingMail).where(OutgoingMail.state == "sent"))]

    assert await wait_for(erased) == [""] and proposal.proposer_email is None


async def test_a_training_resource_can_be_proposed_too(island, clients):
    visitor = await clients()
    status, page, _ = await visitor.get("/proposer?kind=resource")
    assert status == 200 and "Proposer une ressource" in page and "Objectifs pédagogiques" in page
    form = {"kind": "resource", "title": "Atelier wiki", "source": "Deux heures pour écrire à plusieurs.",
            "learning_goals": "Créer un compte\nÉcrire une page", "duration": "2 heures", "themes": "Wiki",
            "language": "fr", "licence": "CC-BY-4.0", "name": "Léa", "credit": "yes"}
    assert (await visitor.post("/proposer", form))[0] == 303
    [proposal] = await all_proposals(island)
    assert proposal.item_kind == "resource"
    moderator = await clients("mona")
    await moderator.post(f"/espace/moderation/propositions/{proposal.id}", {**form, "action": "accept"})
    [proposal] = await all_proposals(island)
    item = await island.object(proposal.published_uri)
    assert item.kind == "resource" and item.licence == "CC-BY-4.0"
    assert item.fields["learning_goals"] == ["Créer un compte", "Écrire une page"]
    assert item.fields["attribution"] == "Proposée par Léa."


async def test_retouches_are_saved_before_deciding(island, clients):
    visitor = await clients()
    await visitor.propose(FICHE)
    [proposal] = await all_proposals(island)
    moderator = await clients("mona")
    path = f"/espace/moderation/propositions/{proposal.id}"
    await moderator.get(path)
    status, page, _ = await moderator.post(path, {**FICHE, "title": "", "action": "save"})
    assert status == 400 and "Le titre est obligatoire." in alert_text(page)
    status, _, location = await moderator.post(path, {**FICHE, "pitch": "Un potager partagé", "action": "save"})
    assert status == 303 and location == f"{path}?done=saved"
    status, page, _ = await moderator.get(location)
    assert "sont enregistrées" in page and 'value="Un potager partagé"' in page
    [proposal] = await all_proposals(island)
    assert proposal.state == "pending" and proposal.fields["data"]["pitch"] == "Un potager partagé"
    async with island.sessions() as session:
        [entry] = await audit.recent(session)
    assert entry.action == "edit_proposal" and entry.details["changed"] == ["data"]
