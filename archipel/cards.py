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

from sqlalchemy import and_, false, literal, or_, select
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
    item: StoredObject
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


async def _names(session: AsyncSession, here: Here, people: set[str], hosts: set[str]):
    """Remote people of `people` and the island actors of `hosts` (other than ours): one query.
    Rows come with two flags: does this island follow it, does it name the island of its host."""
    hosts = hosts - {here.host}
    if not people and not hosts:
        return []
    ours = literal(actor_uri(here.base_url, "")) + (
        select(LocalActor.username).where(LocalActor.kind == "island").limit(1).scalar_subquery())
    followed = RemoteActor.uri.in_(select(Follow.followed_uri).where(Follow.follower_uri == ours))
    island = (and_(RemoteActor.host.in_(hosts),
                   or_(followed, RemoteActor.document["catalog"].as_string().is_not(None)))
              if hosts else false())
    wanted = or_(RemoteActor.uri.in_(people), island) if people else island
    return list(await session.execute(select(RemoteActor, followed.label("followed"), island.label("island"))
                                      .where(wanted)))


def _islands(here: Here, rows, hosts: set[str]) -> dict[str, Island]:
    """One island per host: the one we follow first, else the oldest with a catalog; a host whose
    island has no known name is shown as its host (the only case where a host is shown)."""
    islands: dict[str, Island] = {here.host: here.island} if here.host in hosts else {}
    for row, followed, island in sorted(rows, key=lambda r: (not r[1], r[0].id)):
        if island and row.host not in islands:
            islands[row.host] = Island(row.host, row.display_name or row.username or row.host,
                                       safe_url(row.url) or safe_url(row.uri))
    for host in hosts - set(islands):
        islands[host] = Island(host, host, None)
    return islands


async def islands_named(session: AsyncSession, here: Here, hosts: set[str]) -> dict[str, Island]:
    """The island of each host, by name: one query."""
    return _islands(here, await _names(session, here, set(), set(hosts)), set(hosts))


def _local_author(here: Here, actor: LocalActor, uri: str) -> Author:
    avatar = (actor.avatar or {}).get("url")
    base = here.base_url.rstrip("/")
    own = isinstance(avatar, str) and (avatar.startswith(base + "/") or (avatar.startswith("/") and not avatar.startswith("//")))
    # No uploaded picture: the drawn one every actor of ours has (archipel/avatars.py).
    return Author(uri, actor.display_name or actor.username, f"{base}/@{actor.username}",
                  avatar if own else f"{uri}/avatar.png", f"@{actor.username}@{here.host}")


def _remote_author(here: Here, row: RemoteActor) -> Author:
    return Author(row.uri, row.display_name or row.username or row.uri, safe_url(row.url) or safe_url(row.uri),
                  remote_media.local_url(here.base_url, row.icon_url),  # served from here, never from there
                  f"@{row.username}@{row.host}" if row.username else "")


async def cards_for(session: AsyncSession, here: Here, items: list[StoredObject]) -> list[Card]:
    """The cards of a page of items: four queries at most, whatever the number of items (the
    authors' ids, our own people among them, every remote name, the origins of reuses)."""
    if not items:
        return []
    authors: dict[int, list[str]] = {}
    for object_id, uri in await session.execute(
            select(ItemAuthor.object_id, ItemAuthor.actor_uri).where(ItemAuthor.object_id.in_([i.id for i in items]))
            .order_by(ItemAuthor.object_id, ItemAuthor.position)):
        authors.setdefault(object_id, []).append(uri)
    for item in items:
        authors.setdefault(item.id, [item.author_uri])
    uris = {uri for names in authors.values() for uri in names}
    prefix = actor_uri(here.base_url, "")
    local_names = {uri[len(prefix):]: uri for uri in uris if uri.startswith(prefix)}
    people: dict[str, Author] = {}
    if local_names:
        for actor in await session.scalars(select(LocalActor).where(LocalActor.username.in_(local_names))):
            people[local_names[actor.username]] = _local_author(here, actor, local_names[actor.username])
    hosts = {host_of(item.uri) for item in items}
    remote_people = uris - set(local_names.values())
    rows = await _names(session, here, remote_people, hosts)
    people.update((row.uri, _remote_author(here, row)) for row, _, _ in rows if row.uri in remote_people)
    islands = _islands(here, rows, hosts)
    origins = await _origins(session, items)
    return [Card(item, islands[host_of(item.uri)],
                 [people.get(uri) or Author(uri, uri, safe_url(uri), None) for uri in authors[item.id]],
                 remote_media.cover_url(here.base_url, item), origins.get(item.based_on or ""))
            for item in items]


def local_person(here: Here, actor: LocalActor) -> Author:
    """One of this island's people, as a card names them (the island's home lists them)."""
    return _local_author(here, actor, actor_uri(here.base_url, actor.username))
