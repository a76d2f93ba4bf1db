"""Excerpts of search results with the words found marked, the same on both databases: made here
from the item's text rather than by either database, which each mark differently."""

from __future__ import annotations

import functools
import itertools
import re

from archipel import search_terms

EXCERPT_WORDS = 32
MAX_TEXT = 5_000  # characters looked through for an excerpt (a page marks 20 results)
_TOKEN = re.compile(r"[^\W_]+|[\W_]+")
_WORD = re.compile(r"[^\W_]+")


@functools.lru_cache(maxsize=100_000)
def _root(token: str, tag: str) -> str | None:
    """The indexed root of one word as it is written (None for what is not a word)."""
    found = search_terms.words(token)
    return search_terms.stem(found[0], tag) if len(found) == 1 else None


def marked(text: str, stems: set[str], language: str | None) -> list[tuple[str, bool]]:
    """The text cut in (piece, found) pairs: templates escape each piece and mark the found ones."""
    if not stems:
        return [(token, False) for token in _TOKEN.findall(text or "")]
    tag = search_terms.tag_for(language)
    return [(token, token[0].isalnum() and _root(token, tag) in stems) for token in _TOKEN.findall(text or "")]


def looked_at(stems: set[str], size: int = EXCERPT_WORDS) -> int:
    """The characters of a text an excerpt reads: the beginning only when there is nothing to
    find (a caller making the text need not make more)."""
    return MAX_TEXT if stems else size * 20


def excerpt(text: str, stems: set[str], language: str | None, *, size: int = EXCERPT_WORDS) -> list[tuple[str, bool]]:
    """The window of `size` words holding the most words found (the start when none), with an
    ellipsis where it was cut. Only the window is cut in pieces: the words of the rest are only
    looked up (a page's twenty excerpts read up to 5,000 characters each)."""
    text = (text or "")[:looked_at(stems, size)]
    words = _WORD.findall(text)
    if len(words) <= size:
        return marked(text, stems, language)
    tag = search_terms.tag_for(language)
    found = [1 if _root(word, tag) in stems else 0 for word in words] if stems else [0] * len(words)
    best_start = 0
    best_score = score = sum(found[:size])
    for start in range(1, len(found) - size + 1):  # a sliding window: one pass
        score += found[start + size - 1] - found[start - 1]
        if score > best_score:
            best_start, best_score = start, score
    if best_score:  # the first word found a quarter into the window, rather than at its end
        first_found = next(i for i in range(best_start, best_start + size) if found[i])
        best_start = max(0, min(first_found - size // 4, len(found) - size))
    window = list(itertools.islice(_WORD.finditer(text), best_start, best_start + size))
    first, last = window[0].start(), window[-1].end()
    cut = marked(text[first:last], stems, language)
    if first > 0:
        cut = [("… ", False), *cut]
    if last < len(text):
        cut.append((" …", False))
    return cut
