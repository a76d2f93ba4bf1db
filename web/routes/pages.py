"""Public HTML pages: island home, profiles, items."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from archipel import content, remote_media, reuse, social, threads
from archipel.accounts import find_actor, island_actor
from archipel.fiches import LICENCES
from archipel.safe_urls import safe_url
from archipel.storage.tables import LocalActor, RemoteActor, StoredObject
from archipel.text import html_to_text
from archipel.themes import theme_key
from federation import documents, theme_actors
from federation.documents import ActorUrls
from web import appkeys, auth, feeds, item_media
from web.i18n import negotiate_language
from web.pages import page, render
from web.params import path_int, query_int

routes = web.RouteTableDef()


def _handle(request, username: str) -> str:
    return f"@{username}@{request.app[appkeys.SETTINGS].host}"


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    async with request.app[appkeys.SESSIONS]() as session:
        island = await island_actor(session)
        fiches = list(await session.scalars(content.public_items(kinds=("fiche",)).limit(12)))
        resources = list(await session.scalars(content.public_items(kinds=("resource",)).limit(8)))
        articles = list(await session.scalars(content.public_items(kinds=("article",)).limit(8)))
        archipelago = list(await session.scalars(
            content.public_items(local=False, kinds=("fiche", "resource")).limit(12)))
        themes = await content.theme_counts(session, local=None)
    urls = ActorUrls(request.app[appkeys.SETTINGS].url, island.username)
    return await page(request, "home.html", alternate=urls.id, fiches=fiches, resources=resources,
                      articles=articles, archipelago=archipelago, themes=themes, island_handle=_handle(request, island.username),
                      feed=feeds.island_feed(negotiate_language(request), request.app[appkeys.SETTINGS]))


@routes.get("/tags/{tag}")
async def theme(request: web.Request) -> web.Response:
    key = theme_key(request.match_info["tag"])
    async with request.app[appkeys.SESSIONS]() as session:
        items = list(await session.scalars(content.public_items(local=None, theme=key).limit(100)))
        label = await content.theme_label(session, key) or request.match_info["tag"]
        # Followable from here, even when the theme's items came before theme actors did.
        actor = await theme_actors.ensure_present(session, label)
        await session.commit()
    handle = _handle(request, actor.username) if actor else None
    return await page(request, "theme.html", items=items, label=label, theme_handle=handle,
                      alternate=ActorUrls(request.app[appkeys.SETTINGS].url, actor.username).id if actor else None,
                      feed=feeds.theme_feed(negotiate_language(request), request.app[appkeys.SETTINGS], key, label)
                      if key else None)


@routes.get(r"/r/{id:\d+}")
async def replica(request: web.Request) -> web.StreamResponse:
    """A replicated item, read-only here, as a page for everyone. An AS2 document is only ever
    served at its own id, by its own island, and we never redirect a server to another host: a
    server asking for AS2 gets this page too, whose `Link` header (and `<link rel=alternate>`)
    names the canonical id — Mastodon's search follows exactly that."""
    async with request.app[appkeys.SESSIONS]() as session:
        item = await session.get(StoredObject, path_int(request, "id"))
    if item is None or item.is_local or item.in_reply_to or item.state not in content.PUBLIC_STATES:
        raise web.HTTPNotFound(text="no such item")
    response = await object_page(request, item)
    if item.uri.startswith(("https://", "http://")) and not any(c in item.uri for c in '<>"\\ \t\r\n'):
        response.headers["Link"] = f'<{item.uri}>; rel="alternate"; type="application/activity+json"'
    return response


@routes.get("/about")
async def about(request: web.Request) -> web.Response:
    async with request.app[appkeys.SESSIONS]() as session:
        island = await island_actor(session)
        members = list(await session.scalars(
            select(LocalActor).where(LocalActor.kind == "person").order_by(LocalActor.display_name)))
        counts = {kind: await session.scalar(
            content.public_items(kinds=(kind,)).with_only_columns(func.count(StoredObject.id)).order_by(None))
            for kind in ("fiche", "resource")}
    urls = ActorUrls(request.app[appkeys.SETTINGS].url, island.username)
    return await page(request, "about.html", alternate=urls.id, island=island, members=members, counts=counts,
                      island_handle=_handle(request, island.username), licences=LICENCES)


