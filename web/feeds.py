"""Atom feeds (RFC 4287) of public items: the building block every feed route uses.

A feed is a query (a `content.public_items(...)` select, so that only what anyone may see is
listed), a title in the reader's language, its own URL and the URL of the page it mirrors. A
search or territory feed is, in its route:

    lang = negotiate_language(request)
    link = feeds.feed_link(settings.url, "/recherche.atom", i18n.gettext(lang, "…"), lang,
                           {"q": words, "territoire": place})
    return await feeds.query_feed(request, query, link=link, alternate_url=page_address)

Reads are bounded: the 50 newest items in one query, the names of their authors in one more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import web
from sqlalchemy import and_, func, select

from archipel.fiches import LICENCES
from archipel.identity import actor_uri
from archipel.safe_urls import safe_url
from archipel.storage.tables import ItemAuthor, LocalActor, RemoteActor, StoredObject, utcnow
from archipel.text import html_to_text
from archipel.themes import theme_key
from federation.documents import ActorUrls, rfc3339
from web import appkeys, i18n, words
from web.pages import own_images, page_url

MAX_ENTRIES = 50
CONTENT_TYPE = "application/atom+xml"
TEMPLATE = "feed.atom.xml"

# XML 1.0 forbids most control characters, lone surrogates, U+FFFE and U+FFFF, even escaped;
# C1 controls are allowed but discouraged and mean nothing in a title. Remote items may carry
# any of them: they are removed from the whole document, so no field can be forgotten.
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# xml:lang only for a well-formed language tag (another server's `contentMap` key may be anything).
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")


@dataclass(frozen=True)
class FeedLink:
    """A feed as its pages name it: its title in the reader's language, its URL in that
    language, and its id (the same feed in every language: its URL without `lang`)."""

    title: str
    href: str
    id: str


def feed_link(base_url: str, path: str, title: str, lang: str, params: dict | None = None) -> FeedLink:
    """The link to the feed at `path` (with its query `params`), in the reader's language `lang`.
    The language chosen on a page follows the reader into the feed (a feed reader sends no
    cookie, and its own Accept-Language); French, the default, keeps the plain URL."""
    query = {name: value for name, value in (params or {}).items() if name != "lang"}
    ident = _url(base_url, path, query)
    if lang != i18n.DEFAULT_LANGUAGE:
        query["lang"] = lang
    return FeedLink(title, _url(base_url, path, query), ident)


def _url(base_url: str, path: str, query: dict) -> str:
    return f"{base_url.rstrip('/')}{path}{'?' + urlencode(query, doseq=True) if query else ''}"


def island_feed(lang: str, settings) -> FeedLink:
    title = i18n.gettext(lang, "%(island)s : fiches d'innovation, ressources et articles") % {"island": settings.name}
    return feed_link(settings.url, "/flux.atom", title, lang)


def author_feed(lang: str, settings, actor: LocalActor) -> FeedLink:
    title = i18n.gettext(lang, "%(author)s sur %(island)s") % {"author": actor.display_name,
                                                              "island": settings.name}
    return feed_link(settings.url, f"/@{quote(actor.username)}/flux.atom", title, lang)


def theme_feed(lang: str, settings, key: str, label: str) -> FeedLink:
    title = i18n.gettext(lang, "Thème « %(theme)s » dans l'archipel %(de_nom)s") % {
        "theme": label, "de_nom": words.of_name(settings.name) if lang == "fr" else settings.name}
    return feed_link(settings.url, f"/tags/{quote(key)}/flux.atom", title, lang)


def theme_label(items: list[StoredObject], key: str, fallback: str) -> str:
    """A theme's label as its items spell it (the first in alphabetical order, as the theme
    page's), read from the items already loaded."""
    labels = [str(tag) for item in items for tag in item.tags or [] if theme_key(str(tag)) == key]
    return min(labels, default=fallback)


@dataclass(frozen=True)
class Author:
    name: str
    uri: str | None  # a page about them, when there is one we may link to


