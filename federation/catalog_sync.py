"""Backfill and catch-up: walk a followed island's catalog from a saved cursor.

When a follow of an island is accepted, everything it already published is imported (backfill);
then the same walk, resumed periodically from the saved cursor, brings in whatever was missed
while a node was down or a delivery was lost (catch-up). Each page is applied and its cursor
saved in one transaction: an interrupted walk resumes where it stopped, and applying an item
twice changes nothing (ids are unique, updates must be newer, tombstones are final).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import delete as sql_delete
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from archipel import content
from archipel.storage.tables import CatalogSync, Follow, StoredObject, utcnow
from federation import replicas, theme_actors
from federation.actors import ActorDirectory
from federation.as2 import as_list, has_type, host_of, id_of, same_host
from federation.client import FetchError
from federation.domains import mark_if_silenced
from federation.jsonld import normalize
from federation.workers import Stopping, run_forever

log = logging.getLogger(__name__)

MAX_PAGES_PER_ROUND = 20  # a huge catalog is walked over several rounds, others get their turn
RETRY_AFTER_ERROR = timedelta(minutes=5)
# A walk is claimed by pushing its next run this far ahead: another process takes it again only
# if this one died (a round is at most MAX_PAGES_PER_ROUND fetches, each bounded by the client).
WALK_LEASE = timedelta(minutes=10)


async def start_sync(session: AsyncSession, actor_uri: str, catalog_url: str) -> CatalogSync:
    """Called when a follow of an island is accepted: walk its catalog as soon as possible."""
    sync = await session.scalar(select(CatalogSync).where(CatalogSync.actor_uri == actor_uri))
    if sync is None:
        sync = CatalogSync(actor_uri=actor_uri, catalog_url=catalog_url, cursor="", backfilled=False,
                           items_applied=0)
        session.add(sync)
    sync.catalog_url = catalog_url
    sync.next_run_at = utcnow()
    await session.flush()
    return sync


async def stop_if_unfollowed(session: AsyncSession, actor_uri: str) -> None:
    """Nobody here follows this island any more (it blocked us, it was deleted): stop walking it."""
    if await session.scalar(select(Follow.id).where(Follow.followed_uri == actor_uri).limit(1)) is None:
        await session.execute(sql_delete(CatalogSync).where(CatalogSync.actor_uri == actor_uri))


class CatalogSyncWorker:
    def __init__(self, sessionmaker: async_sessionmaker, directory: ActorDirectory, *,
                 interval: timedelta = timedelta(minutes=15), poll_interval: float = 1.0,
                 max_pages: int = MAX_PAGES_PER_ROUND, base_url: str | None = None):
        self.sessionmaker = sessionmaker
        # With the island's URL, catch-up walks feed its theme actors (see _share).
        self.base_url = base_url
        self.directory = directory
        self.interval = interval
        self.poll_interval = poll_interval
        self.max_pages = max_pages
        self.wake = asyncio.Event()

    async def run_forever(self, stopping: Stopping | None = None) -> None:
        await run_forever(self.run_once, self.wake, self.poll_interval, "catalog sync", stopping)

    async def run_once(self) -> int:
        """Walk every due catalog; returns how many items were applied."""
        if self.max_pages <= 0:  # a walker told to walk nothing claims nothing (another may walk)
            return 0
        now = utcnow()
        async with self.sessionmaker() as session:
            # Read first: an idle round writes nothing (on SQLite a write takes the only lock).
            ids = list(await session.scalars(select(CatalogSync.id).where(CatalogSync.next_run_at <= now)
                                             .with_for_update(skip_locked=True)))
            due = list(await session.scalars(
                update(CatalogSync).where(CatalogSync.id.in_(ids), CatalogSync.next_run_at <= now)
                .values(next_run_at=now + WALK_LEASE).returning(CatalogSync.id))) if ids else []
            await session.commit()
        applied = 0
        for sync_id in due:
            applied += await self.walk(sync_id)
        return applied

    async def walk(self, sync_id: int) -> int:
        applied = 0
        for _ in range(self.max_pages):
            async with self.sessionmaker() as session:
                sync = await session.get(CatalogSync, sync_id)
                url = f"{sync.catalog_url}?after={sync.cursor}"
                try:
                    fetched = await self.directory.client.fetch(url, self.directory.signer)
                    if not same_host(fetched.url, sync.catalog_url):
                        # The page vouches for the items of the host that answered it only.
                        raise FetchError(f"{url} was answered from another host ({fetched.url})")
                    page = normalize(fetched.document)
                    count, cursor = await self._apply_page(session, sync, page)
                except (FetchError, ValueError) as error:
                    await session.rollback()
                    await self._failed(sync_id, str(error))
                    return applied
                applied += count
                sync.items_applied += count
                sync.last_run_at = utcnow()
                sync.last_error = None
                if cursor:
                    sync.cursor = cursor
                finished = not page.get("next")
                if finished:
                    sync.backfilled = True
                    sync.next_run_at = utcnow() + self.interval
                await session.commit()
            if finished:
                return applied
        # More pages: the next round goes on from the saved cursor.
        async with self.sessionmaker() as session:
            await session.execute(update(CatalogSync).where(CatalogSync.id == sync_id).values(next_run_at=utcnow()))
            await session.commit()
        return applied

    async def _failed(self, sync_id: int, error: str) -> None:
        log.info("catalog sync %d failed: %s", sync_id, error)
        async with self.sessionmaker() as session:
            sync = await session.get(CatalogSync, sync_id)
            sync.last_error = error[:1000]
            sync.next_run_at = utcnow() + RETRY_AFTER_ERROR
            await session.commit()

    async def _apply_page(self, session: AsyncSession, sync: CatalogSync, page: dict) -> tuple[int, str]:
        if page.get("type") != "OrderedCollectionPage" or id_of(page.get("partOf")) != sync.catalog_url:
            raise ValueError(f"{sync.catalog_url} answered with something that is not one of its pages")
        applied = 0
        for entry in as_list(page.get("orderedItems")):
            if isinstance(entry, dict) and await self._apply(session, sync, entry):
                applied += 1
        next_page = id_of(page.get("next"))
        cursor = parse_qs(urlsplit(next_page).query).get("after", [""])[0] if next_page else ""
        return applied, cursor or sync.cursor

    async def _apply(self, session: AsyncSession, sync: CatalogSync, entry: dict) -> bool:
        """One item of the catalog; True when something changed here."""
        object_id = id_of(entry)
        # The page came from the island's own host over a signed GET: it vouches for its own items only.
        if not object_id or not same_host(object_id, sync.catalog_url):
            return False
        existing = await content.find_object(session, object_id)
        if has_type(entry, "Tombstone"):
            if existing is None:
                session.add(StoredObject(uri=object_id, is_local=False, type=str(entry.get("formerType") or "Article"),
                                         author_uri=sync.actor_uri, deleted_at=utcnow(), state="published"))
                return True
            if existing.deleted_at is None and not existing.is_local:
                await content.withdraw(session, existing)
                await self._share(session, sync, existing)
                return True
            return False
        author = replicas.author_of(entry)
        if not author or host_of(author) != host_of(object_id):
            return False
        if existing is None:
            try:
                stored = await replicas.store(session, entry, author)
            except replicas.AlreadyStored:
                return False  # the inbox stored it meanwhile: nothing left to do
            mark_if_silenced(self.directory.client.policy, stored)
            await self._share(session, sync, stored)
            return True
        if existing.is_local or existing.deleted_at is not None or existing.author_uri != author:
            return False
        if not await replicas.update(session, existing, entry, author):
            return False
        await self._share(session, sync, existing)
        return True

    async def _share(self, session: AsyncSession, sync: CatalogSync, item: StoredObject) -> None:
        """A catch-up walk brings what was missed live (the island was down, a delivery gave
        up): theme actors share it as they would have. The first walk (backfill) does not, or
        following an island would flood the themes' followers with its whole history."""
        if self.base_url and sync.backfilled:
            await theme_actors.sync_shares(session, self.base_url, item)
