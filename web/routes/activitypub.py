"""ActivityPub routes: actors, their collections, objects, inboxes. Each object URL negotiates:
AS2 JSON for servers, HTML for browsers."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import func, select

from archipel import avatars, content
from archipel.accounts import find_actor
from archipel.storage.tables import Follow, Interaction, OutgoingActivity, StoredObject
from federation import documents
from federation.documents import ActorUrls
from web import appkeys
from web.negotiation import as2_response, wants_as2
from web.params import bad_cursor, query_int
from web.routes import pages

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
PAGE_SIZE = 20


def _base(request) -> str:
    return request.app[appkeys.SETTINGS].url.rstrip("/")


async def _actor_or_404(request):
    async with request.app[appkeys.SESSIONS]() as session:
        actor = await find_actor(session, request.match_info["username"])
    if actor is None:
        raise web.HTTPNotFound(text="no such actor")
    return actor


@routes.get("/users/{username}")
async def actor_view(request: web.Request) -> web.StreamResponse:
    actor = await _actor_or_404(request)
    if wants_as2(request):
        return as2_response(documents.actor_document(actor, _base(request)))
    raise web.HTTPFound(ActorUrls(_base(request), actor.username).profile)


def _cursor(request) -> int | None:
    return query_int(request, "max_id")


async def _paged(request, collection_id: str, query, count_query, render_item) -> web.Response:
    """OrderedCollection with totalItems and first; pages walk back by id (?page=1&max_id=N)."""
    async with request.app[appkeys.SESSIONS]() as session:
        total = await session.scalar(count_query) or 0
        if "page" not in request.query:
            return as2_response(documents.ordered_collection(collection_id, total, f"{collection_id}?page=1"))
        if request.query["page"] != "true":  # Mastodon's spelling of a first page
            query_int(request, "page", minimum=1)
        max_id = _cursor(request)
        if max_id is not None:
            query = query.where(query.selected_columns[0] < max_id)
        rows = list(await session.execute(query.order_by(query.selected_columns[0].desc()).limit(PAGE_SIZE)))
    items = [render_item(row) for row in rows]
    page_id = f"{collection_id}?page=1" + (f"&max_id={max_id}" if max_id else "")
    next_page = f"{collection_id}?page=1&max_id={rows[-1][0]}" if len(rows) == PAGE_SIZE else None
    return as2_response(documents.ordered_collection_page(page_id, collection_id, items, next_page,
                                                          total=total))


@routes.get("/users/{username}/followers")
async def followers(request: web.Request) -> web.Response:
    actor = await _actor_or_404(request)
    urls = ActorUrls(_base(request), actor.username)
    where = (Follow.followed_uri == urls.id, Follow.state == "accepted")
    return await _paged(request, urls.followers, select(Follow.id, Follow.follower_uri).where(*where),
                        select(func.count(Follow.id)).where(*where), lambda row: row[1])


@routes.get("/users/{username}/following")
async def following(request: web.Request) -> web.Response:
    actor = await _actor_or_404(request)
    urls = ActorUrls(_base(request), actor.username)
    where = (Follow.follower_uri == urls.id, Follow.state == "accepted")
    return await _paged(request, urls.following, select(Follow.id, Follow.followed_uri).where(*where),
                        select(func.count(Follow.id)).where(*where), lambda row: row[1])


@routes.get("/users/{username}/outbox")
async def outbox(request: web.Request) -> web.Response:
    actor = await _actor_or_404(request)
    urls = ActorUrls(_base(request), actor.username)
    withdrawn = select(StoredObject.uri).where(StoredObject.deleted_at.is_not(None))
    where = (OutgoingActivity.actor_id == actor.id, OutgoingActivity.public.is_(True),
             OutgoingActivity.activity_type.in_(("Create", "Announce")),
             OutgoingActivity.object_uri.not_in(withdrawn))
    return await _paged(
        request, urls.outbox, select(OutgoingActivity.id, OutgoingActivity.payload).where(*where),
        select(func.count(OutgoingActivity.id)).where(*where),
        lambda row: documents.strip_context(row[1]))


CATALOG_PAGE = 50


@routes.get("/users/{username}/catalog")
async def catalog(request: web.Request) -> web.Response:
    """The island's items for other islands to replicate (backfill, then catch-up from a cursor)."""
    actor = await _actor_or_404(request)
    if actor.kind != "island":
        raise web.HTTPNotFound(text="only islands have a catalog")
    urls = ActorUrls(_base(request), actor.username)
    if "after" not in request.query:
        async with request.app[appkeys.SESSIONS]() as session:
            total = await session.scalar(content.catalog_items(None, 10**9).with_only_columns(
                func.count(StoredObject.id)).order_by(None).limit(None)) or 0
        return as2_response(documents.ordered_collection(urls.catalog, total, f"{urls.catalog}?after="))
    after = request.query["after"]
    position = content.decode_position(after) if after else None
    if after and position is None:
        raise bad_cursor("after")
    async with request.app[appkeys.SESSIONS]() as session:
        rows = await content.catalog_page(session, position, CATALOG_PAGE)
        authors = await content.authors_of_items(session, rows)
        items = []
        for item in rows:
            if item.deleted_at is not None:
                document = documents.tombstone(item)
                document["updated"] = documents.rfc3339(item.deleted_at)
            else:
                document = documents.object_document(
                    item, _base(request), authors=authors[item.id])
            items.append(documents.strip_context(document))
    next_page = None
    if rows:  # a walker stops at the first empty page; its cursor then stays after the last item
        last = rows[-1]
        next_page = f"{urls.catalog}?after={content.encode_position(last.updated or last.published, last.id)}"
    return as2_response(documents.catalog_page(f"{urls.catalog}?after={after}", urls.catalog, items, next_page),
                        cache_seconds=0)


