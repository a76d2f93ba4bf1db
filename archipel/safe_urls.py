"""The one rule for URLs that came from another server before a page shows them.

A remote actor or object may claim anything as its `url`, `icon` or link: `javascript:`,
`data:text/html`, a scheme hidden behind a tab or mixed case, a scheme-relative `//host`, or
`http://user:password@host` (a phishing classic: the page seems to link to `user`). Only an
absolute http(s) URL with a host, without credentials, control characters or spaces, and of a
bounded length ever becomes a link or an image source; anything else is no link at all.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_URL_CHARS = 2000  # the width of every URL column
# Controls (C0, DEL, C1), spaces of any kind and backslashes: browsers strip or reinterpret them
# (`\tjavascript:`, `https:\\evil`), so a URL holding one is not the URL it looks like.
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\\\s\u200b-\u200f\u2028\u2029\u202a-\u202e\ufeff]")


def safe_url(url: object) -> str | None:
    """`url` if it is a plain absolute http(s) URL, else None."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS or _UNSAFE_CHARS.search(url):
        return None
    if not url.startswith(("https://", "http://")):  # exact lower case: no JaVaScRiPt, no //host
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    if not parts.hostname or "@" in parts.netloc:
        return None
    return url
