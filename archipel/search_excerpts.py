"""Excerpts of search results with the words found marked, the same on both databases: made here
from the item's text rather than by either database, which each mark differently."""

from __future__ import annotations

import re

from archipel import search_terms

EXCERPT_WORDS = 32
MAX_TEXT = 20_000  # characters looked through for an excerpt (a page marks 20 results)
_TOKEN = re.compile(r"[^\W_]+|[\W_]+")


def _found(token: str, stems: set[str], tag: str) -> bool:
    word = token.lower()
    return bool(search_terms.words(word)) and search_terms.stem(word, tag) in stems


def marked(text: str, stems: set[str], language: str | None) -> list[tuple[str, bool]]:
    """The text cut in (piece, found) pairs: templates escape each piece and mark the found ones."""
    tag = search_terms.tag_for(language)
    return [(token, _found(token, stems, tag)) for token in _TOKEN.findall(text or "")]


def excerpt(text: str, stems: set[str], language: str | None, *, size: int = EXCERPT_WORDS) -> list[tuple[str, bool]]:
    """The window of `size` words holding the most words found (the start when none), with an
    ellipsis where it was cut."""
    pieces = marked((text or "")[:MAX_TEXT], stems, language)
    word_positions = [i for i, (token, _) in enumerate(pieces) if token[0].isalnum()]
    if len(word_positions) <= size:
        return pieces
    found = [1 if pieces[i][1] else 0 for i in word_positions]
    best_start = 0
    best_score = score = sum(found[:size])
    for start in range(1, len(found) - size + 1):  # a sliding window: one pass
        score += found[start + size - 1] - found[start - 1]
        if score > best_score:
            best_start, best_score = start, score
    if best_score:  # the first word found a quarter into the window, rather than at its end
        first_found = next(i for i in range(best_start, best_start + size) if found[i])
        best_start = max(0, min(first_found - size // 4, len(found) - size))
    first, last = word_positions[best_start], word_positions[best_start + size - 1]
    cut = pieces[first:last + 1]
    if first > 0:
        cut = [("… ", False), *cut]
    if last < len(pieces) - 1:
        cut.append((" …", False))
    return cut
