"""The search index follows the items: every flush that adds, changes or removes an item updates
its row in `search_documents` (facets) and `search_text` (words; on PostgreSQL with a copy of the
facets) in the same transaction, so a
search never shows what a listing no longer shows, and a rolled-back change leaves no trace. The
counts kept from these rows change with them: the search's (search_totals) and the map's
(map_cells).

Only the items listings may show are indexed (published or archived, not withdrawn, not hidden,
not a reply, a listed kind, public); which of them the island shows depends on whom it follows
at the time of the search (`search._shown`, the rule of content.in_archipelago by hosts).

Hooked on the ORM's flush (`before_flush` notes the items, `after_flush` writes them), because
items change in many places (authoring, replicas, moderation, blocks); the one path that inserts
items without a flush (federation/replicas.store) calls `refresh` itself.
"""

from __future__ import annotations

import re

from sqlalchemy import Boolean, Integer, String, Text, bindparam, delete, event, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from archipel import map_cells, search_totals
from archipel.search_terms import terms
from archipel.storage.tables import SearchDocument, StoredObject, UTCDateTime, origin_host_of
from archipel.text import html_to_text
from archipel.themes import theme_key

LISTED_KINDS = ("article", "fiche", "resource", "event")
LISTED_STATES = ("published", "archived")
MAX_BODY = 200_000  # characters of an item's text indexed (a fiche holds at most ~150,000)

# PostgreSQL's search_text: an item's words and a copy of its facets (migration 0022), so that a
# search with words reads one table (archipel/search.py). SQLite's FTS5 table holds words only.
TEXT_FACETS = {"island": String, "local": Boolean, "via": String, "kind": String, "language": String,
               "licence": String, "region": String, "place": String, "audience": String,
               "started_year": Integer, "published": UTCDateTime, "themes": Text}
_INSERT_POSTGRESQL_TEXT = text(
    f"INSERT INTO search_text (object_id, vector, {', '.join(TEXT_FACETS)}) VALUES (:id, "
    "setweight(to_tsvector('simple', :title), 'A') || setweight(to_tsvector('simple', :pitch), 'B')"
    f" || setweight(to_tsvector('simple', :body), 'C'), {', '.join(':' + name for name in TEXT_FACETS)})"
).bindparams(bindparam("published", type_=UTCDateTime))

_PENDING = "search_index.pending"
# The headings and labels archipel/rendering.py writes into every fiche: not what a fiche is about.
_HEADING = re.compile(r"<h2>.*?</h2>", re.S)
_LABEL = re.compile(r"\b(Territoire|Public|Démarré le|Licence|Format|Durée|Lieu|En ligne) :")


def indexable(item: StoredObject) -> bool:
    return (item.deleted_at is None and item.hidden_at is None and item.in_reply_to is None
            and item.state in LISTED_STATES and item.kind in LISTED_KINDS and item.public is not False)


def island_of(uri: str) -> str:
    """The host an item comes from (ours for local items), as listings name islands and as
    content.in_archipelago compares them (objects.origin_host)."""
    return origin_host_of(uri)[:255]


def _year(value) -> int | None:
    match = re.match(r"\s*(\d{4})", str(value or ""))
    return int(match.group(1)) if match else None


def _theme_labels(item: StoredObject) -> dict[str, str]:
    """Theme key -> label, as content.sync_themes files them."""
    labels: dict[str, str] = {}
    for label in item.tags or []:
        key = theme_key(str(label))[:100]
        if key:
            labels.setdefault(key, str(label)[:100])
    return labels


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
        # An event's year is the year it starts in.
        "started_year": _year(fields.get("started") or fields.get("start")), "published": item.published,
        "themes": " ".join(_theme_labels(item)),
        "latitude": item.latitude, "longitude": item.longitude,
    }
    pitch = " ".join(dict.fromkeys(part for part in (fields.get("pitch"), item.summary) if part))
    body = html_to_text(_LABEL.sub(" ", _HEADING.sub(" ", item.content or "")))
    body = " ".join([body, *(str(tag) for tag in item.tags or [])])[:MAX_BODY]
    language = item.language
    texts = {"id": item.id, "title": terms(item.name or "", language),
             "pitch": terms(html_to_text(pitch), language), "body": terms(body, language)}
    return facets, texts


def _write(connection: Connection, removed: set[int], added: list[StoredObject],
           fresh: set[int] = frozenset(), *, pairs: bool = True) -> None:
    """Remove the rows of `removed` and of `added`, then index `added`; `fresh` ids were just
    created and have nothing to remove (the inbox's new replicas: no statement spent on them)."""
    stale = (removed | {item.id for item in added}) - fresh
    old: list[dict] = []
    sqlite = connection.dialect.name == "sqlite"
    if stale:
        old = [dict(row._mapping) for row in connection.execute(
            select(SearchDocument.__table__).where(SearchDocument.object_id.in_(stale)))]
        if old:
            connection.execute(delete(SearchDocument).where(
                SearchDocument.object_id.in_([row["object_id"] for row in old])))
        # Always: an FTS5 row has no foreign key, and SQLite may give a deleted item's id again.
        if sqlite:
            connection.execute(text("DELETE FROM search_text WHERE rowid = :id"), [{"id": i} for i in stale])
        elif old:
            connection.execute(text("DELETE FROM search_text WHERE object_id = ANY(:ids)"),
                               {"ids": [row["object_id"] for row in old]})
    rows = [document(item) for item in added]
    new = [facets for facets, _ in rows]
    if rows:
        connection.execute(insert(SearchDocument), new)
        if sqlite:
            connection.execute(text("INSERT INTO search_text (rowid, title, pitch, body) "
                                    "VALUES (:id, :title, :pitch, :body)"), [texts for _, texts in rows])
        else:
            connection.execute(_INSERT_POSTGRESQL_TEXT, [{**texts, **{name: facets[name] for name in TEXT_FACETS}}
                                                         for facets, texts in rows])
    labels = {item.id: _theme_labels(item) for item in added}
    search_totals.apply(connection, old, [{**facets, "theme_labels": labels[facets["object_id"]]} for facets in new],
                        pairs=pairs)
    map_cells.apply(connection, old, new)


def _apply(connection: Connection, items: list[StoredObject], fresh: set[int] = frozenset(),
           *, pairs: bool = True) -> None:
    """Index what is indexable among `items`, remove the others (unless just created: nothing
    to remove)."""
    added = [item for item in items if indexable(item)]
    removed = {item.id for item in items if not indexable(item) and item.id not in fresh}
    _write(connection, removed, added, fresh, pairs=pairs)


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
    deleted = {obj.id for obj in session.deleted if isinstance(obj, StoredObject) and obj.id is not None}
    if deleted:
        # Now, before the delete cascades to search_documents: the totals need the old rows.
        _write(session.connection(), deleted, [])


@event.listens_for(Session, "after_flush")
def _index_changed_items(session: Session, _context) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    changed = list(pending.values())
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
            await search_totals.compact(session)  # one row per count, not one per batch
            await map_cells.compact(session)
            await search_totals.rebuild_pairs(session)  # ~64 a document: counted once, at the end
            return indexed
        await session.run_sync(lambda sync: _apply(sync.connection(), items, {item.id for item in items},
                                                   pairs=False))
        indexed += sum(1 for item in items if indexable(item))
        after = items[-1].id
        session.expunge_all()


def _clear(connection: Connection) -> None:
    connection.execute(delete(SearchDocument))
    connection.execute(text("DELETE FROM search_text"))
    search_totals.clear(connection)
    map_cells.clear(connection)

