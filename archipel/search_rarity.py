"""How rare a query's words are in each language, as SQLite's full-text index weighs them.

FTS5's bm25 adds up, over the phrases of a query, each phrase's rarity (its idf:
log((N - n + 0.5) / (n + 0.5)), n the items holding it among all N, and 1e-6 once it is in more
than half of them) times how much the item holds it (in its title, pitch and body, weighted).
A query holds one version of each word per language (search_terms: an item's terms carry its
language's tag, so each item meets its own language's version only), and a word common in French
items is rare in Basque ones: the French version of « atelier », in most items, weighed a
millionth, and the first results on an island of French items were Basque and German ones.

Divided by the sum of its language's rarities, a match's bm25 becomes an average of how much it
holds each word (rarer words of its language weighing more), the same scale in every language:
title and pitch above the body whatever the item's language, as PostgreSQL's ts_rank (which
reads no rarity) ranks them too.
"""

from __future__ import annotations

import math

from sqlalchemy import bindparam, case, func, literal, text
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import search_terms
from archipel.search_terms import Query

# FTS5's floor for a phrase in more than half of the items (fts5_aux.c, fts5Bm25Function).
_COMMON_PHRASE_RARITY = 1e-6


def rarity(items: int, holding: int) -> float:
    """FTS5's idf of a phrase held by `holding` of `items` items."""
    value = math.log((items - holding + 0.5) / (holding + 0.5))
    return value if value > 0.0 else _COMMON_PHRASE_RARITY


async def _items(session: AsyncSession) -> int:
    """N as FTS5 counts it: one row of search_text_docsize (the lengths FTS5 keeps) per item;
    a count of search_text itself would read every item's text."""
    return await session.scalar(text("SELECT count(*) FROM search_text_docsize"))


async def _holding(session: AsyncSession, phrases: list[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
    """How many items hold each phrase: a word's count from the index's vocabulary (migration
    0023); a phrase of several words counted as FTS5 counts it, by matching it, unless one of
    its words is in no item."""
    words = sorted({word for phrase in phrases for word in phrase})
    statement = text("SELECT term, doc FROM search_vocabulary WHERE term IN :words").bindparams(
        bindparam("words", expanding=True))
    counts = dict((await session.execute(statement, {"words": words})).all())
    held = {}
    for phrase in dict.fromkeys(phrases):
        if len(phrase) == 1:
            held[phrase] = counts.get(phrase[0], 0)
        elif not all(counts.get(word) for word in phrase):
            held[phrase] = 0
        else:
            held[phrase] = await session.scalar(text("SELECT count(*) FROM search_text WHERE search_text MATCH :phrase"),
                                                {"phrase": '"' + " ".join(phrase) + '"'})
    return held


async def rarity_sums(session: AsyncSession, query: Query) -> dict[str, float]:
    """Language tag -> the sum of the rarities of that language's version of each required word
    or phrase: what bm25 multiplied a match of that language by."""
    versions = {tag: [search_terms.tagged(group, tag) for group in query.required] for tag in search_terms.TAGS}
    items = await _items(session)
    held = await _holding(session, [phrase for phrases in versions.values() for phrase in phrases])
    return {tag: sum(rarity(items, held[phrase]) for phrase in phrases) for tag, phrases in versions.items()}


def _language_code(language):
    """The code before a language's region, lower case ('fr-CA' -> 'fr'): search_terms.tag_for
    in SQL, the language tags but the unstemmed one."""
    return func.lower(case((func.instr(language, "-") > 0, func.substr(language, 1, func.instr(language, "-") - 1)),
                           else_=language))


def per_language(bm25, language, sums: dict[str, float]):
    """A match's bm25 divided by its language's sum of rarities (rarity_sums): `language` the
    item's language column. The codes themselves first: the code of every other value found
    with string functions cost ~10 ms more over 99,000 matches."""
    by_code = {tag: literal(value) for tag, value in sums.items() if tag != search_terms.UNSTEMMED}
    by_other_value = case(by_code, value=_language_code(language), else_=literal(sums[search_terms.UNSTEMMED]))
    return bm25 / case(by_code, value=language, else_=by_other_value)
