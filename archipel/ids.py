"""Opaque, permanent identifiers.

Object ids never derive from a title or a slug: a title changes, an id must not. We use
ULIDs (time-ordered, so ids sort by creation) in lowercase Crockford base32.
"""

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_ulid(now_ms: int | None = None) -> str:
    """26 characters: 48 bits of milliseconds, then 80 random bits."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_ulid(text: str) -> bool:
    return len(text) == 26 and all(c in _ALPHABET for c in text)