@routes.get("/@{username}")
async def profile(request: web.Request) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        actor = await find_actor(session, request.match_info["username"])
        if actor is None:
            raise web.HTTPNotFound(text="no such actor")
        if actor.kind == "theme" and "activity+json" not in request.headers.get("Accept", ""):
            raise web.HTTPFound(f"/tags/{actor.theme_key}")  # a theme's page lists its items
        urls = ActorUrls(settings.url, actor.username)
        query = (content.public_items(author_uri=urls.id) if actor.kind == "person"
                 else content.public_items())
        items = list(await session.scalars(query.limit(50)))
        followers = await social.count_follows(session, followed_uri=urls.id)
    if "activity+json" in request.headers.get("Accept", ""):
        raise web.HTTPFound(urls.id)
    document = documents.actor_document(actor, settings.url)
    lang = negotiate_language(request)
    feed = feeds.author_feed(lang, settings, actor) if actor.kind == "person" else feeds.island_feed(lang, settings)
    return await page(request, "actor.html", alternate=urls.id, actor=actor, items=items,
                      followers=followers, handle=_handle(request, actor.username),
                      avatar_url=document["icon"]["url"], header_url=document["image"]["url"], feed=feed)


async def load_thread(request: web.Request, session, item: StoredObject):
    """The conversation under an item, at the page asked for (?discussion=N), or one of its
    sub-threads (?fil=ID); moderators also see hidden replies."""
    user = await auth.current_user(request)
    number, focus = query_int(request, "discussion", default=1), query_int(request, "fil")
    options = {"base_url": request.app[appkeys.SETTINGS].url, "page": number,
               "include_hidden": bool(user and user.has_role("moderator"))}
    if focus is not None:  # ?fil=N: the answers below one reply of this conversation
        thread = await threads.load_subthread(session, item, focus, **options)
        if thread is not None:
            return thread
    return await threads.load(session, item, **options)


async def object_page(request: web.Request, item: StoredObject) -> web.Response:
    if item.deleted_at is not None:
        return render(request, "gone.html", status=410)
    async with request.app[appkeys.SESSIONS]() as session:
        author = await session.get(LocalActor, item.local_author_id) if item.local_author_id else None
        counts = await social.interaction_counts(session, item.uri)
        thread = await load_thread(request, session, item)
        conversation = await threads.root_of(session, item) if item.in_reply_to else None
    if thread.focus is None:
        counts["replies"] = thread.total
    settings = request.app[appkeys.SETTINGS]
    if item.kind in ("fiche", "resource"):
        return await fiche_page(request, item, counts, thread)
    author_url = ActorUrls(settings.url, author.username).profile if author else safe_url(item.author_uri)
    return await page(request, "object.html", alternate=item.uri, item=item, counts=counts, thread=thread,
                      conversation=conversation, author_url=author_url,
                      author_name=author.display_name if author else item.author_uri,
                      description=item.summary or html_to_text(item.content)[:300])


async def author_links(session, settings, uris: list[str]) -> list[dict]:
    """Name and page of each author, local or remote."""
    links = []
    for uri in uris:
        local = await find_actor(session, uri.rsplit("/", 1)[-1]) if uri.startswith(settings.url) else None
        if local is not None:
            links.append({"name": local.display_name, "url": ActorUrls(settings.url, local.username).profile})
            continue
        remote = await session.scalar(select(RemoteActor).where(RemoteActor.uri == uri))
        links.append({"name": (remote.display_name or remote.username) if remote else uri,
                      "url": (safe_url(remote.url) or safe_url(uri)) if remote else safe_url(uri)})
    return links


async def fiche_page(request: web.Request, item: StoredObject, counts, thread) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        authors = await author_links(session, settings, await content.authors_of(session, item))
        origin = await content.find_object(session, item.based_on) if item.based_on else None
        derivatives = await reuse.derivatives_of(session, item.uri)
        attachments = await item_media.listed(session, negotiate_language(request), settings.url, item)
    licence = None
    if item.licence in LICENCES:
        label, url = LICENCES[item.licence]
        licence = {"label": label, "url": url}
    description = item.fields.get("pitch") or item.summary or html_to_text(item.content)[:300]
    return await page(request, "fiche.html", alternate=item.uri, item=item, authors=authors, origin=origin,
                      derivatives=derivatives, licence=licence, counts=counts, thread=thread,
                      description=description, attachments=attachments,
                      cover_url=remote_media.cover_url(settings.url, item))
