"""Published items: local articles written here and objects received from other servers.

The article is the first kind of item; fiches and resources extend the same storage and the same
publishing path.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cache, lru_cache

from sqlalchemy import Integer, and_, bindparam, exists, func, literal, or_, select, tuple_
from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import events, fiches, read_cache, revisions
from archipel import search_index  # noqa: F401 - its flush hooks keep the search index in step
from archipel import search_totals
from archipel.bounds import INT32_MAX, parse_int
from archipel.errors import Forbidden, InvalidInput, NotFound
from archipel.identity import actor_uri, object_uri
from archipel.rendering import render_item
from archipel.storage.tables import (Follow, ItemAuthor, ItemTheme, LocalActor, RemoteActor, SearchFacetTotal,
                                     StoredObject, utcnow)
from archipel.text import html_to_text
from archipel.themes import clean_tags, theme_key

MAX_TITLE = 300


def _check_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise InvalidInput("Donnez un titre.")
    if len(title) > MAX_TITLE:
        raise InvalidInput("Le titre dépasse %(limit)s caractères.", limit=MAX_TITLE)
    return title


def _territory_columns(fields: dict) -> dict:
    territory = fields.get("territory") or {}
    return {"place": territory.get("place") or "", "region": territory.get("region") or "",
            "latitude": territory.get("latitude"), "longitude": territory.get("longitude")}


def field_columns(kind: str, fields: dict) -> dict:
    """The columns written from an item's fields: its territory, and an event's moments."""
    columns = _territory_columns(fields)
    if kind == "event":
        columns["starts_at"], columns["ends_at"] = events.instants(fields)
        columns["time_zone"] = fields.get("time_zone") or None
    return columns


async def create_item(
    session: AsyncSession,
    *,
    base_url: str,
    authors: list[LocalActor],
    kind: str = "article",
    title: str,
    source: str = "",
    summary: str = "",
    tags=(),
    language: str = "fr",
    licence: str | None = None,
    state: str = "published",
    based_on: str | None = None,
    data: dict | None = None,
    cover: dict | None = None,
) -> StoredObject:
    """A new local item. `data` carries the structured fields of a fiche or a resource."""
    if kind not in fiches.KINDS:
        raise InvalidInput("Type de contenu inconnu : %(kind)s (au choix : %(choices)s).", kind=kind,
                           choices=", ".join(fiches.KINDS))
    if not authors:
        raise InvalidInput("Un contenu a besoin d'au moins une autrice ou un auteur.")
    fields, private = fiches.fields_for(kind, data or {})
    licence = fiches.check_licence(licence) if kind != "article" or licence else None
    uri = object_uri(base_url)
    author_uris = list(dict.fromkeys(actor_uri(base_url, a.username) for a in authors))
    item = StoredObject(
        uri=uri, is_local=True, type="Event" if kind == "event" else "Article", kind=kind, state=fiches.check_state(state),
        author_uri=author_uris[0], local_author_id=authors[0].id,
        name=_check_title(title), summary=html_to_text(summary)[:1000], source=source,
        content=render_item(kind, source, fields, licence), language=language or "fr", url=uri,
        tags=clean_tags(tags), licence=licence, based_on=based_on, fields=fields, private_fields=private,
        cover=_check_cover(cover), published=utcnow(), **field_columns(kind, fields),
    )
    session.add(item)
    await session.flush()
    for position, author in enumerate(author_uris):
        session.add(ItemAuthor(object_id=item.id, actor_uri=author, position=position))
    await sync_themes(session, item)
    if item.state != "draft":
        await revisions.record(session, item, author_uris[0])
    await session.flush()
    return item


async def create_article(session: AsyncSession, *, base_url: str, author: LocalActor, title: str,
                         source: str, summary: str = "", tags=(), language: str = "fr") -> StoredObject:
    return await create_item(session, base_url=base_url, authors=[author], title=title, source=source,
                             summary=summary, tags=tags, language=language)


_EDITABLE = ("title", "source", "summary", "tags", "language", "licence", "state", "data", "cover")


async def update_item(session: AsyncSession, item: StoredObject, *, editor_uri: str, **changes) -> StoredObject:
    """Change a local item; a published item gets a new `updated` date and a revision."""
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise InvalidInput("Ces champs ne se modifient pas : %(fields)s.", fields=", ".join(sorted(unknown)))
    if not item.is_local:
        raise Forbidden("Un contenu reçu d'un autre serveur ne se modifie pas ici : réutilisez-le plutôt.")
    if item.deleted_at is not None:
        raise InvalidInput("Ce contenu a été retiré.")
    if changes.get("title") is not None:
        item.name = _check_title(changes["title"])
    if changes.get("source") is not None:
        item.source = changes["source"]
    if changes.get("summary") is not None:
        item.summary = html_to_text(changes["summary"])[:1000]
    if changes.get("tags") is not None:
        item.tags = clean_tags(changes["tags"])
    if changes.get("language"):
        item.language = changes["language"]
    if changes.get("licence") is not None and item.kind != "article":
        item.licence = fiches.check_licence(changes["licence"])
    if changes.get("state") is not None:
        item.state = fiches.check_state(changes["state"])
    if "cover" in changes:
        item.cover = _check_cover(changes["cover"])
    if changes.get("data") is not None:
        merged = {**item.fields, **(changes["data"] or {})}
        if item.kind == "fiche" and "holders" not in (changes["data"] or {}):
            merged["holders"] = _holders_with_contacts(item)
        item.fields, item.private_fields = fiches.fields_for(item.kind, merged)
        for name, value in field_columns(item.kind, item.fields).items():
            setattr(item, name, value)
    item.content = render_item(item.kind, item.source or "", item.fields, item.licence)
    await sync_themes(session, item)
    if item.state != "draft":
        item.updated = _later_than(item.updated or item.published)
        await revisions.record(session, item, editor_uri)
    await session.flush()
    return item


def _check_cover(cover: dict | None) -> dict | None:
    """{url, name (alt text), mediaType} of an image, or None to remove it."""
    if not cover:
        return None
    url = str(cover.get("url") or "")
    if not url.startswith(("https://", "http://")):
        raise InvalidInput("L'image de couverture a besoin d'une adresse http(s).")
    if not str(cover.get("name") or "").strip():
        raise InvalidInput("Décrivez l'image de couverture par un texte (texte alternatif).")
    return {"url": url, "name": str(cover["name"]).strip()[:500], "mediaType": str(cover.get("mediaType") or "")[:100]}


def _holders_with_contacts(item: StoredObject) -> list[dict]:
    """Holders as stored, with their private contacts put back, so re-checking keeps them."""
    holders = [dict(holder) for holder in item.fields.get("holders", [])]
    for contact in (item.private_fields or {}).get("contacts", []):
        if contact["holder"] < len(holders):
            holders[contact["holder"]]["contact"] = contact["contact"]
    return holders


async def update_article(
    session: AsyncSession,
    article: StoredObject,
    *,
    title: str | None = None,
    source: str | None = None,
    summary: str | None = None,
    tags=None,
) -> StoredObject:
    return await update_item(session, article, editor_uri=article.author_uri, title=title, source=source,
                             summary=summary, tags=tags)


async def sync_themes(session: AsyncSession, item: StoredObject, *, fresh: bool = False) -> None:
    """Keep item_themes equal to the item's tags (by normalised key). `fresh`: the item was
    just inserted, it has no themes to remove yet."""
    await session.flush()
    if not fresh:
        await session.execute(sql_delete(ItemTheme).where(ItemTheme.object_id == item.id))
    seen = set()
    for label in item.tags or []:
        key = theme_key(label)[:100]
        if key and key not in seen:
            seen.add(key)
            session.add(ItemTheme(object_id=item.id, key=key, label=label[:100]))
    await session.flush()


PUBLIC_STATES = ("published", "archived")
LISTED_KINDS = ("article", "fiche", "resource", "event")

# The listings' statements are built once and shared (a statement never changes: `.where()` and
# `.limit()` make new ones). Building them took a millisecond or two each, several times per
# listing page, more than the database took to answer some of them.


@cache
def _island_follows():
    """The accepted follows of this island's own actor (of a remote actor: the rows our actors
    send). The island's id is not known here; it is the local id ending in /users/<its name>,
    and only our own actors follow remote ones, so the suffix is exact among these rows.
    (A join with the one island actor, not a scalar subquery: SQLite would then take the whole
    subquery as correlated and run it again for every item.)"""
    suffix = literal("/users/") + LocalActor.username
    return (select(RemoteActor.host).join(Follow, Follow.followed_uri == RemoteActor.uri)
            .join(LocalActor, LocalActor.kind == "island")
            .where(Follow.state == "accepted",
                   func.substr(Follow.follower_uri,
                               func.length(Follow.follower_uri) - func.length(suffix) + 1) == suffix))


def followed_island_hosts():
    """The hosts of the islands this island follows (a subquery)."""
    return _island_follows()


@cache
def in_archipelago():
    """The condition of a received item that the island shows and re-shares: its id is on the
    host of an island this island follows (the island itself or one of its members wrote it),
    or an island it follows re-shared it here (a hub: `shared_by`). Anything else that
    is stored (a stranger's reply or mention, a post of a person a member follows) is not
    part of the archipelago, whatever it claims.

    Both sides are columns written with the row (`origin_host` from the id, as
    `tables.origin_host_of` reads it; `shared_by` by replicas.store and mark_shared_by), looked
    up in the few followed islands: no per-row string work, and an index for either."""
    follows = _island_follows()
    return or_(StoredObject.origin_host.in_(follows),
               StoredObject.shared_by.in_(follows.with_only_columns(Follow.followed_uri)))


async def is_in_archipelago(session: AsyncSession, item: StoredObject) -> bool:
    """True for a local item, and for a received one that `in_archipelago` lets through."""
    if item.is_local:
        return True
    await session.flush()
    return bool(await session.scalar(select(exists().where(StoredObject.id == item.id, in_archipelago()))))


def public_items(*, local: bool | None = True, kinds=LISTED_KINDS, author_uri: str | None = None,
                 theme: str | None = None):
    """The query of items anyone may see (no drafts, no withdrawn items, no replies, nothing a
    moderator or a silence hid), newest first. Received items are only those of the islands
    this island follows (see in_archipelago)."""
    return _public_items(local, tuple(kinds), author_uri, theme)


@lru_cache(maxsize=512)
def _public_items(local: bool | None, kinds: tuple[str, ...], author_uri: str | None, theme: str | None):
    query = select(StoredObject).where(
        StoredObject.deleted_at.is_(None), StoredObject.hidden_at.is_(None), StoredObject.state.in_(PUBLIC_STATES),
        StoredObject.in_reply_to.is_(None), StoredObject.kind.in_(kinds))
    if local is None:
        query = query.where(or_(StoredObject.is_local.is_(True), in_archipelago()))
    elif local:
        query = query.where(StoredObject.is_local.is_(True))
    else:
        query = query.where(StoredObject.is_local.is_(False), in_archipelago())
    if author_uri:
        query = query.where(StoredObject.id.in_(
            select(ItemAuthor.object_id).where(ItemAuthor.actor_uri == author_uri)))
    if theme:
        query = query.where(StoredObject.id.in_(
            select(ItemTheme.object_id).where(ItemTheme.key == theme_key(theme))))
    return query.order_by(StoredObject.published.desc(), StoredObject.id.desc())


async def theme_counts(session: AsyncSession, *, local: bool | None = True, limit: int | None = 40,
                       offset: int = 0) -> list[tuple]:
    """(key, label, count) of the themes of public items, most used first (then by key, so that
    pages by offset neither skip nor repeat). Read from the counts the search index keeps per
    origin (archipel/search_totals.py: the same items, a few thousand rows), not from every
    item's themes: with 100,000 items that took a second on every home page."""
    if local is None:  # the whole archipelago: every origin's sums but the few not shown
        counts = sorted(((key, label, number) for _, key, label, number in
                         await search_totals.shown_totals(session, _island_follows(), "theme")),
                        key=lambda row: (-row[2], row[0]))
        return counts[offset:None if limit is None else offset + limit]
    values = {"offset": offset} if limit is None else {"limit": limit, "offset": offset}
    rows = await session.execute(_theme_counts(local, limit is not None), values)
    return [(key, label, int(number)) for key, label, number in rows]


@lru_cache(maxsize=4)
def _theme_counts(local: bool, limited: bool):
    """theme_counts' statement, built once (building it cost a third of running it); the
    limit and offset are parameters."""
    totals = SearchFacetTotal
    origin = search_totals.shown(totals, _island_follows(), local=local)
    count = func.sum(totals.count)
    statement = (select(totals.value, func.min(totals.label), count).where(totals.facet == "theme", origin)
                 .group_by(totals.value).having(count > 0).order_by(count.desc(), totals.value))
    if limited:
        statement = statement.limit(bindparam("limit", type_=Integer))
    return statement.offset(bindparam("offset", type_=Integer))


async def theme_label(session: AsyncSession, key: str, *, local: bool | None = None) -> str | None:
    """The label theme_counts gives a theme (the least of its spellings on public items), or
    None when no public item carries it: the first in (key, label) order, found by index."""
    visible = public_items(local=local).with_only_columns(StoredObject.id).order_by(None)
    return await session.scalar(
        select(ItemTheme.label).where(ItemTheme.key == key, visible.where(StoredObject.id == ItemTheme.object_id).exists())
        .order_by(ItemTheme.label).limit(1))


# A page starts after a cursor (see encode_position), given as parameters (cursor_values): a
# row value, which both databases seek in ix_objects_newest (published, id). Written as
# `published < m OR (published = m AND id < i)`, PostgreSQL walked every newer item to reach the
# cursor (120 ms half-way down 100,000). Typed as the columns: SQLite compares the stored text.
_OLDER = tuple_(StoredObject.published, StoredObject.id) < tuple_(
    bindparam("before_published", type_=StoredObject.published.type),
    bindparam("before_id", type_=StoredObject.id.type))


def older_than(query, position: tuple[datetime, int] | None):
    """A listing of public_items after a cursor: stable while new items keep arriving, since it
    names the last (published, id) shown, not a count of rows. (page_of, for a query built once.)"""
    return query if position is None else query.where(_OLDER).params(cursor_values(position))


# What a card shows of an item (web/templates/_card.html, cards.cards_for, the cover, a page's
# cursor): listings read these columns, not whole items (31 rows: 1.9 -> 1.3 ms of CPU).
CARD_COLUMNS = (StoredObject.id, StoredObject.uri, StoredObject.url, StoredObject.is_local, StoredObject.name,
                StoredObject.kind, StoredObject.based_on,
                # The pitch alone (as StoredObject.pitch): decoding every card's whole fields
                # (a fiche's sections) cost more than the rest of its row.
                StoredObject.fields["pitch"].as_string().label("pitch"), StoredObject.summary,
                StoredObject.language, StoredObject.tags, StoredObject.published, StoredObject.place,
                StoredObject.cover, StoredObject.author_uri)


@lru_cache(maxsize=256)
def card_page(query, after_cursor: bool, size: int):
    """page_of(query, after_cursor, size) read as CARD_COLUMNS (what cards show, not whole
    items), for a built-once listing query (public_items', newest first). The page's ids are
    found first and their columns read after: read with the ids, the pitch was taken out of the
    fields of every candidate a sort then dropped (an author's 725 items on PostgreSQL, when it
    plans for the author's own parameters: 15 ms, against 1 ms for the page's 31)."""
    found = page_of(query.with_only_columns(StoredObject.id, StoredObject.published), after_cursor, size)
    page = found.subquery("page")
    return (select(*CARD_COLUMNS).join(page, page.c.id == StoredObject.id)
            .order_by(page.c.published.desc(), page.c.id.desc()))


@lru_cache(maxsize=256)
def page_of(query, after_cursor: bool, size: int):
    """One page of `size` rows of a built-once listing query (public_items'), after a cursor
    given by cursor_values() when `after_cursor`: older_than's, built once per query and size
    (a statement built for every page cost a quarter of reading the page)."""
    return (query.where(_OLDER) if after_cursor else query).limit(size)


def cursor_values(position: tuple[datetime, int] | None) -> dict:
    """The parameters of page_of(query, True, size) for a decoded cursor."""
    return {} if position is None else {"before_published": position[0], "before_id": position[1]}


async def authors_of(session: AsyncSession, item: StoredObject) -> list[str]:
    rows = await session.scalars(select(ItemAuthor.actor_uri).where(ItemAuthor.object_id == item.id)
                                 .order_by(ItemAuthor.position))
    return list(rows) or [item.author_uri]


async def authors_of_items(session: AsyncSession, items: list[StoredObject]) -> dict[int, list[str]]:
    """authors_of for a page of items, in one query."""
    found: dict[int, list[str]] = {item.id: [] for item in items}
    if items:
        rows = await session.execute(select(ItemAuthor.object_id, ItemAuthor.actor_uri)
                                     .where(ItemAuthor.object_id.in_(list(found)))
                                     .order_by(ItemAuthor.object_id, ItemAuthor.position))
        for object_id, uri in rows:
            found[object_id].append(uri)
    return {item.id: found[item.id] or [item.author_uri] for item in items}


_INSERT_AUTHORS = ItemAuthor.__table__.insert()


async def set_authors(session: AsyncSession, item: StoredObject, author_uris: list[str], *,
                      fresh: bool = False) -> None:
    """For items received from other islands: the authors their origin names (`fresh`: the
    item was just inserted, it has none to remove yet)."""
    if not fresh:
        await session.execute(sql_delete(ItemAuthor).where(ItemAuthor.object_id == item.id))
    # One plain INSERT: the inbox stores many replicas, and the ORM's flush cost more than it.
    rows = [{"object_id": item.id, "actor_uri": uri, "position": position}
            for position, uri in enumerate(dict.fromkeys(author_uris))]
    if rows:
        await session.execute(_INSERT_AUTHORS, rows)


async def withdraw(session: AsyncSession, item: StoredObject) -> StoredObject:
    """Tombstone: the id stays known (410) and is never re-created."""
    if item.deleted_at is None:
        item.deleted_at = _later_than(item.updated or item.published)
        item.updated = item.deleted_at
        await session.flush()
    return item


def _later_than(previous: datetime) -> datetime:
    """Receivers ignore an Update whose `updated` is not newer than what they have."""
    now = utcnow().replace(microsecond=0)
    floor = previous.replace(microsecond=0) + timedelta(seconds=1)
    return max(now, floor)


async def find_object(session: AsyncSession, uri: str) -> StoredObject | None:
    # Our own items are not changed by what other servers send: a batch may remember them.
    return await read_cache.remembered(
        session, ("object", uri), lambda: session.scalar(select(StoredObject).where(StoredObject.uri == uri)),
        keep=lambda item: item is not None and item.is_local)


async def get_object(session: AsyncSession, uri: str) -> StoredObject:
    item = await find_object(session, uri)
    if item is None:
        raise NotFound("Aucun contenu %(uri)s sur cette île.", uri=uri)
    return item


async def get_local_object(session: AsyncSession, uri: str, author: LocalActor | None = None):
    item = await get_object(session, uri)
    if not item.is_local:
        raise NotFound("%(uri)s n'est pas un contenu de cette île.", uri=uri)
    if author is not None and item.local_author_id != author.id:
        raise Forbidden("%(uri)s n'est pas un contenu de %(username)s.", uri=uri, username=author.username)
    return item


def changed_at():
    """When an item last changed (its Update or withdrawal, else its publication)."""
    return func.coalesce(StoredObject.updated, StoredObject.published)


def catalog_items(after: tuple | None, limit: int):
    """Local items that other islands replicate (published, archived or withdrawn), in the order
    they last changed, after a (moment, id) position: a cursor, never an offset. (The statement
    of a count; catalog_page reads a page.)"""
    query = select(StoredObject).where(
        StoredObject.is_local.is_(True), StoredObject.in_reply_to.is_(None),
        StoredObject.kind.in_(LISTED_KINDS),
        or_(StoredObject.state.in_(PUBLIC_STATES), StoredObject.deleted_at.is_not(None)))
    if after is not None:
        moment, ident = after
        query = query.where(or_(changed_at() > moment, and_(changed_at() == moment, StoredObject.id > ident)))
    return query.order_by(changed_at(), StoredObject.id).limit(limit)


async def catalog_page(session: AsyncSession, after: tuple | None, limit: int) -> list[StoredObject]:
    """catalog_items' page, read as two walks of an index that stop at `limit` rows, merged here:
    the items never updated in (published, id) order (ix_objects_local), the others in (updated,
    id) order (ix_objects_updated). Ordering by coalesce(updated, published) sorted every local
    item on each page (80 ms with 5,000). The walks read positions only; the page's items are
    loaded once merged (loading both walks' items loaded twice the page)."""
    base = catalog_items(None, limit).order_by(None).with_only_columns(StoredObject.id, StoredObject.published,
                                                                       StoredObject.updated)
    positions = []
    for moment_column, never_updated in ((StoredObject.published, True), (StoredObject.updated, False)):
        query = base.where(StoredObject.updated.is_(None) if never_updated else StoredObject.updated.is_not(None))
        if after is not None:
            moment, ident = after  # typed as the columns: SQLite compares the stored text
            query = query.where(tuple_(moment_column, StoredObject.id)
                                > tuple_(literal(moment, moment_column.type), literal(ident, StoredObject.id.type)))
        positions += (await session.execute(query.order_by(moment_column, StoredObject.id))).all()
    page = [ident for ident, _, _ in sorted(positions, key=lambda row: (row[2] or row[1], row[0]))[:limit]]
    found = {item.id: item for item in await session.scalars(select(StoredObject).where(StoredObject.id.in_(page)))}
    return [found[ident] for ident in page if ident in found]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def encode_position(moment: datetime, ident: int) -> str:
    """A cursor '<microseconds since 1970>_<id>', exact (no floating point)."""
    return f"{(moment - _EPOCH) // timedelta(microseconds=1)}_{ident}"


_MICROS_LIMIT = (datetime(9999, 12, 31, tzinfo=timezone.utc) - _EPOCH) // timedelta(microseconds=1)


def decode_position(text: str | None) -> tuple[datetime, int] | None:
    """The position of a cursor; None for anything encode_position cannot have written (a moment
    beyond the calendar, an id beyond a row id), so no query ever gets an unstorable value."""
    micros, _, ident = (text or "").partition("_")
    number = parse_int(micros.removeprefix("-"), maximum=_MICROS_LIMIT)
    row_id = parse_int(ident, maximum=INT32_MAX)
    if number is None or row_id is None:
        return None
    return _EPOCH + timedelta(microseconds=-number if micros.startswith("-") else number), row_id
