"""The one rule for a redirect whose target comes from a request (`next`, a return page): only a
path on this site, else a safe default. Browsers forgive a lot (backslashes read as slashes, tabs
and newlines dropped, `//host` taken as another site), so anything unusual is refused rather than
cleaned: a genuine return path of ours never needs it."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

MAX_PATH = 2000
_DECODE_ROUNDS = 4  # a path encoded more often than this is refused, not decoded further


def _plain_ascii(text: str) -> bool:
    """No control character, no space, nothing outside printable ASCII (look-alike slashes,
    right-to-left marks: browsers and proxies read those differently from us)."""
    return all(0x21 <= ord(character) <= 0x7e for character in text)


def _no_controls(text: str) -> bool:
    return not any(unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp") or (character.isspace() and character != " ")
                   for character in text)


def _looks_local(text: str, *, raw: bool) -> bool:
    """A path-absolute reference that no reader can take for another host. The raw value (what the
    browser reads) must be plain ASCII; decoded forms may hold letters, and are also checked as a
    Unicode normalisation would see them (a full-width solidus becomes '/')."""
    if raw and not _plain_ascii(text):
        return False
    if not raw:
        if not _no_controls(text):
            return False
        folded = unicodedata.normalize("NFKC", text)
        if folded != text and not _looks_local(folded, raw=False):
            return False
    if not text.startswith("/") or text.startswith(("//", "/\\")) or "\\" in text:
        return False
    parts = urlsplit(text)
    if parts.scheme or parts.netloc:
        return False
    return not any(segment in (".", "..") for segment in parts.path.split("/"))


def local_path(value: object, default: str = "/") -> str:
    """`value` if it is a path on this site (`/espace?done=1`), else `default`.

    Every decoded form must pass too, so that `/%2F%2Fevil.example` or `/%5Cevil.example`, which a
    proxy or a browser may decode on the way, cannot become another site."""
    if not isinstance(value, str) or not value or len(value) > MAX_PATH:
        return default
    text, raw = value, True
    for _ in range(_DECODE_ROUNDS):
        if not _looks_local(text, raw=raw):
            return default
        try:
            decoded = unquote(text, errors="strict") if "%" in text else text
        except UnicodeDecodeError:
            return default
        if decoded == text:
            return value
        text, raw = decoded, False
    return default
