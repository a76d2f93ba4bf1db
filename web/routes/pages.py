"""Public HTML pages: island home, profiles, items."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from archipel import cards, content, improvements, naming, remote_media, reuse, social, threads
from archipel.accounts import find_actor, island_actor
from archipel.fiches import LICENCES
from archipel.safe_urls import safe_url
from archipel.storage.tables import LocalActor, RemoteActor, StoredObject
from archipel.text import html_to_text
from archipel.themes import theme_key
from federation import documents, theme_actors
from federation.documents import ActorUrls
from web import appkeys, auth, event_dates, feeds, item_media, listing, words
from web.i18n import negotiate_language
from web.pages import page, render
from web.params import path_int, query_int

routes = web.RouteTableDef()
PAGE_SIZE = 30  # cards on a theme's or a person's page
THEMES_PER_PAGE = 200
HOME_PEOPLE = 12  # the island's people named on its home (all of them on /about)
HOME_THEMES = 12


def _handle(request, username: str) -> str:
    return f"@{username}@{request.app[appkeys.SETTINGS].host}"


async def _newest(session, query, size: int) -> list:
    """The newest `size` items of a public_items query, as cards read them."""
    return list(await session.execute(content.card_page(query, False, size)))


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    async with request.app[appkeys.SESSIONS]() as session:
        island = await island_actor(session)
        fiches = await _newest(session, content.public_items(kinds=("fiche",)), 12)
        resources = await _newest(session, content.public_items(kinds=("resource",)), 8)
        articles = await _newest(session, content.public_items(kinds=("article",)), 8)
        archipelago = await _newest(session, content.public_items(local=False, kinds=("fiche", "resource")), 12)
        themes = await content.theme_counts(session, local=True, limit=HOME_THEMES)  # the island's own
        people = list(await session.scalars(select(LocalActor).where(LocalActor.kind == "person")
                                            .order_by(LocalActor.display_name, LocalActor.id).limit(HOME_PEOPLE + 1)))
        # Every card of the page named at once: its island, its authors.
        named = iter(await cards.cards_for(session, listing.here(request), [*fiches, *resources, *articles, *archipelago]))
        fiches, resources, articles, archipelago = ([next(named) for _ in part]
                                                    for part in (fiches, resources, articles, archipelago))
    urls = ActorUrls(request.app[appkeys.SETTINGS].url, island.username)
    here = listing.here(request)
    return await page(request, "home.html", alternate=urls.id, fiches=fiches, resources=resources,
                      articles=articles, archipelago=archipelago, themes=themes, island_handle=_handle(request, island.username),
                      island=island, people=[cards.local_person(here, person) for person in people[:HOME_PEOPLE]],
                      more_people=len(people) > HOME_PEOPLE,
                      feed=feeds.island_feed(negotiate_language(request), request.app[appkeys.SETTINGS]))


@routes.get("/tags/{tag}")
async def theme(request: web.Request) -> web.Response:
    key = theme_key(request.match_info["tag"])
    async with request.app[appkeys.SESSIONS]() as session:
        page_cards, next_query = await listing.cursor_page(
            request, session, content.public_items(local=None, theme=key), PAGE_SIZE)
        label = await content.theme_label(session, key) or request.match_info["tag"]
        # Followable from here, even when the theme's items came before theme actors did.
        actor = await theme_actors.ensure_present(session, label)
        await session.commit()
    handle = _handle(request, actor.username) if actor else None
    return await page(request, "theme.html", cards=page_cards, next_query=next_query, label=label, key=key,
                      theme_handle=handle,
                      alternate=ActorUrls(request.app[appkeys.SETTINGS].url, actor.username).id if actor else None,
                      feed=feeds.theme_feed(negotiate_language(request), request.app[appkeys.SETTINGS], key, label)
                      if key else None)


@routes.get("/themes")
async def themes(request: web.Request) -> web.Response:
    """Every theme of the archipelago (items here and replicated), most used first, by pages."""
    number = query_int(request, "page", default=1, minimum=1, maximum=100_000)
    async with request.app[appkeys.SESSIONS]() as session:
        counts = await content.theme_counts(session, local=None, limit=THEMES_PER_PAGE + 1,
                                            offset=(number - 1) * THEMES_PER_PAGE)
    # Following is offered on each theme's page (its follow box, where its actor is made if needed).
    return await page(request, "themes.html", themes=counts[:THEMES_PER_PAGE], number=number,
                      more=len(counts) > THEMES_PER_PAGE)


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
        page_cards, next_query = await listing.cursor_page(request, session, query, PAGE_SIZE)
        followers = await social.count_follows(session, followed_uri=urls.id)
    if "activity+json" in request.headers.get("Accept", ""):
        raise web.HTTPFound(urls.id)
    document = documents.actor_document(actor, settings.url)
    lang = negotiate_language(request)
    feed = feeds.author_feed(lang, settings, actor) if actor.kind == "person" else feeds.island_feed(lang, settings)
    return await page(request, "actor.html", alternate=urls.id, actor=actor, cards=page_cards, next_query=next_query,
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
        return render(request, "error.html", status=410, error=410)
    async with request.app[appkeys.SESSIONS]() as session:
        counts = await social.interaction_counts(session, item.uri)
        thread = await load_thread(request, session, item)
        conversation = await threads.root_of(session, item) if item.in_reply_to else None
        # Who wrote it and where, by name (a replica: « Publiée sur <its island> »).
        [card] = await cards.cards_for(session, listing.here(request), [item])
    if thread.focus is None:
        counts["replies"] = thread.total
    if item.kind in ("fiche", "resource", "event"):
        return await fiche_page(request, card, counts, thread)
    return await page(request, "object.html", alternate=item.uri, item=item, counts=counts, thread=thread,
                      conversation=conversation, authors=card.authors, island=card.island,
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
        links.append({"name": (remote.display_name or remote.username) if remote else naming.handle_guess(uri),
                      "url": (safe_url(remote.url) or safe_url(uri)) if remote else safe_url(uri)})
    return links


async def fiche_page(request: web.Request, card: cards.Card, counts, thread) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    item = card.item
    async with request.app[appkeys.SESSIONS]() as session:
        origin = await content.find_object(session, item.based_on) if item.based_on else None
        origin_island = None
        if origin is not None and not origin.is_local:  # « Adaptation de X, publiée sur <island> »
            host = cards.host_of(origin.uri)
            origin_island = (await cards.islands_named(session, listing.here(request), {host}))[host]
        derivatives = await reuse.derivatives_of(session, item.uri)
        attachments = await item_media.listed(session, negotiate_language(request), settings.url, item)
        # A resource's related fiches are written as their addresses in its body: named here.
        related = [uri for uri in (item.fields.get("related") or []) if isinstance(uri, str)]
        related_names = dict((await session.execute(select(StoredObject.uri, StoredObject.name).where(
            StoredObject.uri.in_(related), StoredObject.name != ""))).all()) if related else {}
    licence = None
    if item.licence in LICENCES:
        label, url = LICENCES[item.licence]
        licence = {"label": label, "url": url}
    lang = negotiate_language(request)
    # An event's first lines (when, where) in the reader's language, as its body shows them.
    description = item.pitch or item.summary or html_to_text(words.item_body(item, lang))[:300]
    return await page(request, "fiche.html", alternate=item.uri, item=item, authors=card.authors,
                      island=card.island, origin=origin, origin_island=origin_island,
                      improve_url=improvements.proposal_url(item),
                      derivatives=derivatives, licence=licence, counts=counts, thread=thread,
                      description=description, attachments=attachments, related_names=related_names,
                      cover_url=remote_media.cover_url(settings.url, item),
                      event_when=event_dates.when(item, lang) if item.kind == "event" else None)