async def authors_by_item(session, items: list[StoredObject], base_url: str) -> dict[int, list[Author]]:
    """Every item's authors, in order, with people's names: one query for all items. A local
    author is matched by the end of its id (/users/<username>: the unique username's index),
    a remote one by its id; an author this island never fetched gets `unnamed`."""
    prefix = actor_uri(base_url, "")
    local_match = and_(func.substr(ItemAuthor.actor_uri, 1, len(prefix)) == prefix,
                       LocalActor.username == func.substr(ItemAuthor.actor_uri, len(prefix) + 1))
    rows = await session.execute(
        select(ItemAuthor.object_id, ItemAuthor.actor_uri, LocalActor.username, LocalActor.display_name,
               RemoteActor.display_name, RemoteActor.username, RemoteActor.url)
        .outerjoin(LocalActor, local_match)
        .outerjoin(RemoteActor, RemoteActor.uri == ItemAuthor.actor_uri)
        .where(ItemAuthor.object_id.in_([item.id for item in items]))
        .order_by(ItemAuthor.object_id, ItemAuthor.position))
    authors: dict[int, list[Author]] = {}
    for object_id, uri, local_username, local_name, remote_name, remote_username, remote_url in rows:
        if local_username is not None:
            author = Author(local_name or local_username, ActorUrls(base_url, local_username).profile)
        elif remote_name or remote_username:
            author = Author(remote_name or remote_username, safe_url(remote_url) or safe_url(uri))
        else:
            author = Author(unnamed(uri), safe_url(uri))
        authors.setdefault(object_id, []).append(author)
    return authors


_HANDLE_PATH = re.compile(r"/(?:users/|@)([A-Za-z0-9_.-]{1,64})/?")


def unnamed(uri: str) -> str:
    """A readable name for an author this island never fetched (a replica's author is often
    known only by id): their handle when the id spells it (/users/<name>, /@<name>, as Archipel
    and Mastodon do), else their server."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "?"
    match = _HANDLE_PATH.fullmatch(parts.path)
    host = parts.hostname and parts.netloc.rpartition("@")[2].lower()
    if not host:
        return "?"
    return f"@{match.group(1)}@{host}" if match else host


def _summary(item: StoredObject) -> str:
    """The plain-text pitch the item's page shows as its description."""
    pitch = item.pitch if item.kind in ("fiche", "resource") else None
    return str(pitch or item.summary or html_to_text(item.content or "")[:300])


def _categories(item: StoredObject) -> list[dict]:
    seen, categories = set(), []
    for label in item.tags or []:
        key = theme_key(str(label))
        if key and key not in seen:
            seen.add(key)
            categories.append({"term": key, "label": str(label)})
    return categories


def entry(item: StoredObject, authors: list[Author], base_url: str, untitled: str) -> dict:
    """What the template shows of one item (plain strings: the template escapes them all)."""
    page = page_url(item)
    language = item.language if item.language and _LANGUAGE_TAG.fullmatch(item.language) else None
    licence = LICENCES.get(item.licence or "")
    return {
        "id": item.uri,
        "title": item.name or untitled,
        "href": page if page.startswith(("https://", "http://")) else f"{base_url.rstrip('/')}{page}",
        "published": rfc3339(item.published),
        "updated": rfc3339(item.updated or item.published),
        "authors": authors or [Author(unnamed(item.author_uri), safe_url(item.author_uri))],
        "summary": _summary(item),
        "content": own_images(item.content or "", base_url),  # a page's rule: no remote pictures
        "categories": _categories(item),
        "rights": licence[0] if licence else None,
        "language": language,
    }


def render(templates, *, lang: str, link: FeedLink, alternate_url: str, base_url: str,
           items: list[StoredObject], authors: dict[int, list[Author]]) -> str:
    """The feed document, as text with only the characters XML 1.0 allows."""
    untitled = i18n.gettext(lang, "Sans titre")
    entries = [entry(item, authors.get(item.id, []), base_url, untitled) for item in items]
    changed = max((item.updated or item.published for item in items), default=None) or utcnow()
    document = templates.get_template(TEMPLATE).render(
        lang=lang, base_url=base_url.rstrip("/"), title=link.title, self_url=link.href,
        feed_id=link.id, alternate_url=alternate_url, updated=rfc3339(changed),
        entries=entries)
    return _NOT_XML.sub("", document)


async def atom_response(request: web.Request, session, items: list[StoredObject], *, link: FeedLink,
                        alternate_url: str) -> web.Response:
    """The Atom response for items already read (the newest first, at most MAX_ENTRIES shown)."""
    settings = request.app[appkeys.SETTINGS]
    items = items[:MAX_ENTRIES]
    authors = await authors_by_item(session, items, settings.url) if items else {}
    text = render(request.app[appkeys.TEMPLATES], lang=i18n.negotiate_language(request), link=link,
                  alternate_url=alternate_url, base_url=settings.url, items=items, authors=authors)
    response = web.Response(text=text, content_type=CONTENT_TYPE, charset="utf-8")
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # A browser showing the document must never run or load anything from it.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


async def query_feed(request: web.Request, query, *, link: FeedLink, alternate_url: str) -> web.Response:
    """The feed of a select of StoredObject (newest first: content.public_items orders them)."""
    async with request.app[appkeys.SESSIONS]() as session:
        items = list(await session.scalars(query.limit(MAX_ENTRIES)))
        return await atom_response(request, session, items, link=link, alternate_url=alternate_url)
