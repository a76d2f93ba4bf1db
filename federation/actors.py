"""What we know of remote actors: fetched with a signed GET, kept in the database, keys cached.

A key is re-fetched when a signature fails to verify with the cached one (the actor may have
rotated it), but at most once per KEY_REFRESH_INTERVAL, so that a flood of bad signatures cannot
make us hammer a server.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from archipel import bounds
from archipel.storage.tables import LocalActor, RemoteActor, utcnow
from federation.as2 import as_list, host_of, id_of, text_value, types_of
from federation.client import FederationClient, FetchError, Signer
from federation.vocabulary import ACTOR_TYPES

log = logging.getLogger(__name__)

KEY_REFRESH_INTERVAL = timedelta(minutes=10)
ACTOR_MAX_AGE = timedelta(days=1)


class ActorError(FetchError):
    """A remote actor document is missing, malformed or inconsistent: a failed fetch of an actor,
    so that a caller catching FetchError catches it too."""


@dataclass(frozen=True)
class ActorKey:
    key_id: str
    owner: str
    public_key_pem: str
    fetched_at: datetime | None = None


def _keys_in(document: dict) -> list[dict]:
    return [k for k in as_list(document.get("publicKey")) if isinstance(k, dict)]


def _own_key(document: dict, uri: str) -> dict | None:
    """The key this actor's document names as its own: owned by the actor (or owner left out,
    inside the actor's own document) and with an id on the actor's host. A document can never
    claim a key of another server, so it can never shadow another actor's key."""
    for key in _keys_in(document):
        key_id = key.get("id")
        if (bounds.fits_uri(key_id) and host_of(key_id) == host_of(uri)
                and id_of(key.get("owner")) in (uri, None) and isinstance(key.get("publicKeyPem"), str)):
            return key
    return None


def parse_actor(document: dict, fetched_from: str) -> dict:
    """The columns of a RemoteActor from an actor document, checked."""
    uri = document.get("id")
    if not isinstance(uri, str) or uri.split("#")[0] != fetched_from.split("#")[0]:
        raise ActorError(f"actor id {uri!r} does not match the URL it was fetched from ({fetched_from})")
    kinds = types_of(document)
    if not any(kind in ACTOR_TYPES for kind in kinds):
        raise ActorError(f"{uri} is not an actor (type {kinds})")
    if not bounds.fits_uri(uri) or len(host_of(uri)) > 300:
        raise ActorError(f"actor id {uri[:200]!r} is too long to be stored or not printable")
    inbox = _uri(document.get("inbox"))
    if not inbox:
        raise ActorError(f"actor {uri} has no usable inbox")
    endpoints = document.get("endpoints") if isinstance(document.get("endpoints"), dict) else {}
    key = _own_key(document, uri)
    icon = as_list(document.get("icon"))
    urls = as_list(document.get("url"))
    return {
        "uri": uri,
        "host": host_of(uri)[:300],
        "type": next(kind for kind in kinds if kind in ACTOR_TYPES),
        "username": bounds.clip_text(document.get("preferredUsername"), 200),
        "display_name": bounds.clip_text(text_value(document, "name"), 500),
        "inbox": inbox,
        "shared_inbox": _uri(endpoints.get("sharedInbox")),
        "followers_uri": _uri(document.get("followers")),
        "url": _uri(urls[0]) if urls else None,
        "icon_url": (_uri(icon[0].get("url")) if icon and isinstance(icon[0], dict) else None),
        "key_id": key.get("id") if key else None,
        "public_key_pem": bounds.clip_text(key.get("publicKeyPem"), 20_000) if key else None,
        "document": document,
    }


def _uri(value) -> str | None:
    """An id or URL that fits its column (both databases), else None."""
    return bounds.uri_or_none(id_of(value))


