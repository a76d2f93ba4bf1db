"""The interface language: negotiation, catalogues, and pages served in French or English."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from babel.dates import format_date
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from web import i18n

ROOT = Path(__file__).resolve().parents[2]
HTML = {"Accept": "text/html,application/xhtml+xml"}


def request(path: str = "/", **headers: str):
    return make_mocked_request("GET", path, headers=headers)


# --- negotiation ------------------------------------------------------------------------------

def test_french_when_nothing_is_asked():
    assert i18n.negotiate_language(request()) == "fr"


def test_the_query_wins_over_cookie_and_header():
    assert i18n.negotiate_language(request("/?lang=en", Cookie="lang=fr", **{"Accept-Language": "fr"})) == "en"
    assert i18n.negotiate_language(request("/?lang=fr", Cookie="lang=en", **{"Accept-Language": "en"})) == "fr"


def test_the_cookie_wins_over_the_header():
    assert i18n.negotiate_language(request(Cookie="lang=en", **{"Accept-Language": "fr-FR"})) == "en"
    assert i18n.negotiate_language(request(Cookie="lang=fr", **{"Accept-Language": "en"})) == "fr"


@pytest.mark.parametrize(("header", "expected"), [
    ("en-GB,en;q=0.9", "en"),
    ("en-US", "en"),
    ("EN", "en"),
    ("fr-CA,fr;q=0.9,en;q=0.8", "fr"),
    ("fr;q=0.3, en;q=0.8", "en"),            # q-values, not the order, decide
    ("de-DE, en;q=0.5, fr;q=0.4", "en"),     # an unsupported first choice is skipped
    ("en;q=0, fr;q=0.1", "fr"),              # q=0 means "not this one"
    ("en;q=0", "fr"),
    ("en;q=abc, fr;q=0.2", "fr"),            # a malformed q-value counts as 0
    ("de, es", "fr"),                        # nothing supported: the default
    ("*", "fr"),
    ("", "fr"),
    (",;,", "fr"),
])
def test_accept_language(header, expected):
    assert i18n.negotiate_language(request(**{"Accept-Language": header})) == expected


@pytest.mark.parametrize("junk", ["de", "xx", "english", "", "../fr"])
def test_unknown_languages_in_query_or_cookie_are_ignored(junk):
    assert i18n.negotiate_language(request(f"/?lang={junk}")) == "fr"
    assert i18n.negotiate_language(request(Cookie=f"lang={junk}")) == "fr"
    assert i18n.negotiate_language(request(f"/?lang={junk}", **{"Accept-Language": "en"})) == "en"


# --- catalogues -------------------------------------------------------------------------------

def test_gettext_translates_into_english_and_falls_back_to_french():
    assert i18n.gettext("en", "Dernières publications") == "Latest posts"
    assert i18n.gettext("fr", "Dernières publications") == "Dernières publications"
    assert i18n.gettext("de", "Dernières publications") == "Dernières publications"
    assert i18n.gettext("en", "Une phrase que personne n'a traduite") == "Une phrase que personne n'a traduite"


def test_plurals_follow_each_language_rule():
    forms = ("%(num)d réponse", "%(num)d réponses")
    assert [i18n.ngettext("fr", *forms, n) % {"num": n} for n in (0, 1, 2)] == \
        ["0 réponse", "1 réponse", "2 réponses"]
    assert [i18n.ngettext("en", *forms, n) % {"num": n} for n in (0, 1, 2)] == \
        ["0 replies", "1 reply", "2 replies"]


def _extracted() -> set[str]:
    """Every message babel.cfg marks, from each source folder it names (web/ for the interface,
    archipel/ and federation/ for the domain's errors)."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    folders = sorted({pattern.split("/", 1)[0] for pattern, _method in method_map})
    assert folders == ["archipel", "federation", "web"]
    extracted = set()
    for folder in folders:
        prefix = f"{folder}/"
        methods = [(p.removeprefix(prefix), m) for p, m in method_map if p.startswith(prefix)]
        options = {p.removeprefix(prefix): o for p, o in options_map.items() if p.startswith(prefix)}
        extracted |= {message[2] if isinstance(message[2], str) else message[2][0]
                      for message in extract_from_dir(str(ROOT / folder), methods, options)}
    return extracted


def test_the_catalogues_are_up_to_date_and_english_is_complete():
    """Fails when a template string was added without `pybabel extract/update` and a translation."""
    extracted = _extracted()
    assert "Dernières publications" in extracted and "%(num)d réponse" in extracted
    with (i18n.LOCALE_DIR / "messages.pot").open("rb") as pot:
        assert {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot) if m.id} == extracted
    with (i18n.LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        english = read_po(po, locale="en")
    missing = [m.id for m in english if m.id and (m.fuzzy or not all(
        m.string if isinstance(m.string, tuple) else (m.string,)))]
    assert missing == []
    assert {m.id if isinstance(m.id, str) else m.id[0] for m in english if m.id} == extracted


def _literal_messages(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, message) of each `gettext(lang, "…")` and `ngettext(lang, "…", "…", n)` call with
    literal messages, inside f-strings too (which message extraction does not read)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name in ("gettext", "ngettext") and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[1].value, str):
            found.append((node.lineno, node.args[1].value))
    return found


