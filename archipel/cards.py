"""What a card of a listing shows besides the item itself: the island it was published on and its
authors, by their names, for a whole page at once.

People read names, not addresses: an island is named by the actor row of its island (the one this
island follows, else the one whose document has a catalog: an Archipel island's actor), a person
by their profile name. A page of cards costs a fixed number of queries whatever its length (the
authors' rows, then every remote name the page needs in one query), never one per card; the host
is shown only when no name is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import String, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import remote_media
from archipel.identity import actor_uri
from archipel.safe_urls import safe_url
from archipel.storage.tables import Follow, ItemAuthor, LocalActor, RemoteActor, StoredObject
from archipel.threads import Author


@dataclass(frozen=True)
class Island:
    host: str
    name: str
    url: str | None  # the island's own page, on its server (checked by safe_url)
    local: bool = False


@dataclass(frozen=True)
class Card:
    item: StoredObject  # or a row of content.CARD_COLUMNS (listings read no more)
    island: Island
    authors: list[Author]
    cover: str | None = None  # the item's cover as this island shows it (no query: read from the item)
    origin: StoredObject | None = None  # what a reuse adapts, when this island knows it


async def _origins(session: AsyncSession, items: list[StoredObject]) -> dict[str, StoredObject]:
    """The items the reuses of a page adapt (one query, none when the page has no reuse)."""
    wanted = {item.based_on for item in items if item.based_on}
    if not wanted:
        return {}
    return {origin.uri: origin for origin in await session.scalars(
        select(StoredObject).where(StoredObject.uri.in_(wanted), StoredObject.deleted_at.is_(None)))}


def host_of(uri: str | None) -> str:
    try:
        return urlsplit(uri or "").netloc.lower()
    except ValueError:
        return ""


@dataclass(frozen=True)
class Here:
    """This island, as the cards name it."""
    base_url: str
    name: str

    @property
    def host(self) -> str:
        return host_of(self.base_url)

    @property
    def island(self) -> Island:
        return Island(self.host, self.name, self.base_url.rstrip("/") + "/", local=True)


# The statements of a page of cards are built once: building one (and each value of an IN list
# made into a parameter) cost as much as running it. Values come as parameters: `actors` is
# this island's actors' URI prefix (identity.actor_uri(base, "")).
_OUR_ISLAND = bindparam("actors", type_=String) + (
    select(LocalActor.username).where(LocalActor.kind == "island").limit(1).scalar_subquery())
_FOLLOWED = RemoteActor.uri.in_(select(Follow.followed_uri).where(Follow.follower_uri == _OUR_ISLAND))
_ISLAND_OF_HOST = and_(RemoteActor.host.in_(bindparam("hosts", expanding=True)),
                       or_(_FOLLOWED, RemoteActor.document["catalog"].as_string().is_not(None)))
# What a card shows of a remote actor: its columns, never the whole row, whose `document` (the
# actor's JSON, kilobytes on real servers) and keys a page would decode for nothing.
_SHOWN = (RemoteActor.id, RemoteActor.uri, RemoteActor.host, RemoteActor.username, RemoteActor.display_name,
          RemoteActor.url, RemoteActor.icon_url)
_NAMES = select(*_SHOWN, _FOLLOWED.label("followed"), _ISLAND_OF_HOST.label("island")).where(
    or_(RemoteActor.uri.in_(bindparam("people", expanding=True)), _ISLAND_OF_HOST))
_FOLLOWED_ISLANDS = (select(Follow.followed_uri, *_SHOWN).outerjoin(RemoteActor, RemoteActor.uri == Follow.followed_uri)
                     .where(Follow.follower_uri == _OUR_ISLAND, Follow.state == "accepted"))
_AUTHORS = (select(ItemAuthor.object_id, ItemAuthor.actor_uri)
            .where(ItemAuthor.object_id.in_(bindparam("ids", expanding=True)))
            .order_by(ItemAuthor.object_id, ItemAuthor.position))
# What a card shows of one of our people (never their keys).
_PEOPLE = select(LocalActor.username, LocalActor.display_name, LocalActor.avatar).where(
    LocalActor.username.in_(bindparam("usernames", expanding=True)))


async def _names(session: AsyncSession, here: Here, people: set[str], hosts: set[str]):
    """Remote people of `people` and the island actors of `hosts` (other than ours): one query.
    Rows come with two flags: does this island follow it, does it name the island of its host."""
    hosts = hosts - {here.host}
    if not people and not hosts:
        return []
    return list(await session.execute(_NAMES, {"actors": actor_uri(here.base_url, ""), "hosts": sorted(hosts),
                                               "people": sorted(people)}))


def _islands(here: Here, rows, hosts: set[str]) -> dict[str, Island]:
    """One island per host: the one we follow first, else the oldest with a catalog; a host whose
    island has no known name is shown as its host (the only case where a host is shown)."""
    islands: dict[str, Island] = {here.host: here.island} if here.host in hosts else {}
    for row in sorted(rows, key=lambda row: (not row.followed, row.id)):
        if row.island and row.host not in islands:
            islands[row.host] = _named(row)
    for host in hosts - set(islands):
        islands[host] = Island(host, host, None)
    return islands


def _named(row) -> Island:
    return Island(row.host, row.display_name or row.username or row.host, safe_url(row.url) or safe_url(row.uri))


async def islands_named(session: AsyncSession, here: Here, hosts: set[str]) -> dict[str, Island]:
    """The island of each host, by name: one query."""
    return _islands(here, await _names(session, here, set(), set(hosts)), set(hosts))


async def followed_islands(session: AsyncSession, here: Here) -> list[Island]:
    """The islands this island follows, by name, in the order of their names: one query (a
    listing's filter of islands shows them on every page)."""
    rows = await session.execute(_FOLLOWED_ISLANDS, {"actors": actor_uri(here.base_url, "")})
    islands: dict[str, Island] = {}
    # Known actors first, oldest first (as islands_named): a host is named by its oldest island.
    for row in sorted(rows, key=lambda row: (row.id is None, row.id or 0)):
        host = row.host or host_of(row.followed_uri)
        if host and host != here.host and host not in islands:
            islands[host] = _named(row) if row.id is not None else Island(host, host, None)
    return sorted(islands.values(), key=lambda island: (island.name.lower(), island.host))


def _local_author(here: Here, actor, uri: str) -> Author:
    # `actor`: a LocalActor, or the columns of _PEOPLE.
    avatar = (actor.avatar or {}).get("url")
    base = here.base_url.rstrip("/")
    own = isinstance(avatar, str) and (avatar.startswith(base + "/") or (avatar.startswith("/") and not avatar.startswith("//")))
    # No uploaded picture: the drawn one every actor of ours has (archipel/avatars.py).
    return Author(uri, actor.display_name or actor.username, f"{base}/@{actor.username}",
                  avatar if own else f"{uri}/avatar.png", f"@{actor.username}@{here.host}")


def _remote_author(here: Here, row) -> Author:
    # `row`: the columns of _SHOWN.
    return Author(row.uri, row.display_name or row.username or row.uri, safe_url(row.url) or safe_url(row.uri),
                  remote_media.local_url(here.base_url, row.icon_url),  # served from here, never from there
                  f"@{row.username}@{row.host}" if row.username else "")


async def cards_for(session: AsyncSession, here: Here, items: list[StoredObject]) -> list[Card]:
    """The cards of a page of items: four queries at most, whatever the number of items (the
    authors' ids, our own people among them, every remote name, the origins of reuses)."""
    if not items:
        return []
    authors: dict[int, list[str]] = {}
    for object_id, uri in await session.execute(_AUTHORS, {"ids": [item.id for item in items]}):
        authors.setdefault(object_id, []).append(uri)
    for item in items:
        authors.setdefault(item.id, [item.author_uri])
    uris = {uri for names in authors.values() for uri in names}
    prefix = actor_uri(here.base_url, "")
    local_names = {uri[len(prefix):]: uri for uri in uris if uri.startswith(prefix)}
    people: dict[str, Author] = {}
    if local_names:
        for actor in await session.execute(_PEOPLE, {"usernames": sorted(local_names)}):
            people[local_names[actor.username]] = _local_author(here, actor, local_names[actor.username])
    hosts = {host_of(item.uri) for item in items}
    remote_people = uris - set(local_names.values())
    rows = await _names(session, here, remote_people, hosts)
    people.update((row.uri, _remote_author(here, row)) for row in rows if row.uri in remote_people)
    islands = _islands(here, rows, hosts)
    origins = await _origins(session, items)
    return [Card(item, islands[host_of(item.uri)],
                 [people.get(uri) or Author(uri, uri, safe_url(uri), None) for uri in authors[item.id]],
                 remote_media.cover_url(here.base_url, item), origins.get(item.based_on or ""))
            for item in items]


def local_person(here: Here, actor: LocalActor) -> Author:
    """One of this island's people, as a card names them (the island's home lists them)."""
    return _local_author(here, actor, actor_uri(here.base_url, actor.username))