class ActorDirectory:
    KEY_CACHE_SIZE = 10_000

    def __init__(self, sessionmaker: async_sessionmaker, client: FederationClient, base_url: str,
                 signer: Signer):
        self.sessionmaker = sessionmaker
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        # keyId -> key, in memory: reading the actor row on every POST costs more than verifying.
        self._keys: OrderedDict[str, ActorKey] = OrderedDict()

    def _remember_key(self, key: ActorKey) -> ActorKey:
        self._keys[key.key_id] = key
        self._keys.move_to_end(key.key_id)
        while len(self._keys) > self.KEY_CACHE_SIZE:
            self._keys.popitem(last=False)
        return key

    def is_local(self, uri: str) -> bool:
        return host_of(uri) == host_of(self.base_url)

    async def cached(self, uri: str) -> RemoteActor | None:
        async with self.sessionmaker() as session:
            return await session.scalar(select(RemoteActor).where(RemoteActor.uri == uri))

    async def get(self, uri: str, *, refresh: bool = False) -> RemoteActor:
        """The actor, from the cache when fresh enough, else fetched (and stored)."""
        actor = await self.cached(uri)
        if actor is not None and not refresh and utcnow() - actor.fetched_at < ACTOR_MAX_AGE:
            return actor
        try:
            return await self.fetch(uri)
        except (FetchError, ActorError):
            if actor is not None:
                return actor  # a stale copy beats none when the server is briefly away
            raise

    async def fetch(self, uri: str) -> RemoteActor:
        """The actor at `uri`, as the URL that finally answered describes itself. A profile URL
        (`https://host/@bob`) gives the actor it names on the same host (`/users/bob`)."""
        fetched = await self.client.fetch_object(uri.split("#")[0], self.signer)
        return await self.store(fetched.document, fetched.url)

    async def store(self, document: dict, fetched_from: str) -> RemoteActor:
        """Insert or refresh the actor. Two requests may fetch the same new actor at once: the
        second insert then loses the race and updates instead."""
        values = parse_actor(document, fetched_from)
        for attempt in range(2):
            try:
                actor = await self._upsert(values)
                break
            except IntegrityError:
                if attempt:
                    raise
        if actor.key_id and actor.public_key_pem:
            self._remember_key(ActorKey(actor.key_id, actor.uri, actor.public_key_pem, actor.fetched_at))
        return actor

    async def _upsert(self, values: dict) -> RemoteActor:
        async with self.sessionmaker() as session:
            actor = await session.scalar(select(RemoteActor).where(RemoteActor.uri == values["uri"]))
            if actor is None:
                actor = RemoteActor(**values)
                session.add(actor)
            else:
                for name, value in values.items():
                    setattr(actor, name, value)
            actor.fetched_at = utcnow()
            await session.commit()
            return actor

    def forget(self, actor_uri: str) -> None:
        """A deleted actor's keys must not verify anything any more."""
        for key_id in [k for k, key in self._keys.items() if key.owner == actor_uri]:
            del self._keys[key_id]

    async def key(self, key_id: str, *, refresh: bool = False) -> ActorKey | None:
        """The public key named by a signature's keyId, with the actor that owns it."""
        if self.is_local(key_id):
            return await self._local_key(key_id)
        if not refresh and key_id in self._keys:
            return self._keys[key_id]
        async with self.sessionmaker() as session:
            # Only an actor of the key's own host can hold it (rows stored before that rule
            # included); two holders on one host: ask the key's URL who owns it.
            holders = list(await session.scalars(select(RemoteActor).where(
                RemoteActor.key_id == key_id, RemoteActor.host == host_of(key_id)).limit(2)))
        actor = holders[0] if len(holders) == 1 else None
        if actor is not None and actor.public_key_pem:
            if not refresh:
                return self._remember_key(ActorKey(key_id, actor.uri, actor.public_key_pem, actor.fetched_at))
            if utcnow() - actor.fetched_at < KEY_REFRESH_INTERVAL:
                return None  # refreshed recently: do not fetch again
        return await self._fetch_key(key_id)

    async def _fetch_key(self, key_id: str) -> ActorKey | None:
        url = key_id.split("#")[0]
        fetched = await self.client.fetch(url, self.signer)
        document = fetched.document
        if any(kind in ACTOR_TYPES for kind in types_of(document)):
            actor_id = document.get("id")
            if fetched.answers_for(actor_id):
                actor = await self.store(document, fetched.url)
            elif isinstance(actor_id, str) and host_of(actor_id) == host_of(key_id):
                # GoToSocial serves an actor stub at its key URL: the actor itself is elsewhere.
                actor = await self.get(actor_id, refresh=True)
            else:
                raise ActorError(f"{key_id} is served by an actor on another host ({actor_id})")
        else:
            owner = id_of(document.get("owner"))
            if document.get("id") != key_id or not owner:
                raise ActorError(f"{key_id} is neither an actor nor a key with an owner")
            if host_of(owner) != host_of(key_id):
                raise ActorError(f"{key_id} names an owner on another host ({owner})")
            actor = await self.get(owner, refresh=True)
        # Whoever served what: the key is the actor's only if the actor's own document names it.
        if actor.key_id != key_id or not actor.public_key_pem or host_of(actor.uri) != host_of(key_id):
            raise ActorError(f"actor {actor.uri} does not claim the key {key_id}")
        return self._remember_key(ActorKey(key_id, actor.uri, actor.public_key_pem, actor.fetched_at))

    async def _local_key(self, key_id: str) -> ActorKey | None:
        username = key_id.split("#")[0].rstrip("/").rsplit("/", 1)[-1]
        async with self.sessionmaker() as session:
            actor = await session.scalar(select(LocalActor).where(LocalActor.username == username))
        if actor is None:
            return None
        owner = f"{self.base_url}/users/{actor.username}"
        return ActorKey(key_id, owner, actor.public_key_pem)
