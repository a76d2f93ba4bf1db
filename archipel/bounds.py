"""What the database can hold, checked before anything is stored: the same on SQLite and PostgreSQL.

SQLite stores an overlong VARCHAR, a NUL character or a 100-digit integer without a word;
PostgreSQL refuses them (and a refused row fails its whole transaction). So every value that
comes from outside is checked here first: an id or a URL that does not fit its column is refused,
a text shown to people is cleaned and cut, a number beyond 64 bits is not a number we keep.
"""

from __future__ import annotations

import re

from archipel.errors import InvalidInput

URI_MAX = 2000  # String(2000): every id and URL column
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1

# NUL is refused by PostgreSQL text and JSONB; a lone surrogate cannot be encoded as UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Control characters (tab, newline and carriage return aside) have no place in a shown text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# An id or URL is one printable token: no space, no control character, no surrogate.
_NOT_IN_URI = re.compile("[\x00-\x20\x7f-\x9f\ud800-\udfff]")
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


class OutOfBounds(InvalidInput, ValueError):
    """A value that the database could not hold as it is: a 400 for a request, an ignored
    activity for the inbox worker."""


def storable(text: str) -> bool:
    """False for a string that PostgreSQL (or UTF-8) refuses: a NUL or a lone surrogate."""
    return _UNSTORABLE.search(text) is None


def fits_uri(value: object, limit: int = URI_MAX) -> bool:
    """True for a string that can be stored as an id or URL: short enough, one printable token."""
    return (isinstance(value, str) and 0 < len(value) <= limit
            and _NOT_IN_URI.search(value) is None)


def uri_or_none(value: object, limit: int = URI_MAX) -> str | None:
    """An optional id or URL: kept when it fits, dropped (None) when it does not."""
    return value if fits_uri(value, limit) else None


def require_uri(value: object, what: str = "id", limit: int = URI_MAX) -> str:
    """A required id or URL: refused (OutOfBounds) when it does not fit."""
    if not fits_uri(value, limit):
        shown = value[:80] if isinstance(value, str) else type(value).__name__
        raise OutOfBounds("%(what)s n'est pas une adresse d'au plus %(limit)s caractères : %(shown)r.",
                          what=what, limit=limit, shown=shown)
    return value


def clip_text(value: object, limit: int) -> str:
    """A text shown to people: control characters removed, cut to the column's length."""
    if not isinstance(value, str):
        return ""
    return _CONTROL.sub("", value)[:limit]


def clean_text(value: str) -> str:
    """An unbounded text (a Text column): only what PostgreSQL refuses is removed."""
    return _CONTROL.sub("", value) if _CONTROL.search(value) else value


def parse_int(text: str | None, *, minimum: int = 0, maximum: int = INT64_MAX) -> int | None:
    """A number written in ASCII digits only ("12", never "+12", " 12", "1_2", "1e3", "١٢"),
    within [minimum, maximum]; None for anything else."""
    if not isinstance(text, str) or not _ASCII_DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if minimum <= number <= maximum else None
