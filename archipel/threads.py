"""Conversations under an item: every reply, replies to replies too, as a paginated tree.

A page costs the same few queries whatever the size of the thread: the shape of the whole thread
(one recursive query, a few columns per reply), then the rows, authors and counts of the replies
drawn on that page only. Pages cut the thread between top-level replies, oldest first; a page
draws at most MAX_ROWS_PER_PAGE replies and DRAWN_DEPTH levels, and what a huge or deep
sub-thread holds beyond that is shown in the sub-thread view of the reply it hangs under.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only

from archipel import remote_media
from archipel.bounds import clean_text
from archipel.errors import InvalidInput
from archipel.identity import actor_uri, object_uri
from archipel.safe_urls import safe_url
from archipel.storage.tables import Block, Interaction, LocalActor, RemoteActor, StoredObject, utcnow
from archipel.text import render_markdown, sanitize_html

TOP_LEVEL_PER_PAGE = 50
MAX_ROWS_PER_PAGE = 300
MAX_DEPTH = 60  # far beyond any real thread; a bound on what the recursive query may walk
DRAWN_DEPTH = 20  # deeper replies continue in the sub-thread view of their ancestor
SHOWN_DEPTH = 5  # deeper replies are drawn at this indentation
MAX_REPLY_CHARS = 5000
_SHOWN_COLUMNS = ("id", "uri", "url", "is_local", "author_uri", "local_author_id", "in_reply_to", "content", "summary",
                  "language", "published", "updated", "hidden_at", "deleted_at")


@dataclass
class Author:
    uri: str
    name: str
    url: str | None
    avatar: str | None
    handle: str = ""


@dataclass
class Entry:
    """One reply as shown. `state` is shown | hidden or silenced (only moderators see it: hidden
    by a moderator, or from a blocked or silenced account or domain) | gone (a placeholder keeping
    its children in place: withdrawn, hidden or not public)."""

    id: int
    uri: str
    depth: int
    state: str
    reply: StoredObject | None = None
    author: Author | None = None
    children: list[Entry] = field(default_factory=list)
    likes: int = 0
    boosts: int = 0
    more: int = 0  # visible replies below this one not drawn on this page (see its sub-thread view)

    @property
    def indents_children(self) -> bool:
        """Past SHOWN_DEPTH levels, answers are drawn at their parent's indentation (phones)."""
        return self.depth < SHOWN_DEPTH

    @property
    def html(self) -> str:
        """Sanitised when stored; sanitised again here, so that no other path to the table
        (an import, an older version) can put markup on a page."""
        return sanitize_html(self.reply.content) if self.reply else ""

    @property
    def link(self) -> str | None:
        """The original, on its own server (for a local reply: its own page)."""
        return (safe_url(self.reply.url) or safe_url(self.reply.uri)) if self.reply else None


@dataclass
class Thread:
    entries: list[Entry]  # the page's top-level entries, each with its children
    page: int
    pages: int
    total: int  # visible replies in the whole thread
    focus: Entry | None = None  # a sub-thread view: the reply whose answers are shown


@dataclass
class _Node:
    id: int
    uri: str
    parent: str
    published: datetime
    visible: bool
    hidden: bool  # by a moderator
    silenced: bool  # its author's account or domain is blocked or silenced
    children: list[_Node] = field(default_factory=list)
    size: int = 0  # nodes in this subtree that will be drawn (itself included)
    drawn: list[_Node] = field(default_factory=list)  # the children drawn on the page


def thread_shape(root_uri: str):
    """Every reply below `root_uri`, at any depth: (id, uri, in_reply_to, published, deleted_at,
    hidden_at, public, author_uri), by one recursive query (SQLite and PostgreSQL)."""
    tree = (select(StoredObject.uri, literal(1).label("depth"))
            .where(StoredObject.in_reply_to == root_uri).cte("tree", recursive=True))
    tree = tree.union_all(
        select(StoredObject.uri, (tree.c.depth + 1).label("depth"))
        .join(tree, StoredObject.in_reply_to == tree.c.uri).where(tree.c.depth < MAX_DEPTH))
    return (select(StoredObject.id, StoredObject.uri, StoredObject.in_reply_to, StoredObject.published,
                   StoredObject.deleted_at, StoredObject.hidden_at, StoredObject.public, StoredObject.author_uri)
            .where(StoredObject.uri.in_(select(tree.c.uri))))


class _Silenced:
    """Accounts and domains the island blocks or silences: their replies are kept off public
    pages (a moderator sees them, marked hidden). A domain covers its subdomains."""

    def __init__(self, blocks):
        self.accounts = {target for kind, target in blocks if kind == "account"}
        self.domains = {target.lower() for kind, target in blocks if kind == "domain"}

    def __call__(self, author_uri: str) -> bool:
        if author_uri in self.accounts:
            return True
        if not self.domains:
            return False
        parts = urlsplit(author_uri)
        host, netloc = (parts.hostname or "").lower(), parts.netloc.lower()
        return netloc in self.domains or any(host == d or host.endswith("." + d) for d in self.domains)


