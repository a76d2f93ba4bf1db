"""Pure functions that build the AS2 documents we serve and send. Their shapes are tested."""

from __future__ import annotations

import html
from datetime import datetime, timezone

from archipel.identity import actor_uri
from archipel.storage.tables import LocalActor, StoredObject
from archipel.text import html_to_text
from archipel.themes import hashtag_for
from federation.items import extension_properties, teaser_facts
from federation.vocabulary import ACTIVITY_CONTEXT, ACTOR_CONTEXT, OBJECT_CONTEXT, PUBLIC


def rfc3339(moment: datetime) -> str:
    """Mastodon parses RFC 3339; whole seconds in UTC are the common form."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ActorUrls:
    """Every URL of a local actor, derived from its id."""

    def __init__(self, base_url: str, username: str):
        self.base_url = base_url.rstrip("/")
        self.id = actor_uri(base_url, username)
        self.inbox = f"{self.id}/inbox"
        self.outbox = f"{self.id}/outbox"
        self.followers = f"{self.id}/followers"
        self.following = f"{self.id}/following"
        self.featured = f"{self.id}/collections/featured"
        self.avatar = f"{self.id}/avatar.png"
        self.header = f"{self.id}/header.png"
        self.catalog = f"{self.id}/catalog"
        self.key_id = f"{self.id}#main-key"
        self.shared_inbox = f"{self.base_url}/inbox"
        self.profile = f"{self.base_url}/@{username}"


ACTOR_TYPES_BY_KIND = {"island": "Group", "theme": "Group", "person": "Person"}


def actor_document(actor: LocalActor, base_url: str) -> dict:
    """Islands and themes are Groups (the convention for an actor that re-shares, FEP-1b12),
    people are Persons. A new follower sees a full profile: picture, header, text, links, pins."""
    urls = ActorUrls(base_url, actor.username)
    return {
        "@context": ACTOR_CONTEXT,
        "id": urls.id,
        "type": ACTOR_TYPES_BY_KIND.get(actor.kind, "Person"),
        "preferredUsername": actor.username,
        "name": actor.display_name,
        "summary": summary_html(actor.summary),
        "url": urls.profile,
        "icon": image_document(actor.avatar, urls.avatar, "image/png"),
        "image": image_document(actor.header, urls.header, "image/png"),
        "attachment": [property_value(link["name"], link["url"]) for link in actor.links or []
                       if isinstance(link, dict) and link.get("name") and link.get("url")],
        "inbox": urls.inbox,
        "outbox": urls.outbox,
        "followers": urls.followers,
        "following": urls.following,
        "featured": urls.featured,
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": actor.manually_approves_followers,
        "discoverable": True,
        "indexable": True,
        "published": rfc3339(actor.created_at),
        "publicKey": {"id": urls.key_id, "owner": urls.id, "publicKeyPem": actor.public_key_pem},
        **({"catalog": urls.catalog} if actor.kind == "island" else {}),
    }


def summary_html(text: str) -> str:
    """Plain text written in a form -> paragraphs and line breaks, everything else escaped."""
    paragraphs = [p.strip() for p in (text or "").replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join("<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
                   for p in paragraphs)


def image_document(stored: dict | None, default_url: str, default_type: str) -> dict:
    """An uploaded picture ({url, mediaType, name}) or the generated default."""
    if isinstance(stored, dict) and stored.get("url"):
        document = {"type": "Image", "url": stored["url"], "mediaType": stored.get("mediaType") or default_type}
        if stored.get("name"):
            document["name"] = stored["name"]
        return document
    return {"type": "Image", "url": default_url, "mediaType": default_type}


def property_value(name: str, url: str) -> dict:
    """A profile link as Mastodon writes one: its `rel="me"` lets the linked site verify it."""
    shown = url.split("://", 1)[-1].rstrip("/")
    value = (f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="me nofollow noopener noreferrer" '
             f'translate="no">{html.escape(shown)}</a>')
    return {"type": "PropertyValue", "name": name, "value": value}


def featured_collection(id: str, total: int, item_uris: list[str]) -> dict:
    """Pinned items, embedded as IRIs: Mastodon reads `orderedItems` of the collection itself."""
    document = ordered_collection(id, total, None)
    document["orderedItems"] = item_uris
    return document


def actor_update(actor: LocalActor, base_url: str, activity_id: str) -> dict:
    """Update of an actor's own profile, to its followers (Mastodon refreshes the account)."""
    urls = ActorUrls(base_url, actor.username)
    return activity("Update", id=activity_id, actor=urls.id,
                    object=strip_context(actor_document(actor, base_url)),
                    to=[PUBLIC], cc=[urls.followers], context=ACTOR_CONTEXT)