def test_every_message_the_code_says_is_in_the_catalogue():
    """A message said inside an f-string is invisible to `pybabel extract`: it never reached the
    catalogue and showed in French on English pages (the preview's « Corrigez ces erreurs… »)."""
    with (i18n.LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        english = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(po, locale="en") if m.id}
    said = [(f"{path.relative_to(ROOT)}:{line}", message) for path in sorted((ROOT / "web").rglob("*.py"))
            for line, message in _literal_messages(ast.parse(path.read_text()))]
    assert len(said) > 100  # the walk finds the calls
    assert _literal_messages(ast.parse('f"<p>{gettext(lang, \'Dans une f-string\')}</p>"')) == [(1, "Dans une f-string")]
    assert [(where, message) for where, message in said if message not in english] == []


def test_the_french_catalogue_says_what_the_source_says():
    """French is the source: a French entry is empty (the msgid is shown) or, for plurals, the
    msgid's own forms. A msgstr borrowed from another message by a fuzzy merge would show a
    wrong text, or break a page when its %(...)s placeholders differ."""
    with (i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        french = read_po(po, locale="fr")
    wrong = [(m.id, m.string) for m in french if m.id and (m.fuzzy or (
        m.string != tuple(m.id) if isinstance(m.id, tuple) else m.string not in ("", m.id)))]
    assert wrong == []


# --- pages ------------------------------------------------------------------------------------

async def fetch(url: str, session: aiohttp.ClientSession | None = None, **headers: str):
    own = session is None
    session = session or aiohttp.ClientSession()
    try:
        async with session.get(url, headers={**HTML, **headers}, allow_redirects=False) as response:
            return response.status, response.headers, await response.text(), response.cookies
    finally:
        if own:
            await session.close()


def assert_language(headers, html: str, lang: str) -> None:
    assert headers["Content-Language"] == lang
    assert f'<html lang="{lang}">' in html
    vary = {part.strip() for part in headers["Vary"].split(",")}
    assert {"Accept", "Accept-Language", "Cookie"} <= vary
    current = re.findall(r'<a [^>]*aria-current="true"[^>]*>', html)
    assert len(current) == 1 and f'hreflang="{lang}"' in current[0] and f'lang="{lang}"' in current[0]


async def test_home_is_french_by_default(island):
    status, headers, html, cookies = await fetch(f"{island.url}/")
    assert status == 200
    assert_language(headers, html, "fr")
    assert "Dernières fiches d'innovation" in html and "Latest innovation sheets" not in html
    assert "lang" not in cookies  # nothing chosen, nothing remembered


async def test_home_follows_accept_language(island):
    status, headers, html, cookies = await fetch(f"{island.url}/", **{"Accept-Language": "en-GB,en;q=0.9"})
    assert status == 200
    assert_language(headers, html, "en")
    assert "Latest innovation sheets" in html and "Dernières fiches d'innovation" not in html
    assert "No innovation sheet yet." in html
    assert "lang" not in cookies


async def test_an_explicit_choice_is_remembered_in_a_cookie(island):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        status, headers, html, cookies = await fetch(f"{island.url}/?lang=en", session)
        assert status == 200
        assert_language(headers, html, "en")
        assert "Latest innovation sheets" in html
        cookie = cookies["lang"]
        assert cookie.value == "en" and cookie["samesite"] == "Lax" and cookie["path"] == "/"
        assert int(cookie["max-age"]) > 30 * 24 * 3600

        # The next page, with no query and a French browser, stays in English.
        _, headers, html, _ = await fetch(f"{island.url}/@alice", session, **{"Accept-Language": "fr"})
        assert_language(headers, html, "en")
        assert "No posts yet." in html and "0 followers" in html

        # And the switcher brings French back.
        _, headers, html, cookies = await fetch(f"{island.url}/?lang=fr", session)
        assert_language(headers, html, "fr") and cookies["lang"].value == "fr"
        _, headers, html, _ = await fetch(f"{island.url}/", session)
        assert_language(headers, html, "fr")
        assert "Dernières fiches d'innovation" in html


async def test_the_language_switcher(island):
    _, _, html, _ = await fetch(f"{island.url}/")
    nav = re.search(r'<nav aria-label="Langue">(.*?)</nav>', html, re.DOTALL).group(1)
    assert '<a href="?lang=fr" hreflang="fr" lang="fr" aria-current="true">Français</a>' in nav
    assert '<a href="?lang=en" hreflang="en" lang="en">English</a>' in nav
    _, _, html, _ = await fetch(f"{island.url}/?lang=en")
    nav = re.search(r'<nav aria-label="Language">(.*?)</nav>', html, re.DOTALL).group(1)
    assert '<a href="?lang=fr" hreflang="fr" lang="fr">Français</a>' in nav  # names stay in their own language
    assert '<a href="?lang=en" hreflang="en" lang="en" aria-current="true">English</a>' in nav


async def test_item_pages_in_both_languages(island):
    uri = await island.publish("alice", "Titre", "texte")
    item = await island.object(uri)

    status, headers, html, _ = await fetch(uri)
    assert status == 200
    assert_language(headers, html, "fr")
    assert "0 réponse</p>" in html and "0 j'aime" in html and '>Par <span class="author">' in html
    assert format_date(item.published, "long", locale="fr") in html

    status, headers, html, _ = await fetch(uri, **{"Accept-Language": "en"})
    assert status == 200
    assert_language(headers, html, "en")
    assert "0 replies</p>" in html and "0 likes" in html and "0 boosts" in html and '>By <span class="author">' in html
    assert format_date(item.published, "long", locale="en") in html
    # What federation and link previews read does not depend on the language.
    assert f'<link rel="alternate" type="application/activity+json" href="{uri}">' in html
    for meta in ('og:title" content="Titre"', "og:description", f'og:url" content="{uri}"', "og:site_name",
                 'og:type" content="article"'):
        assert f'<meta property="{meta}' in html
    assert '<article lang="fr">' in html  # the item keeps its own language inside an English page


async def test_withdrawn_page_in_both_languages(island):
    uri = await island.publish("alice", "Titre", "texte")
    await island.withdraw(uri)
    status, headers, html, _ = await fetch(uri)
    assert status == 410 and "retirée" in html
    assert_language(headers, html, "fr")
    status, headers, html, _ = await fetch(f"{uri}?lang=en")
    assert status == 410 and "Post withdrawn" in html
    assert_language(headers, html, "en")


async def test_pages_have_landmarks_a_skip_link_and_one_h1(island):
    uri = await island.publish("alice", "Titre", "texte")
    gone = await island.publish("alice", "Retirée", "texte")
    await island.withdraw(gone)
    for url in (f"{island.url}/", f"{island.url}/@alice", uri, gone):
        _, _, html, _ = await fetch(url)
        assert html.count("<h1") == 1, url
        assert '<a class="skip" href="#main">Aller au contenu</a>' in html
        assert '<main id="main"' in html and "<header" in html and "<footer" in html
        assert html.index('class="skip"') < html.index("<header") < html.index("<main") < html.index("<footer")
        assert "/static/archipel.css?v=" in html  # the focus style lives in the island's stylesheet
    stylesheet = re.search(r'href="([^"]*/static/archipel\.css\?v=[^"]+)"', html).group(1)
    async with aiohttp.ClientSession() as http, http.get(stylesheet) as response:
        assert response.status == 200 and ":focus-visible" in await response.text()