async def _shape(session: AsyncSession, root_uri: str, include_hidden: bool) -> list[_Node]:
    rows = (await session.execute(thread_shape(root_uri))).all()
    silenced = _Silenced((await session.execute(select(Block.kind, Block.target))).all())
    return _build(rows, include_hidden, silenced)


def _build(rows, include_hidden: bool, silenced=lambda author: False) -> list[_Node]:
    nodes = {}
    for id_, uri, parent, published, deleted_at, hidden_at, public, author in rows:
        muted = silenced(author)
        visible = deleted_at is None and public and ((hidden_at is None and not muted) or include_hidden)
        nodes[uri] = _Node(id_, uri, parent, published, visible, hidden_at is not None, muted)
    tops = []
    for node in nodes.values():
        (nodes[node.parent].children if node.parent in nodes else tops).append(node)
    order = lambda n: (n.published, n.id)  # noqa: E731 - oldest first within a level

    def settle(node: _Node) -> int:
        node.children.sort(key=order)
        node.children = [c for c in node.children if settle(c)]
        node.size = (1 if node.visible or node.children else 0) + sum(c.size for c in node.children)
        return node.size

    tops.sort(key=order)
    return [t for t in tops if settle(t)]


def _paginate(tops: list[_Node]) -> list[list[_Node]]:
    pages, current, rows = [], [], 0
    for node in tops:
        if current and (len(current) >= TOP_LEVEL_PER_PAGE or rows + node.size > MAX_ROWS_PER_PAGE):
            pages.append(current)
            current, rows = [], 0
        current.append(node)
        rows += node.size
    if current:
        pages.append(current)
    return pages


async def load(session: AsyncSession, root: StoredObject, *, base_url: str, page: int = 1,
               include_hidden: bool = False) -> Thread:
    """The page `page` (from 1) of the conversation under `root`. Moderators (`include_hidden`)
    also see hidden replies, marked as such."""
    tops = await _shape(session, root.uri, include_hidden)
    pages = _paginate(tops)
    page = min(max(page, 1), max(len(pages), 1))
    chosen = pages[page - 1] if pages else []
    # One top-level reply may hold a huge sub-thread: a page draws at most MAX_ROWS_PER_PAGE
    # replies and DRAWN_DEPTH levels; the rest is one link away (the sub-thread view).
    wanted: list[_Node] = []
    more: dict[int, int] = {}

    def collect(node: _Node, depth: int) -> None:
        wanted.append(node)
        node.drawn = []
        for child in node.children:
            if depth >= DRAWN_DEPTH or len(wanted) >= MAX_ROWS_PER_PAGE:
                break
            node.drawn.append(child)
            collect(child, depth + 1)
        rest = node.children[len(node.drawn):]
        if rest:
            more[node.id] = sum(_count_visible(child) for child in rest)

    for node in chosen:
        collect(node, 1)
    shown_ids = [n.id for n in wanted if n.visible]
    # Only what a reply shows: the JSON columns of items (fields, tags...) cost more than the rest.
    shown = load_only(*(getattr(StoredObject, name) for name in _SHOWN_COLUMNS), raiseload=True)
    replies = {r.id: r for r in await session.scalars(
        select(StoredObject).options(shown).where(StoredObject.id.in_(shown_ids)))} if shown_ids else {}
    authors = await describe_authors(session, base_url, {r.author_uri for r in replies.values()})
    counts = await _interaction_counts(session, [r.uri for r in replies.values() if r.is_local])

    def entry(node: _Node, depth: int) -> Entry:
        reply = replies.get(node.id) if node.visible else None
        state = ("gone" if reply is None else "hidden" if node.hidden else "silenced" if node.silenced
                 else "shown")
        return Entry(node.id, node.uri, depth, state, reply,
                     authors.get(reply.author_uri) if reply else None,
                     [entry(child, depth + 1) for child in node.drawn],
                     counts.get((node.uri, "Like"), 0), counts.get((node.uri, "Announce"), 0),
                     more.get(node.id, 0))

    total = sum(_count_visible(t) for t in tops)
    return Thread([entry(n, 1) for n in chosen], page, len(pages), total)


async def load_subthread(session: AsyncSession, item: StoredObject, reply_id: int, *, base_url: str,
                         page: int = 1, include_hidden: bool = False) -> Thread | None:
    """The answers below one reply of `item`'s conversation (where a deep or huge sub-thread
    continues); None if that reply is not a visible part of this conversation."""
    focus = await session.get(StoredObject, reply_id)
    if (focus is None or not focus.in_reply_to or focus.deleted_at is not None or not focus.public
            or (focus.hidden_at is not None and not include_hidden)):
        return None
    if (await root_of(session, focus)).id != item.id:
        return None
    thread = await load(session, focus, base_url=base_url, page=page, include_hidden=include_hidden)
    authors = await describe_authors(session, base_url, {focus.author_uri})
    thread.focus = Entry(focus.id, focus.uri, 0, "hidden" if focus.hidden_at else "shown", focus,
                         authors[focus.author_uri])
    return thread