def hashtag(base_url: str, label: str) -> dict:
    tag = hashtag_for(label)
    return {"type": "Hashtag", "name": f"#{tag}", "href": f"{base_url.rstrip('/')}/tags/{tag.lower()}"}


def _text(value: str) -> str:
    """Text for HTML: only `&`, `<` and `>` become entities. snac shows entities raw in some places,
    so quotes and accents stay real characters (the document is UTF-8)."""
    return html.escape(value, quote=False)


def teaser_text(item: StoredObject) -> str:
    """The item's pitch in plain text: its summary, or the start of its text."""
    text = item.summary or html_to_text(item.content)
    if len(text) > 400:
        text = text[:400].rsplit(" ", 1)[0] + "…"
    return text


def card_html(item: StoredObject) -> str:
    """The `content` of an Article: a self-contained card that every server shows whole.

    The title comes first, in bold (GoToSocial and Misskey never show `name`), then the pitch,
    the place, the teaser and the themes, then the link to the page. Only tags that Mastodon,
    GoToSocial, snac, Misskey and Pleroma all keep (p, strong, a); no heading, no image."""
    parts = [f"<p><strong>{_text(item.name)}</strong></p>"] if item.name else []
    parts += [f"<p>{_text(fact)}</p>" for fact in teaser_facts(item)]
    text = teaser_text(item)
    if text and text not in teaser_facts(item):
        parts.append(f"<p>{_text(text)}</p>")
    if item.tags:
        parts.append("<p>" + _text(" ".join("#" + hashtag_for(t) for t in item.tags)) + "</p>")
    page = item.url or item.uri
    parts.append(f'<p><a href="{html.escape(page, quote=True)}">{_text(page)}</a></p>')
    return "".join(parts)


def cover_image(cover: dict | None) -> dict | None:
    """The cover as an Image: `url`, `mediaType`, and its alt text as `name` (what Mastodon,
    GoToSocial, snac, Misskey and Pleroma all read as the description)."""
    if not isinstance(cover, dict) or not cover.get("url"):
        return None
    image = {"type": "Image", "url": cover["url"]}
    if cover.get("mediaType"):
        image["mediaType"] = cover["mediaType"]
    image["name"] = cover.get("name") or ""
    return image


def replies_collection(item_uri: str, total: int | None = None, items: list[str] | None = None,
                       next_page: str | None = None) -> dict:
    """The `replies` of an object, embedded with its first page, the shape Mastodon writes:
    GoToSocial loads replies only from a `first` page embedded in an embedded collection
    (dereferencing/collection.go), Mastodon reads the first page's items and follows `next`.
    Without a count (an activity built when the item changes), the embedded page is empty and its
    `next` is the live first page."""
    collection_id = f"{item_uri}/replies"
    first_page = f"{collection_id}?page=1"
    if total is None:
        first = {"id": f"{collection_id}?page=0", "type": "OrderedCollectionPage", "partOf": collection_id,
                 "orderedItems": [], "next": first_page}
        return {"id": collection_id, "type": "OrderedCollection", "first": first}
    first = {"id": first_page, "type": "OrderedCollectionPage", "partOf": collection_id,
             "orderedItems": list(items or [])}
    if next_page:
        first["next"] = next_page
    return {"id": collection_id, "type": "OrderedCollection", "totalItems": total, "first": first}


