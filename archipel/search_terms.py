"""Words as the search index stores them, and queries as people type them.

One function turns text into terms, for documents and for queries alike, on SQLite and on
PostgreSQL: lower case, Snowball stem in the item's own language (« formateurs » → « formateur »,
« coopératives » → « cooper »), accents folded after stemming (« Économie » and « economie » meet),
and the language tag in front (`fr` + `econom`). The tag keeps each item searched by the rules of
its own language: a query is stemmed once per language and each version can only meet the items
of that language. Both databases index the same terms, so the same query finds the same items.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

import Stemmer  # PyStemmer: the Snowball project's C stemmers

# Languages with a Snowball stemmer, by the codes items carry; anything else is indexed unstemmed.
STEMMED_LANGUAGES = {
    "fr": "french", "en": "english", "es": "spanish", "de": "german", "it": "italian",
    "pt": "portuguese", "nl": "dutch", "ca": "catalan", "eu": "basque",
}
UNSTEMMED = "xx"
TAGS = (*STEMMED_LANGUAGES, UNSTEMMED)

MAX_QUERY_LENGTH = 200
MAX_QUERY_WORDS = 12

_WORD = re.compile(r"[^\W_]+")
# Ligatures NFKD leaves alone; folded so that « oeuvre » finds « œuvre ».
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d"})

# Words too common to narrow a query; dropped from queries only (when something else remains).
STOPWORDS = frozenset("""
a au aux avec ce ces cette dans de des du elle en et il ils je la le les leur lui ma mais me mes
moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un
une vos votre vous est sont été être
an and are as at be by for from in into is it of on or the their this to was with
""".split())


def tag_for(language: str | None) -> str:
    code = (language or "").split("-")[0].lower()
    return code if code in STEMMED_LANGUAGES else UNSTEMMED


@functools.lru_cache(maxsize=None)
def _stemmer(tag: str):
    return Stemmer.Stemmer(STEMMED_LANGUAGES[tag]) if tag != UNSTEMMED else None


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    """The words of a text, lower case, accents kept (the stemmers need them); a single letter
    (the « l » of « l'économie ») is not a word, a single digit is."""
    return [word for word in _WORD.findall(unicodedata.normalize("NFC", text.lower()))
            if len(word) > 1 or word.isdigit()]


@functools.lru_cache(maxsize=200_000)
def stem(word: str, tag: str) -> str:
    """The root of one lower-case word in a language, accents folded. Cached: vocabularies are
    small next to the number of words indexed."""
    stemmer = _stemmer(tag)
    root = fold(stemmer.stemWord(word) if stemmer else word)
    if tag == "fr" and len(root) > 3 and root[-1] in "sx":
        # Snowball keeps the plural of words ending in a vowel (« vélos », « lieux »); the same
        # cut on both sides makes « vélo » find « vélos » and « tiers-lieu » find « tiers-lieux ».
        root = root[:-1]
    return root


def terms(text: str, language: str | None) -> str:
    """The indexed form of a text: its words' tagged roots, space-separated, in order (phrase
    queries rely on positions)."""
    tag = tag_for(language)
    return " ".join(tag + stem(word, tag) for word in words(text))


# ---- queries ----------------------------------------------------------------------------------

@dataclass
class Query:
    """What a person typed: words all required, « quoted phrases », -excluded words.
    Each entry is a tuple of words (one word, or a phrase's words)."""

    required: list[tuple[str, ...]] = field(default_factory=list)
    excluded: list[tuple[str, ...]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.required)

    def all_words(self) -> set[str]:
        return {word for group in self.required for word in group}


_CHUNK = re.compile(r'(-?)"([^"]*)"|(\S+)')


def parse(text: str) -> Query:
    """A query from a search box: bounded, never an error. A hyphenated word (« tiers-lieux »)
    is a phrase; stopwords are dropped unless nothing else remains; an exclusion alone finds
    nothing rather than everything."""
    query = Query()
    for negated, phrase, bare in _CHUNK.findall((text or "")[:MAX_QUERY_LENGTH]):
        if bare:
            negated = "-" if bare.startswith("-") and len(bare) > 1 else ""
            phrase = bare[1:] if negated else bare
        group = tuple(words(phrase))
        if group:
            (query.excluded if negated else query.required).append(group)
    meaningful = [group for group in query.required if len(group) > 1 or group[0] not in STOPWORDS]
    if meaningful:
        query.required = meaningful
    query.required = list(dict.fromkeys(query.required))[:MAX_QUERY_WORDS]
    query.excluded = list(dict.fromkeys(query.excluded))[:MAX_QUERY_WORDS]
    return query


def tagged(group: tuple[str, ...], tag: str) -> tuple[str, ...]:
    """A word or a phrase as the terms of one language."""
    return tuple(tag + stem(word, tag) for word in group)


def variants(group: tuple[str, ...]) -> list[tuple[str, ...]]:
    """A word or a phrase as terms, once per language (duplicates removed): any of them matches."""
    return list(dict.fromkeys(tagged(group, tag) for tag in TAGS))


def query_stems(query: Query) -> set[str]:
    """Every root the query's words have in any language (untagged): what excerpts highlight."""
    return {stem(word, tag) for word in query.all_words() for tag in TAGS}