FEATURED_SIZE = 5  # Mastodon pins at most a handful of items per account


def featured_query(actor, base_url: str):
    """What a profile shows first: a person's latest items, a theme's (local and replicated),
    the island's own."""
    if actor.kind == "person":
        return content.public_items(author_uri=ActorUrls(base_url, actor.username).id)
    if actor.kind == "theme":
        return content.public_items(local=None, theme=actor.theme_key)
    return content.public_items()


@routes.get("/users/{username}/collections/featured")
async def featured(request: web.Request) -> web.Response:
    actor = await _actor_or_404(request)
    urls = ActorUrls(_base(request), actor.username)
    query = featured_query(actor, _base(request))
    async with request.app[appkeys.SESSIONS]() as session:
        total = await session.scalar(query.with_only_columns(func.count(StoredObject.id)).order_by(None)) or 0
        uris = list(await session.scalars(query.with_only_columns(StoredObject.uri).limit(FEATURED_SIZE)))
    return as2_response(documents.featured_collection(urls.featured, min(total, FEATURED_SIZE), uris))


@routes.get(r"/users/{username}/{picture:avatar|header}.png")
async def default_picture(request: web.Request) -> web.Response:
    """The generated picture of an actor that has not uploaded one (stable URL, same bytes)."""
    actor = await _actor_or_404(request)
    handle = f"{actor.username}@{request.app[appkeys.SETTINGS].host}"
    draw = avatars.default_avatar if request.match_info["picture"] == "avatar" else avatars.default_header
    data = await asyncio.to_thread(draw, handle)
    return web.Response(body=data, content_type="image/png",
                        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})


async def _object_or_404(request) -> StoredObject:
    uri = f"{_base(request)}/o/{request.match_info['ulid']}"
    async with request.app[appkeys.SESSIONS]() as session:
        item = await session.scalar(select(StoredObject).where(StoredObject.uri == uri))
    if item is None or not item.is_local:
        raise web.HTTPNotFound(text="no such item")
    return item


@routes.get("/o/{ulid}")
async def object_view(request: web.Request) -> web.StreamResponse:
    item = await _object_or_404(request)
    if item.deleted_at is None and item.state not in ("published", "archived"):
        raise web.HTTPNotFound(text="no such item")  # drafts and proposals are not public
    if wants_as2(request):
        if item.deleted_at is not None:
            return as2_response(documents.tombstone(item), status=410)
        async with request.app[appkeys.SESSIONS]() as session:
            authors = await content.authors_of(session, item)
            replies_document = await _replies_collection(session, item)
        return as2_response(documents.object_document(item, _base(request), authors=authors,
                                                      replies=replies_document))
    return await pages.object_page(request, item)


def _replies_where(item: StoredObject) -> tuple:
    return (StoredObject.in_reply_to == item.uri, StoredObject.deleted_at.is_(None),
            StoredObject.public.is_(True), StoredObject.hidden_at.is_(None))  # hidden by a moderator