def object_document(item: StoredObject, base_url: str, *, authors: list[str] | None = None,
                    with_context: bool = True, replies: dict | None = None) -> dict:
    """A local item as AS2: an Article (fiches and resources add their fields), or a Note.

    How an Article looks elsewhere (tests/data/fediverse/<software>/display/article.json):
    - No `summary`. Mastodon shows an Article as its title, `summary`, link to `url`, but
      GoToSocial, snac, Misskey and Pleroma/Akkoma take `summary` as a content warning that hides
      the whole post. Our items have no content warning, so there is none.
    - The title is `nameMap` only, no plain `name`: GoToSocial takes `summary`, or else `name`,
      as the content warning (astointernal.go) but reads neither from a language map, while
      Mastodon reads its title from `name` or else `nameMap` (status_parser.rb). snac and
      Pleroma, which would show `name`, read the title at the top of the card instead.
      (A `summaryMap` would give Mastodon the teaser the same way, but servers that process
      JSON-LD, and Pleroma's language maps, read it as a summary: a content warning again.)
    - `content` is the card (card_html): title, teaser, link. Every server but Mastodon shows
      it; Mastodon shows the title and the link instead, and its link card (the page's OpenGraph
      title, description and image) carries the teaser.
    - The cover is both `image` (Mastodon's card and preview, other Archipel islands) and an
      `attachment` (the only place GoToSocial, snac, Misskey and Pleroma look for pictures).
      The price: with a media attachment Mastodon shows the picture instead of the link card,
      so a Mastodon reader of an item *with a cover* sees title, picture (with its alt text) and
      link, and reads the teaser on the page. Without the attachment four servers out of five
      would never show the cover; the picture is seen everywhere this way.
    - No FEP-b2b8 `preview`: `content` is already the short form it would repeat.
    Another Archipel island never reads this card: it rebuilds the item from `details`.
    """
    followers = f"{item.author_uri}/followers"
    is_note = item.type == "Note"
    body = item.content if is_note else card_html(item)
    document = {
        "id": item.uri,
        "type": item.type,
        "attributedTo": item.author_uri,
        "name": item.name,
        "nameMap": {item.language: item.name},
        "content": body,
        "contentMap": {item.language: body},
        "mediaType": "text/html",
        "url": item.url or item.uri,
        "published": rfc3339(item.published),
        "to": [PUBLIC],
        "cc": [followers],
        "sensitive": False,
        "tag": [hashtag(base_url, label) for label in item.tags],
        "replies": replies if replies is not None else replies_collection(item.uri),
        "likes": f"{item.uri}/likes",
        "shares": f"{item.uri}/shares",
    }
    cover = cover_image(item.cover)
    if cover is not None and not is_note:
        document["image"] = cover
        document["attachment"] = [cover]
    if item.type == "Article":
        document.pop("name")  # an Event keeps it: Mobilizon and Mastodon read its title there
    if is_note:
        # A reply has no title; it names (tag) and addresses (cc) the people of its conversation.
        for key in ("name", "nameMap"):
            document.pop(key)
        mentions = [m for m in (item.extra or {}).get("mentions", []) if isinstance(m, dict)]
        document["tag"] += [{"type": "Mention", "href": m["href"], "name": m.get("name", "")} for m in mentions]
        document["cc"] += [m["href"] for m in mentions]
    if item.source is not None:
        document["source"] = {"content": item.source, "mediaType": "text/markdown"}
    if item.updated:
        document["updated"] = rfc3339(item.updated)
    if item.in_reply_to:
        document["inReplyTo"] = item.in_reply_to
    document.update(extension_properties(item, authors or [item.author_uri]))
    if with_context:
        document = {"@context": OBJECT_CONTEXT, **document}
    return document


def tombstone(item: StoredObject) -> dict:
    document = {"@context": ACTIVITY_CONTEXT, "id": item.uri, "type": "Tombstone",
                "formerType": item.type}
    if item.deleted_at:
        document["deleted"] = rfc3339(item.deleted_at)
    return document


def activity(kind: str, *, id: str, actor: str, object, to=None, cc=None, published=None,
             context=ACTIVITY_CONTEXT) -> dict:
    document = {"@context": context, "id": id, "type": kind, "actor": actor, "object": object}
    if to is not None:
        document["to"] = to
    if cc is not None:
        document["cc"] = cc
    if published is not None:
        document["published"] = rfc3339(published)
    return document


def create_or_update(kind: str, item: StoredObject, base_url: str, activity_id: str,
                     authors: list[str] | None = None) -> dict:
    obj = object_document(item, base_url, authors=authors, with_context=False)
    moment = item.updated if kind == "Update" else item.published
    return activity(kind, id=activity_id, actor=item.author_uri, object=obj, to=obj["to"],
                    cc=obj["cc"], published=moment, context=OBJECT_CONTEXT)


def delete(item: StoredObject, activity_id: str) -> dict:
    return activity("Delete", id=activity_id, actor=item.author_uri,
                    object={"id": item.uri, "type": "Tombstone"}, to=[PUBLIC],
                    cc=[f"{item.author_uri}/followers"])


def strip_context(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "@context"}


def ordered_collection(id: str, total: int, first: str | None) -> dict:
    document = {"@context": ACTIVITY_CONTEXT, "id": id, "type": "OrderedCollection", "totalItems": total}
    if first:
        document["first"] = first
    return document


def ordered_collection_page(id: str, part_of: str, items: list, next: str | None, prev: str | None = None,
                            total: int | None = None) -> dict:
    document = {"@context": ACTIVITY_CONTEXT, "id": id, "type": "OrderedCollectionPage",
                "partOf": part_of, "orderedItems": items}
    if total is not None:
        document["totalItems"] = total
    if next:
        document["next"] = next
    if prev:
        document["prev"] = prev
    return document


def catalog_page(id: str, part_of: str, items: list, next: str | None) -> dict:
    """A page of an island's catalog: whole items (and tombstones) in the order they changed."""
    document = {"@context": OBJECT_CONTEXT, "id": id, "type": "OrderedCollectionPage", "partOf": part_of,
                "orderedItems": items}
    if next:
        document["next"] = next
    return document
