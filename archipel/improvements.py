"""Where a reader proposes an improvement to an item received from another island.

A proposal goes to the item's own island: its authors decide. When that island runs Archipel
(a fiche or a training resource, whose address is `<island>/o/<ULID>`: only Archipel makes
those), the reader is sent to its proposal form for that item; otherwise to the item's page
there. Nothing is fetched: the address is built from the item's own URI.
"""

from __future__ import annotations

import re

from archipel.safe_urls import safe_url
from archipel.storage.tables import StoredObject

ARCHIPEL_KINDS = ("fiche", "resource")  # what the proposal form accepts
_ITEM_PATH = re.compile(r"(?P<base>https?://[^?#]+)/o/(?P<ulid>[0-9a-z]{26})")


def proposal_url(item: StoredObject) -> str | None:
    """The address of the proposal form for a received item (or of its page there), None for
    one of ours or one that cannot be improved (withdrawn, not a fiche or resource)."""
    if item.is_local or item.deleted_at is not None or item.kind not in ARCHIPEL_KINDS:
        return None
    uri = safe_url(item.uri)
    match = _ITEM_PATH.fullmatch(uri or "")
    if match is None:
        return safe_url(item.url) or uri
    return f"{match['base']}/proposer?item={match['ulid']}"
