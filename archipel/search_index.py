"""The search index follows the items: every flush that adds, changes or removes an item updates
its row in `search_documents` (facets) and `search_text` (words) in the same transaction, so a
search never shows what a listing no longer shows, and a rolled-back change leaves no trace.

Only the items listings may show are indexed (published or archived, not withdrawn, not hidden,
not a reply, a listed kind, public); which of them the island shows depends on whom it follows
at the time of the search (`search._shown`, the rule of content.in_archipelago by hosts).

Hooked on the ORM's flush (`before_flush` notes the items, `after_flush` writes them), because
items change in many places (authoring, replicas, moderation, blocks); the one path that inserts
items without a flush (federation/replicas.store) calls `refresh` itself.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import delete, event, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from archipel.search_terms import terms
from archipel.storage.tables import SearchDocument, StoredObject
from archipel.text import html_to_text

LISTED_KINDS = ("article", "fiche", "resource")
LISTED_STATES = ("published", "archived")
MAX_BODY = 200_000  # characters of an item's text indexed (a fiche holds at most ~150,000)

_PENDING = "search_index.pending"
# The headings and labels archipel/rendering.py writes into every fiche: not what a fiche is about.
_HEADING = re.compile(r"<h2>.*?</h2>", re.S)
_LABEL = re.compile(r"\b(Territoire|Public|Démarré le|Licence|Format|Durée) :")


def indexable(item: StoredObject) -> bool:
    return (item.deleted_at is None and item.hidden_at is None and item.in_reply_to is None
            and item.state in LISTED_STATES and item.kind in LISTED_KINDS and item.public is not False)


def island_of(uri: str) -> str:
    """The host an item comes from (ours for local items), as listings name islands."""
    return (urlsplit(uri).netloc.rpartition("@")[2] or "").lower()[:255]


def _year(value) -> int | None:
    match = re.match(r"\s*(\d{4})", str(value or ""))
    return int(match.group(1)) if match else None


def document(item: StoredObject) -> tuple[dict, dict]:
    """(facets, texts) of an item: the facets as search_documents holds them, and its title,
    pitch and body as indexed terms."""
    fields = item.fields or {}
    territory = fields.get("territory") or {}
    facets = {
        "object_id": item.id, "island": island_of(item.uri), "local": bool(item.is_local),
        "via": island_of(str((item.extra or {}).get("shared_by") or "")), "kind": item.kind,
        "language": (item.language or "")[:16], "licence": (item.licence or "")[:32],
        "region": (item.region or territory.get("region") or "")[:200],
        "place": (item.place or territory.get("place") or "")[:200],
        "audience": " ".join(str(fields.get("audience") or "").split())[:200],
        "started_year": _year(fields.get("started")), "published": item.published,
    }
    pitch = " ".join(dict.fromkeys(part for part in (fields.get("pitch"), item.summary) if part))
    body = html_to_text(_LABEL.sub(" ", _HEADING.sub(" ", item.content or "")))
    body = " ".join([body, *(str(tag) for tag in item.tags or [])])[:MAX_BODY]
    language = item.language
    texts = {"id": item.id, "title": terms(item.name or "", language),
             "pitch": terms(html_to_text(pitch), language), "body": terms(body, language)}
    return facets, texts


def _write(connection: Connection, removed: set[int], added: list[StoredObject]) -> None:
    ids = removed | {item.id for item in added}
    if not ids:
        return
    sqlite = connection.dialect.name == "sqlite"
    connection.execute(delete(SearchDocument).where(SearchDocument.object_id.in_(ids)))
    if sqlite:
        connection.execute(text("DELETE FROM search_text WHERE rowid = :id"), [{"id": i} for i in ids])
    else:
        connection.execute(text("DELETE FROM search_text WHERE object_id = ANY(:ids)"), {"ids": list(ids)})
    if not added:
        return
    rows = [document(item) for item in added]
    connection.execute(insert(SearchDocument), [facets for facets, _ in rows])
    if sqlite:
        connection.execute(text("INSERT INTO search_text (rowid, title, pitch, body) "
                                "VALUES (:id, :title, :pitch, :body)"), [texts for _, texts in rows])
    else:
        connection.execute(text(
            "INSERT INTO search_text (object_id, vector) VALUES (:id, "
            "setweight(to_tsvector('simple', :title), 'A') || setweight(to_tsvector('simple', :pitch), 'B')"
            " || setweight(to_tsvector('simple', :body), 'C'))"), [texts for _, texts in rows])


def _apply(connection: Connection, items: list[StoredObject], fresh: set[int] = frozenset()) -> None:
    """Index what is indexable among `items`, remove the others (unless just created: nothing
    to remove)."""
    added = [item for item in items if indexable(item)]
    removed = {item.id for item in items if not indexable(item) and item.id not in fresh}
    _write(connection, removed, added)


async def refresh(session: AsyncSession, item: StoredObject, *, fresh: bool = False) -> None:
    """Index one item now (for an item inserted without the ORM's flush)."""
    await session.run_sync(lambda sync: _apply(sync.connection(), [item], {item.id} if fresh else set()))


@event.listens_for(Session, "before_flush")
def _note_changed_items(session: Session, _context, _instances) -> None:
    pending = session.info.setdefault(_PENDING, {})
    for obj in session.new:
        if isinstance(obj, StoredObject):
            pending[id(obj)] = (obj, True)
    for obj in session.dirty:
        if isinstance(obj, StoredObject) and id(obj) not in pending and session.is_modified(obj):
            pending[id(obj)] = (obj, False)
    for obj in session.deleted:
        if isinstance(obj, StoredObject):
            pending[id(obj)] = (obj, None)


@event.listens_for(Session, "after_flush")
def _index_changed_items(session: Session, _context) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    changed = [(obj, new) for obj, new in pending.values() if new is not None]
    deleted = {obj.id for obj, new in pending.values() if new is None and obj.id is not None}
    if deleted:
        _write(session.connection(), deleted, [])
    if changed:
        # A new item that is not indexable (a reply, a draft) has no row to remove: no statement.
        if any(indexable(obj) or not new for obj, new in changed):
            _apply(session.connection(), [obj for obj, _ in changed], {obj.id for obj, new in changed if new})


async def reindex(session: AsyncSession, *, batch: int = 500) -> int:
    """Rebuild the whole index from the items (`archipel reindex`); the count of items indexed."""
    await session.run_sync(lambda sync: _clear(sync.connection()))
    indexed, after = 0, 0
    while True:
        items = list(await session.scalars(
            select(StoredObject).where(StoredObject.id > after).order_by(StoredObject.id).limit(batch)))
        if not items:
            return indexed
        await session.run_sync(lambda sync: _apply(sync.connection(), items, {item.id for item in items}))
        indexed += sum(1 for item in items if indexable(item))
        after = items[-1].id
        session.expunge_all()


def _clear(connection: Connection) -> None:
    connection.execute(delete(SearchDocument))
    connection.execute(text("DELETE FROM search_text"))