async def _interaction_counts(session: AsyncSession, uris: list[str]) -> dict[tuple[str, str], int]:
    """Likes and boosts of our own replies (those of remote replies are counted on their server)."""
    if not uris:
        return {}
    rows = await session.execute(select(Interaction.object_uri, Interaction.type, func.count(Interaction.id))
                                 .where(Interaction.object_uri.in_(uris))
                                 .group_by(Interaction.object_uri, Interaction.type))
    return {(uri, kind): n for uri, kind, n in rows}


async def page_of(session: AsyncSession, root: StoredObject, reply_uri: str, *,
                  include_hidden: bool = False) -> int:
    """The page of the conversation where a reply is drawn (1 if it is not there)."""
    pages = _paginate(await _shape(session, root.uri, include_hidden))

    def holds(node: _Node) -> bool:
        return node.uri == reply_uri or any(holds(child) for child in node.children)

    for number, tops in enumerate(pages, start=1):
        if any(holds(node) for node in tops):
            return number
    return 1


def _count_visible(node: _Node) -> int:
    return (1 if node.visible else 0) + sum(_count_visible(c) for c in node.children)


async def describe_authors(session: AsyncSession, base_url: str, uris: set[str]) -> dict[str, Author]:
    """Name, profile link and avatar of each actor, local or remote: two queries for any number."""
    found: dict[str, Author] = {}
    prefix = actor_uri(base_url, "")
    local_names = {uri[len(prefix):]: uri for uri in uris if uri.startswith(prefix)}
    if local_names:
        for actor in await session.scalars(select(LocalActor).where(LocalActor.username.in_(local_names))):
            uri = local_names[actor.username]
            host = base_url.split("://", 1)[-1].rstrip("/")
            avatar = (actor.avatar or {}).get("url")
            own = isinstance(avatar, str) and (avatar.startswith(base_url.rstrip("/") + "/")
                                               or (avatar.startswith("/") and not avatar.startswith("//")))
            found[uri] = Author(uri, actor.display_name or actor.username, f"{base_url.rstrip('/')}/@{actor.username}",
                                avatar if own else None, f"@{actor.username}@{host}")
    remote = [uri for uri in uris if uri not in found]
    if remote:
        for actor in await session.scalars(select(RemoteActor).where(RemoteActor.uri.in_(remote))):
            found[actor.uri] = Author(actor.uri, actor.display_name or actor.username or actor.uri,
                                      safe_url(actor.url) or safe_url(actor.uri),
                                      remote_media.local_url(base_url, actor.icon_url),  # served from here
                                      f"@{actor.username}@{actor.host}" if actor.username else "")
    for uri in uris - set(found):
        found[uri] = Author(uri, uri, safe_url(uri), None)
    return found


async def root_of(session: AsyncSession, item: StoredObject) -> StoredObject:
    """The item a conversation hangs under (walking up from a reply; bounded)."""
    current = item
    for _ in range(MAX_DEPTH):
        if not current.in_reply_to:
            return current
        parent = await session.scalar(select(StoredObject).where(StoredObject.uri == current.in_reply_to))
        if parent is None:
            return current
        current = parent
    return current


async def ancestors(session: AsyncSession, item: StoredObject) -> list[StoredObject]:
    """Parent, grand-parent ... up to the root item (nearest first)."""
    found, current = [], item
    for _ in range(MAX_DEPTH):
        if not current.in_reply_to:
            break
        parent = await session.scalar(select(StoredObject).where(StoredObject.uri == current.in_reply_to))
        if parent is None:
            break
        found.append(parent)
        current = parent
    return found


def check_reply_text(text: str) -> str:
    text = clean_text(text or "").strip()  # a NUL or a lone surrogate: refused by PostgreSQL
    if not text:
        raise InvalidInput("Une réponse ne peut pas être vide.")
    if len(text) > MAX_REPLY_CHARS:
        raise InvalidInput("Une réponse dépasse %(limit)s caractères.", limit=MAX_REPLY_CHARS)
    return text


async def create_reply(session: AsyncSession, *, base_url: str, author: LocalActor, parent: StoredObject,
                       text: str, mentions: list[dict]) -> StoredObject:
    """A local Note answering `parent`; `mentions` are {href, name, url} of the actors it names
    (at least the parent's author). The HTML is rendered here from Markdown, then sanitised."""
    if parent.deleted_at is not None:
        raise InvalidInput("Ce message a été retiré : on ne peut plus y répondre.")
    text = check_reply_text(text)
    prefix = ""
    if mentions:
        first = mentions[0]
        link = safe_url(first.get("url")) or safe_url(first["href"])
        prefix = (f'<p><span class="h-card"><a href="{link}" class="u-url mention">'
                  f'{html.escape(first["name"], quote=True)}</a></span></p>') if link else ""
    uri = object_uri(base_url)
    reply = StoredObject(
        uri=uri, url=uri, is_local=True, type="Note", kind="note", state="published",
        author_uri=actor_uri(base_url, author.username), local_author_id=author.id,
        in_reply_to=parent.uri, name="", source=text,
        language=parent.language if parent.language not in ("", "und") else "fr",
        content=sanitize_html(prefix + render_markdown(text)), tags=[], public=True,
        extra={"mentions": mentions}, published=utcnow())
    session.add(reply)
    await session.flush()
    return reply
