"""Items received from other servers: stored and updated exactly like local ones.

Used by the inbox handlers (Create, Update, Announce) and by catalog walks (backfill and
catch-up), after each has checked who may say what about the object.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from archipel import content, revisions, search_index
from archipel.bounds import clip_text, fits_uri, require_uri, uri_or_none
from archipel.storage.statements import prepared
from archipel.storage.tables import StoredObject, utcnow
from archipel.text import html_to_text, sanitize_html
from federation import items, theme_actors
from federation.as2 import as_list, has_type, id_of, ids_of, text_value, types_of
from federation.vocabulary import PUBLIC

CONTENT_TYPES = ("Note", "Article", "Page", "Question", "Event", "Video", "Image", "Audio", "Document")
REPLICATED = ("name", "summary", "content", "tags", "url", "language", "kind", "state", "licence", "based_on",
              "fields", "source", "place", "region", "latitude", "longitude", "cover", "starts_at", "ends_at",
              "time_zone")


def parse_time(value) -> datetime | None:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def author_of(obj: dict) -> str | None:
    attributed = as_list(obj.get("attributedTo"))
    authors = [a for a in (id_of(x) for x in attributed) if a]
    return authors[0] if authors else None


def object_fields(obj: dict, author: str) -> dict:
    content_map = obj.get("contentMap")
    language = next(iter(content_map), "") if isinstance(content_map, dict) and content_map else ""
    audience = ids_of(obj.get("to")) + ids_of(obj.get("cc"))
    # A name in a language map too: Mobilizon's context ("@language": "und") makes one of it.
    tags = [text_value(tag, "name") for tag in as_list(obj.get("tag"))
            if isinstance(tag, dict) and has_type(tag, "Hashtag") and text_value(tag, "name")]
    url = obj.get("url")
    fields = {
        "type": next((t for t in types_of(obj) if t in CONTENT_TYPES), "Note"),
        "author_uri": author,
        "in_reply_to": _optional_uri(id_of(obj.get("inReplyTo")), "inReplyTo"),
        "name": html_to_text(text_value(obj, "name"))[:500],
        "summary": html_to_text(text_value(obj, "summary"))[:2000],
        "content": sanitize_html(text_value(obj, "content")),
        "language": clip_text(language or "und", 16),
        "url": uri_or_none(id_of(url[0] if isinstance(url, list) and url else url)) or obj["id"],
        "tags": [t.lstrip("#")[:100] for t in tags][:50],
        "public": PUBLIC in audience,
        "published": parse_time(obj.get("published")) or utcnow(),
        "updated": parse_time(obj.get("updated")),
        "kind": "article" if "Article" in types_of(obj) else "note",
    }
    rich = items.item_columns(obj)  # a fiche or resource from another island: rebuilt, checked
    if rich is not None:
        fields.update(rich)
        fields["based_on"] = uri_or_none(fields.get("based_on"))
        fields["place"], fields["region"] = clip_text(fields["place"], 500), clip_text(fields["region"], 500)
    return fields


def _storable(uris: list[str]) -> list[str]:
    return [uri for uri in uris if fits_uri(uri)]


def _optional_uri(value: str | None, what: str) -> str | None:
    """None stays None; a value that does not fit its column refuses the object (OutOfBounds)."""
    return None if value is None else require_uri(value, what)


class AlreadyStored(Exception):
    """Another worker stored this object first (a catalog walk and the inbox may race)."""


async def store(session: AsyncSession, obj: dict, author: str, *, shared_by: str | None = None) -> StoredObject:
    """A checked object from another server, stored like ours (authors, themes, first revision).
    `shared_by`: the island we follow that re-shared it here (see content.in_archipelago).

    The row is inserted with ON CONFLICT DO NOTHING: if another worker stored the same id a
    moment ago, this one gets AlreadyStored instead of a failed transaction."""
    values = {"uri": require_uri(obj["id"], "object id"), "is_local": False,
              "extra": {"shared_by": shared_by} if shared_by else {}, "shared_by": shared_by,
              "private_fields": {},
              **object_fields(obj, require_uri(author, "author"))}
    item = await session.scalar(_insert_object(session), values)
    if item is None:
        raise AlreadyStored(obj["id"])
    await search_index.refresh(session, item, fresh=True)  # inserted without a flush
    await content.set_authors(session, item, _storable(items.authors_in(obj, author)), fresh=True)
    await content.sync_themes(session, item, fresh=True)
    await theme_actors.ensure_for(session, item)  # its themes are followable here from now on
    if item.kind in items.RICH_KINDS:
        await revisions.record(session, item, author)
    return item


@prepared
def _insert_object(insert):
    return insert(StoredObject).on_conflict_do_nothing(index_elements=["uri"]).returning(StoredObject)


def mark_shared_by(existing: StoredObject, island_uri: str) -> None:
    """An island we follow re-shared this item: it is part of the archipelago from now on."""
    if (existing.extra or {}).get("shared_by") != island_uri:
        existing.extra = {**(existing.extra or {}), "shared_by": island_uri}
    existing.shared_by = island_uri  # the column content.in_archipelago reads


async def update(session: AsyncSession, existing: StoredObject, obj: dict, editor: str) -> bool:
    """Apply a newer version of a received object; False when it is not newer than ours."""
    fields = object_fields(obj, existing.author_uri)
    # The origin's own clock only: a document without `updated` is the version of its
    # `published` date. Our clock (the moment it arrived) could be later than the origin's next
    # edit, and that edit would then be refused as older.
    newer = fields["updated"] or fields["published"]
    # Never updated: its publication is the version we hold (a catalog walk or a re-share
    # bringing the same version again changes nothing, and records no revision).
    if newer <= (existing.updated or existing.published):
        return False
    for name in REPLICATED:
        if name in fields:
            setattr(existing, name, fields[name])
    existing.updated = newer
    await content.sync_themes(session, existing)
    await theme_actors.ensure_for(session, existing)
    if existing.kind in items.RICH_KINDS:
        await content.set_authors(session, existing, _storable(items.authors_in(obj, existing.author_uri)))
        await revisions.record(session, existing, editor)
    return True
