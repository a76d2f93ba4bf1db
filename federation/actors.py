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


class ActorError(Exception):
    """A remote actor document is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class ActorKey:
    key_id: str
    owner: str
    public_key_pem: str
    fetched_at: datetime | None = None


def _keys_in(document: dict) -> list[dict]:
    return [k for k in as_list(document.get("publicKey")) if isinstance(k, dict)]


def parse_actor(document: dict, fetched_from: str) -> dict:
    """The columns of a RemoteActor from an actor document, checked."""
    uri = document.get("id")
    if not isinstance(uri, str) or uri.split("#")[0] != fetched_from.split("#")[0]:
        raise ActorError(f"actor id {uri!r} does not match the URL it was fetched from ({fetched_from})")
    kinds = types_of(document)
    if not any(kind in ACTOR_TYPES for kind in kinds):
        raise ActorError(f"{uri} is not an actor (type {kinds})")
    inbox = id_of(document.get("inbox"))
    if not inbox:
        raise ActorError(f"actor {uri} has no inbox")
    endpoints = document.get("endpoints") if isinstance(document.get("endpoints"), dict) else {}
    key = next((k for k in _keys_in(document) if id_of(k.get("owner")) in (uri, None)), None)
    icon = as_list(document.get("icon"))
    if not bounds.fits_uri(uri) or not bounds.fits_uri(inbox) or len(host_of(uri)) > 300:
        raise ActorError(f"actor {uri[:100]!r}: id or inbox too long to be stored")
    return {
        "uri": uri,
        "host": host_of(uri),
        "type": next(kind for kind in kinds if kind in ACTOR_TYPES),
        "username": bounds.clip_text(str(document.get("preferredUsername") or ""), 200),
        "display_name": bounds.clip_text(text_value(document, "name"), 500),
        "inbox": inbox,
        "shared_inbox": bounds.uri_or_none(id_of(endpoints.get("sharedInbox")) if endpoints else None),
        "followers_uri": bounds.uri_or_none(id_of(document.get("followers"))),
        "url": bounds.uri_or_none(id_of(document.get("url")) if not isinstance(document.get("url"), list)
                                  else id_of((document["url"] or [None])[0])),
        "icon_url": bounds.uri_or_none(id_of(icon[0].get("url")) if icon and isinstance(icon[0], dict) else None),
        "key_id": bounds.uri_or_none(key.get("id")) if key else None,
        "public_key_pem": key.get("publicKeyPem") if key else None,
        "document": document,
    }


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
        document = await self.client.fetch_json(uri.split("#")[0], self.signer)
        return await self.store(document, uri)

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
            actor = await session.scalar(select(RemoteActor).where(RemoteActor.key_id == key_id))
        if actor is not None and actor.public_key_pem:
            if not refresh:
                return self._remember_key(ActorKey(key_id, actor.uri, actor.public_key_pem, actor.fetched_at))
            if utcnow() - actor.fetched_at < KEY_REFRESH_INTERVAL:
                return None  # refreshed recently: do not fetch again
        return await self._fetch_key(key_id)

    async def _fetch_key(self, key_id: str) -> ActorKey | None:
        url = key_id.split("#")[0]
        document = await self.client.fetch_json(url, self.signer)
        if any(kind in ACTOR_TYPES for kind in types_of(document)):
            actor_id = document.get("id")
            if actor_id == url:
                actor = await self.store(document, url)
            elif isinstance(actor_id, str) and host_of(actor_id) == host_of(url):
                # GoToSocial serves an actor stub at its key URL: the actor itself is elsewhere.
                actor = await self.get(actor_id, refresh=True)
            else:
                raise ActorError(f"{key_id} is served by an actor on another host ({actor_id})")
        else:
            owner = id_of(document.get("owner"))
            if document.get("id") != key_id or not owner:
                raise ActorError(f"{key_id} is neither an actor nor a key with an owner")
            actor = await self.get(owner, refresh=True)
        if actor.key_id != key_id or not actor.public_key_pem:
            raise ActorError(f"actor {actor.uri} does not claim the key {key_id}")
        return ActorKey(key_id, actor.uri, actor.public_key_pem, actor.fetched_at)

    async def _local_key(self, key_id: str) -> ActorKey | None:
        username = key_id.split("#")[0].rstrip("/").rsplit("/", 1)[-1]
        async with self.sessionmaker() as session:
            actor = await session.scalar(select(LocalActor).where(LocalActor.username == username))
        if actor is None:
            return None
        owner = f"{self.base_url}/users/{actor.username}"
        return ActorKey(key_id, owner, actor.public_key_pem)