async def _replies_collection(session, item: StoredObject) -> dict:
    """The replies collection with its first page embedded (the newest replies first)."""
    where = _replies_where(item)
    total = await session.scalar(select(func.count(StoredObject.id)).where(*where)) or 0
    rows = list(await session.execute(select(StoredObject.id, StoredObject.uri).where(*where)
                                      .order_by(StoredObject.id.desc()).limit(PAGE_SIZE)))
    next_page = f"{item.uri}/replies?page=1&max_id={rows[-1][0]}" if total > len(rows) else None
    return documents.replies_collection(item.uri, total, [row[1] for row in rows], next_page)


@routes.get("/o/{ulid}/replies")
async def replies(request: web.Request) -> web.Response:
    item = await _object_or_404(request)
    if "page" not in request.query:  # the collection itself: the same as embedded in the object
        async with request.app[appkeys.SESSIONS]() as session:
            collection = await _replies_collection(session, item)
        return as2_response({"@context": documents.ACTIVITY_CONTEXT, **collection})
    where = _replies_where(item)
    return await _paged(request, f"{item.uri}/replies", select(StoredObject.id, StoredObject.uri).where(*where),
                        select(func.count(StoredObject.id)).where(*where), lambda row: row[1])


async def _count_collection(request, kind: str, suffix: str) -> web.Response:
    item = await _object_or_404(request)
    async with request.app[appkeys.SESSIONS]() as session:
        total = await session.scalar(select(func.count(Interaction.id)).where(
            Interaction.object_uri == item.uri, Interaction.type == kind)) or 0
    return as2_response(documents.ordered_collection(f"{item.uri}/{suffix}", total, None))


@routes.get("/o/{ulid}/likes")
async def likes(request: web.Request) -> web.Response:
    return await _count_collection(request, "Like", "likes")


@routes.get("/o/{ulid}/shares")
async def shares(request: web.Request) -> web.Response:
    return await _count_collection(request, "Announce", "shares")


@routes.get("/a/{ulid}")
async def activity_view(request: web.Request) -> web.Response:
    uri = f"{_base(request)}/a/{request.match_info['ulid']}"
    async with request.app[appkeys.SESSIONS]() as session:
        outgoing = await session.scalar(select(OutgoingActivity).where(OutgoingActivity.activity_uri == uri))
    if outgoing is None or not outgoing.public:
        raise web.HTTPNotFound(text="no such activity")
    if not wants_as2(request) and outgoing.object_uri:
        # A person wants the item, not the envelope: its page here (ours, or a replica's), never
        # another host's; without a page here, the envelope itself.
        if outgoing.object_uri.startswith(_base(request) + "/"):
            raise web.HTTPFound(outgoing.object_uri)
        async with request.app[appkeys.SESSIONS]() as session:
            item = await session.scalar(select(StoredObject).where(StoredObject.uri == outgoing.object_uri))
        if (item is not None and not item.is_local and not item.in_reply_to
                and item.state in content.PUBLIC_STATES and item.deleted_at is None):
            raise web.HTTPFound(f"/r/{item.id}")
    return as2_response(outgoing.payload)


async def _read_bounded(request: web.Request, limit: int) -> bytes:
    """At most limit + 1 bytes: enough to know a body is too big without holding all of it.
    (The app's client_max_size is raised for uploads; it must never apply to inboxes.)"""
    chunks, total = [], 0
    while total <= limit:
        chunk = await request.content.read(limit + 1 - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


async def _receive(request: web.Request) -> web.Response:
    limit = request.app[appkeys.SETTINGS].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        log.info("inbox %s refused a request from %s: 413 body of %d bytes announced",
                 request.path, request.remote, request.content_length)
        return web.json_response({"status": f"body of {request.content_length} bytes is over {limit}"},
                                 status=413)
    body = await _read_bounded(request, limit)
    target_uri = f"{request.scheme}://{request.host}{request.path_qs}"
    outcome = await request.app[appkeys.INBOX].receive(request.method, target_uri, request.headers, body)
    if outcome.status >= 400:
        log.info("inbox %s refused a request from %s: %s %s", request.path, request.remote,
                 outcome.status, outcome.reason)
    headers = {"Retry-After": str(outcome.retry_after)} if outcome.retry_after else None
    return web.json_response({"status": outcome.reason}, status=outcome.status, headers=headers)


@routes.post("/inbox")
async def shared_inbox(request: web.Request) -> web.Response:
    return await _receive(request)


@routes.post("/users/{username}/inbox")
async def personal_inbox(request: web.Request) -> web.Response:
    await _actor_or_404(request)
    return await _receive(request)


