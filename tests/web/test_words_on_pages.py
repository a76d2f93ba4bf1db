"""Every page a person reads, in French and in English, as a visitor, an author, a moderator and an
admin: no raw code, no machine date or duration, no bare address, no French on an English page,
French punctuation with its no-break spaces (tests/words_check.py says what each rule looks for).

A populated island (fiches with dates and durations, a follow with another island, a proposal, a
report, moderation decisions, notifications) is crawled over real HTTP, link by link."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import aiohttp
import pytest
from jinja2 import DictLoader, ChoiceLoader

from archipel import accounts, blocks, notifications, proposals, reports
from archipel.storage.tables import HostHealth, utcnow
from federation import actions, delivery_hosts
from tests.nodes import island_follows, wait_for
from tests.words_check import problems, visible_text
from web import appkeys, provision

PASSWORD = "correct horse battery"
HTML = {"Accept": "text/html"}
# Pages not for reading (feeds, files, pictures, JSON) and links that act.
SKIP = re.compile(r"/(static|media|images-distantes|fichiers)/|\.(atom|png|jpe?g|webp|gif|svg|pdf|json)(\?|$)"
                  r"|/flux|/logout|/outbox|/inbox|/followers|/following|/\.well-known/|/nodeinfo|/embed|/carte/")
MAX_PAGES = 45

FICHE = {
    "kind": "fiche", "title": "Atelier de réparation", "summary": "Réparer ensemble, un samedi par mois",
    "tags": ["Réemploi"],
    "data": {"pitch": "Un atelier ouvert", "started": "2019-03-16",
               "territory": {"place": "Brest", "region": "Bretagne"}, "audience": "Habitants du quartier",
               "sections": {"goals": "Réparer plutôt que jeter", "advice": "Commencer petit"},
               "steps": ["Trouver une salle", "Ouvrir un samedi"], "holders": [{"name": "Ana", "kind": "person"}]},
}
RESOURCE = {
    "kind": "resource", "title": "Animer un atelier", "summary": "Une formation courte",
    "data": {"duration": "PT3H", "format": "atelier", "audience": "Animateurs",
               "learning_goals": ["Accueillir", "Transmettre"]},
}


async def log_in(http: aiohttp.ClientSession, node, username: str) -> None:
    async with http.get(f"{node.url}/login") as response:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
    async with http.post(f"{node.url}/login", allow_redirects=False,
                         data={"csrf_token": token, "username": username, "password": PASSWORD}) as response:
        assert response.status == 303


async def crawl(http: aiohttp.ClientSession, node, starts: list[str], lang: str) -> dict[str, str]:
    """Same-origin HTML pages reachable from `starts` (GET only, at most MAX_PAGES; two
    addresses per path at most, so that a search's facets do not take every turn)."""
    pages, queue, seen, per_path = {}, [f"{node.url}{path}" for path in starts], set(), {}
    while queue and len(pages) < MAX_PAGES:
        url = queue.pop(0).split("#")[0]
        path = urlsplit(url).path
        if url in seen or SKIP.search(path + "?" + urlsplit(url).query) or per_path.get(path, 0) >= 2:
            continue
        seen.add(url)
        per_path[path] = per_path.get(path, 0) + 1
        async with http.get(url, headers={**HTML, "Accept-Language": lang}, allow_redirects=False) as response:
            if response.status != 200 or not response.content_type == "text/html":
                continue
            html = await response.text()
        pages[url] = html
        for href in re.findall(r'<a [^>]*href="([^"]+)"', html):
            target = urljoin(url, href.replace("&amp;", "&"))
            if target.startswith(node.url + "/") and "lang=" not in target:
                queue.append(target)
    return pages


@pytest.fixture
async def populated(make_island):
    brest = await make_island("brest")
    nantes = await make_island("nantes")
    for username, role in (("alice", "author"), ("mona", "moderator"), ("gwen", "admin")):
        await provision.add_user(brest.sessions, username=username, password=PASSWORD, role=role,
                                 display_name=username.capitalize())
    await nantes.add_user("bob")
    await island_follows(brest, nantes)
    replica = await nantes.publish("bob", "Un jardin partagé", "Un jardin au pied des immeubles.",
                                   kind="fiche", data={"started": "2021-05-02", "audience": "Voisins"})
    await wait_for(lambda: brest.object(replica), message="the replica on brest")
    fiche = await brest.publish("alice", FICHE["title"], "Le samedi, on répare.",
                                **{k: v for k, v in FICHE.items() if k != "title"})
    related = {**RESOURCE["data"], "related": [fiche]}  # shown by its name, not its address
    resource = await brest.publish("alice", RESOURCE["title"], "Trois heures pour apprendre.",
                                   **{**{k: v for k, v in RESOURCE.items() if k != "title"}, "data": related})
    await brest.update(resource, data={**related, "duration": "PT1H30M"})  # a diff of durations
    await brest.update(fiche, data={**FICHE["data"], "started": "2019-04-01"})  # and of dates
    async with brest.sessions() as session:
        mona = await accounts.get_actor(session, "mona")
        alice = await accounts.get_actor(session, "alice")
        item = await brest.object(fiche)
        await proposals.create(session, item_kind="fiche", origin="form", proposer_name="Lou",
                               fields={"title": "Atelier de réparation, version hiver", "source": "En hiver aussi."},
                               target=None)
        await proposals.create(session, item_kind="resource", origin="form", proposer_name="Lou",
                               fields={"title": RESOURCE["title"], "source": "Deux heures suffisent.",
                                       "data": {**RESOURCE["data"], "duration": "PT2H"}},
                               target=await brest.object(resource))
        await reports.receive(session, activity_uri=None, reporter_uri=nantes.actor_uri("bob"),
                              target_actor_uri=None, object_uris=[item.uri], comment="Le lien ne marche plus",
                              concerned=[alice])
        await blocks.add(session, kind="account", target="https://spam.example/users/robot", severity="silence",
                         reason="Publicités", moderator=mona, own_host=urlsplit(brest.url).netloc)
        await session.commit()
    async with nantes.sessions() as session:  # a remote follower of alice, so she has a notification
        bob = await accounts.get_actor(session, "bob")
        await actions.follow(session, nantes.url, bob, await nantes.directory_service.get(brest.actor_uri("alice")))
        await session.commit()
    nantes.wake()

    async def alice_is_followed():
        async with brest.sessions() as session:
            alice = await accounts.get_actor(session, "alice")
            return await notifications.unread_count(session, alice.id) >= 2  # the report, the follow
    await wait_for(alice_is_followed, message="alice's notifications")
    async with brest.sessions() as session:  # a server deliveries fail to reach, stopped by an admin
        host = urlsplit(nantes.url).netloc
        await delivery_hosts.stop(session, host, admin=await accounts.get_actor(session, "gwen"), reason="En panne")
        health = await session.get(HostHealth, host)
        health.consecutive_failures, health.last_error, health.last_failure_at = 3, "HTTP 503: busy", utcnow()
        await session.commit()
    return brest, nantes


ROLES = {None: ["/", "/federated", "/about", "/recherche?q=atelier", "/tags"],
         "alice": ["/espace", "/notifications", "/espace/compte"],
         "mona": ["/espace/moderation", "/espace/moderation/journal", "/espace/moderation/signalements",
                  "/espace/moderation/blocages", "/notifications"],
         "gwen": ["/espace/archipel", "/espace/livraisons", "/espace/comptes", "/federated"]}


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_pages_show_words_not_codes(populated, lang):
    brest, nantes = populated
    hosts = tuple(urlsplit(node.url).netloc for node in (brest, nantes))
    found, crawled, read = {}, 0, {}
    for username, starts in ROLES.items():
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            if username:
                await log_in(http, brest, username)
            pages = await crawl(http, brest, starts, lang)
        crawled += len(pages)
        read.update((url.removeprefix(brest.url), visible_text(html)) for url, html in pages.items())
        for url, html in pages.items():
            assert f'<html lang="{lang}"' in html, url
            if trouble := problems(html, lang, hosts):
                found[url.removeprefix(brest.url)] = trouble
    assert crawled > 60  # the island's pages, not a login page four times
    # The pages the fixture fills say it in words (the checks above would pass on empty pages).
    words = {"fr": ("Compte masqué", "Livraisons arrêtées", "Le serveur est en difficulté (erreur 503).",
                    "1\u202fh 30\u00a0min", "1 avril 2019", "acceptée"),
             "en": ("Account silenced", "Deliveries stopped", "The server is in trouble (error 503).",
                    "1 hr 30 min", "April 1, 2019", "accepted")}[lang]
    everything = " ".join(read.values())
    assert [word for word in words if word not in everything] == []
    assert "Île nantes" in read["/espace/livraisons"] and "@robot@spam.example" in read["/espace/moderation/journal"]
    assert found == {}, "\n".join(f"{url}: {problem}" for url, trouble in found.items() for problem in trouble)


async def test_the_check_goes_red_when_a_template_shows_codes(populated):
    """The same pages with a journal that shows its action codes, a fiche whose state is its code,
    and an English label left in French: each is found."""
    brest, _ = populated
    templates = brest.app[appkeys.TEMPLATES]
    loader = templates.loader
    journal = loader.get_source(templates, "moderation_journal.html")[0]
    regressed = {"moderation_journal.html": journal.replace("{{ entry.action | action_label }}", "{{ entry.action }}"),
                 "about.html": loader.get_source(templates, "about.html")[0].replace(
                     "{% block main %}", '{% block main %}<p>Rien de nouveau pour l\'instant.</p><p>{{ "PT3H" }}</p>')}
    assert regressed["moderation_journal.html"] != journal
    templates.loader = ChoiceLoader([DictLoader(regressed), loader])
    templates.cache.clear()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await log_in(http, brest, "mona")
            async with http.get(f"{brest.url}/espace/moderation/journal", headers=HTML) as response:
                journal_page = await response.text()
            async with http.get(f"{brest.url}/about", headers={**HTML, "Accept-Language": "en"}) as response:
                about_page = await response.text()
    finally:
        templates.loader = loader
        templates.cache.clear()
    assert "silence_account" in visible_text(journal_page)
    assert any("silence_account" in problem for problem in problems(journal_page, "fr"))
    english = problems(about_page, "en")
    assert any(problem.startswith("French on an English page") for problem in english), english
    assert any(problem.startswith("ISO duration") for problem in english), english


@pytest.mark.parametrize(("lang", "expected"), [("fr", "Donnez un domaine, par exemple exemple.org."),
                                                ("en", "Give a domain, for example example.org.")])
async def test_a_refusal_is_told_in_the_reader_language(populated, lang, expected):
    brest, _ = populated
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await log_in(http, brest, "mona")
        headers = {**HTML, "Accept-Language": lang}
        async with http.get(f"{brest.url}/espace/moderation/blocages", headers=headers) as response:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
        form = {"csrf_token": token, "kind": "domain", "target": "pas un domaine", "severity": "block",
                "reason": "essai"}
        async with http.post(f"{brest.url}/espace/moderation/blocages", data=form, headers=headers) as response:
            assert response.status == 400
            html = await response.text()
    assert expected in visible_text(html)
    assert problems(html, lang) == []
