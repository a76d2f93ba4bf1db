"""The interface language: gettext catalogues (French source strings, English translation) and
the choice of a language for each request.

Catalogues are the `.po` files in `web/locale/<lang>/LC_MESSAGES/`; they are compiled in memory
with Babel the first time they are needed (when the application is created), so no binary `.mo`
file is committed and a `.po` edited by a translator is what runs, with nothing to forget to
rebuild. Compiling the two small catalogues takes a few milliseconds.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from aiohttp import web
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
# Each language is named in itself, so a reader finds their own whatever the page's language.
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}

COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def _compile(language: str) -> NullTranslations:
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)  # fuzzy entries are unreviewed: left out
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@functools.cache
def translations() -> dict[str, NullTranslations]:
    """Every supported language's catalogue, compiled once per process."""
    return {language: _compile(language) for language in LANGUAGES}


def gettext(language: str, message: str) -> str:
    """`message` (French) in `language`; an untranslated message stays in French."""
    catalogue = translations().get(language)
    return catalogue.gettext(message) if catalogue is not None else message


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    catalogue = translations().get(language)
    if catalogue is None:
        return singular if n == 1 else plural
    return catalogue.ngettext(singular, plural, n)


def supported(tag: str | None) -> str | None:
    """The supported language a tag designates (`en-GB` → `en`), or None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else None


def parse_accept_language(header: str) -> list[tuple[str, float]]:
    """(tag, q) pairs, most preferred first; equal q-values keep the header's order (RFC 9110)."""
    ranges = []
    for position, part in enumerate(header.split(",")):
        tag, *params = [piece.strip() for piece in part.split(";")]
        if not tag:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:
                    quality = 0.0
        if quality > 0:
            ranges.append((-quality, position, tag, quality))
    ranges.sort()
    return [(tag, quality) for _, _, tag, quality in ranges]


def best_accept_language(header: str) -> str | None:
    for tag, _ in parse_accept_language(header):
        if tag == "*":
            return DEFAULT_LANGUAGE
        language = supported(tag)
        if language:
            return language
    return None


def requested_language(request: web.Request) -> str | None:
    """The language asked for explicitly in this request (`?lang=en`), if supported."""
    return supported(request.query.get("lang"))


def negotiate_language(request: web.Request) -> str:
    """`?lang=`, else the `lang` cookie, else the best of Accept-Language, else French."""
    return (requested_language(request)
            or supported(request.cookies.get(COOKIE))
            or best_accept_language(request.headers.get("Accept-Language", ""))
            or DEFAULT_LANGUAGE)


def remember_language(request: web.Request, response: web.StreamResponse) -> None:
    """Keep an explicit choice (`?lang=`) for the next pages, in a cookie."""
    language = requested_language(request)
    if language and request.cookies.get(COOKIE) != language:
        response.set_cookie(COOKIE, language, max_age=COOKIE_MAX_AGE, path="/", samesite="Lax",
                            secure=request.secure)
