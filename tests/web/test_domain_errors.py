"""Domain errors (archipel/errors.py) speak the reader's language: their message is a French
template of the interface catalogue, French on the command line, translated on a page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import aiohttp
import pytest
from babel.messages.pofile import read_po

from archipel.errors import InvalidInput, NotFound
from tests.web.test_authoring import visitors  # noqa: F401 (fixture)
from tests.web.test_media import jpeg_with_gps, logged_in, upload
from tests.web.test_profile import post_form, profile_form
from web import i18n, words

ROOT = Path(__file__).resolve().parents[2]
NB = "\u00a0"
# What the code raises for a person to read; AccountRefused and SubscriptionRefused carry a key
# their pages translate, BackupError is the command line's own.
DOMAIN_ERRORS = {"InvalidInput", "NotFound", "AlreadyExists", "Forbidden", "MediaTooLarge", "UnsupportedType",
                 "TextTooLong", "OutOfBounds"}


def _raised() -> list[tuple[str, ast.Call]]:
    found = []
    for folder in ("archipel", "federation", "web"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                    continue
                function = node.exc.func
                name = getattr(function, "id", None) or getattr(function, "attr", None)
                if name in DOMAIN_ERRORS:
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.exc))
    return found


def _english() -> dict[str, str]:
    with (i18n.LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return {m.id: m.string for m in read_po(po, locale="en") if isinstance(m.id, str) and m.id and not m.fuzzy}


def test_every_domain_error_raised_says_a_message_of_the_catalogue_with_its_english():
    english = _english()
    raised, wrong = _raised(), []
    for where, call in raised:
        first = call.args[0] if call.args else None
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            wrong.append((where, "the message is not a literal template"))
            continue
        message = first.value
        if not english.get(message):
            wrong.append((where, "no English translation", message))
            continue
        given = {keyword.arg for keyword in call.keywords}
        for text in (message, english[message]):
            if set(re.findall(r"%\((\w+)\)", text)) - given:
                wrong.append((where, "a placeholder without its value", text))
    assert len(raised) > 150  # the walk found the raises (archipel/, federation/, web/)
    assert wrong == []


def test_the_command_line_reads_french_and_a_page_its_own_language():
    error = InvalidInput("Le titre dépasse %(limit)s caractères.", limit=200)
    assert str(error) == "Le titre dépasse 200 caractères."
    assert words.failure("fr", error) == "Le titre dépasse 200 caractères."
    assert words.failure("en", error) == "The title is longer than 200 characters."
    assert words.failure("en", NotFound("Ce signalement n'existe pas.")) == "This report does not exist."


def test_a_wrapped_cause_is_translated_with_the_error_around_it():
    cause = InvalidInput("Le champ « %(field)s » doit être un nombre.".replace("« ", "«" + NB).replace(" »", NB + "»"),
                         field="latitude")
    error = InvalidInput(f"%(path)s{NB}: %(error)s", path="fiche.md", error=cause)
    assert str(error) == f"fiche.md{NB}: Le champ «{NB}latitude{NB}» doit être un nombre."
    assert words.failure("en", error) == "fiche.md: The field “latitude” must be a number."


def test_what_is_not_a_domain_error_gets_the_general_sentence():
    general = f"Ce n'est pas possible{NB}: vérifiez ce que vous avez saisi."
    assert words.failure("fr", ValueError("bad")) == general
    assert words.failure("en", ValueError("bad")) == i18n.gettext("en", general) != general


# ---- pages and answers ---------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "expected"), [
    ("fr", "Le nom affiché dépasse 100 caractères."),
    ("en", "The display name is longer than 100 characters."),
])
async def test_a_refused_profile_says_why_in_the_page_language(island, visitors, lang, expected):  # noqa: F811
    alice = await visitors("alice")
    status, page, _ = await post_form(alice, f"/espace/profil?lang={lang}", profile_form(alice, display_name="x" * 101))
    assert status == 400 and f'<html lang="{lang}">' in page
    assert expected in page


@pytest.mark.parametrize(("language", "expected"), [
    ("fr-FR,fr;q=0.9", "Image illisible."),
    ("en-GB,en;q=0.9", "Unreadable image."),
])
async def test_an_upload_refused_answers_in_the_asked_language(island, language, expected):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     headers={"Accept-Language": language}) as http:
        csrf = await logged_in(http, island)
        status, answer = await upload(http, island, csrf, jpeg_with_gps()[:400], "coupee.jpg")
    assert status == 400 and answer == {"error": expected}


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, "Le cadre de la carte s'écrit ouest,sud,est,nord."),
    ({"Accept-Language": "en"}, "The map's frame is written west,south,east,north."),
])
async def test_a_plain_text_refusal_is_in_the_negotiated_language(island, headers, expected):
    async with aiohttp.ClientSession() as http, \
            http.get(f"{island.url}/carte.geojson?bbox=1,2,3", headers=headers) as response:
        assert response.status == 400 and response.content_type == "text/plain"
        assert await response.text() == expected
