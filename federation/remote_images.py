"""The worker that brings remote pictures home (see archipel/remote_media.py for why).

Each round: note the pictures now wanted (new avatars and covers; the old ones go), then fetch
a few of those due, never while a page is rendered. Bounded everywhere: the client's address
guard and domain policy on every hop, a byte limit, its timeouts; one fetch per URL at a time;
at most one fetch at a time per host and a few hosts at once; a host that failed is left alone
for a while; failures are recorded and tried again later (network, 429, 5xx) or for good (not
an image, a 4xx, or a refusal of ours: an address or domain we do not talk to, over the limit).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError

from archipel import remote_media
from archipel.errors import InvalidInput
from archipel.storage.tables import RemoteImage
from federation.client import FederationClient, FetchError, Refused, Signer

log = logging.getLogger(__name__)

ACCEPT_IMAGES = "image/webp, image/png, image/jpeg, image/gif;q=0.9"
PER_ROUND = 20
HOSTS_AT_ONCE = 4
MAX_HOST_LOCKS = 1000
HOST_PAUSE_SECONDS = 60.0  # after a network failure or a 429/5xx, that host waits
FULL_SYNC_SECONDS = 600.0  # a full pass (every actor and replica, removals); incremental between


class RemoteImageWorker:
    def __init__(self, sessions, client: FederationClient, signer: Signer | None, directory: str | Path, *,
                 sync_every: float = 0.0):
        self.sessions = sessions
        self.client = client
        self.signer = signer
        self.directory = Path(directory)
        self.wake = asyncio.Event()
        self._in_flight: set[str] = set()
        self._paused_until: dict[str, float] = {}
        self._host_locks: dict[str, asyncio.Lock] = {}
        self._hosts = asyncio.Semaphore(HOSTS_AT_ONCE)
        # Reading which pictures are wanted: not every round, and a full walk of every remote
        # actor and replica only every full_sync_every seconds; the rows changed since the last
        # pass's mark otherwise.
        self.sync_every = sync_every
        self.full_sync_every = FULL_SYNC_SECONDS
        self._synced_at = float("-inf")
        self._full_synced_at = float("-inf")
        self._mark: remote_media.SyncMark | None = None
        self._index = remote_media.WantedIndex()

    async def run_once(self) -> int:
        """Sync what is wanted, fetch what is due; returns how many pictures were fetched or refused."""
        async with self.sessions() as session:
            if time.monotonic() - self._synced_at >= self.sync_every:
                self._synced_at = time.monotonic()
                await self._sync(session)
            rows = await remote_media.due(session, PER_ROUND * 4)
        now = time.monotonic()
        by_host: dict[str, list] = {}
        for row in rows:
            host = urlsplit(row.url).netloc.lower()
            if row.key in self._in_flight or self._paused_until.get(host, 0) > now:
                continue
            if len(by_host.setdefault(host, [])) < 2 and sum(map(len, by_host.values())) < PER_ROUND:
                by_host[host].append((row.id, row.key, row.url))
                self._in_flight.add(row.key)  # now: a concurrent round must not pick it too
        results = await asyncio.gather(*(self._host_round(host, jobs) for host, jobs in by_host.items()))
        return sum(results)

    async def _sync(self, session) -> None:
        full = self._mark is None or time.monotonic() - self._full_synced_at >= self.full_sync_every
        try:
            mark = await remote_media.sync_mark(session)
            added, _removed = await remote_media.sync_wanted(session, self.directory, self._index,
                                                            since=None if full else self._mark)
            await session.commit()
        except IntegrityError:  # another runner added the same picture first: a full pass next time
            await session.rollback()
            self._mark = None  # the index changed with what was rolled back
            return
        if added >= remote_media.MAX_NEW_PER_ROUND:
            return  # a burst cut short: the same pass again next time, from the same mark
        self._mark = mark
        if full:
            self._full_synced_at = time.monotonic()

    async def _host_round(self, host: str, jobs: list[tuple[int, str, str]]) -> int:
        done = 0
        try:
            async with self._hosts, self._host_locks.setdefault(host, asyncio.Lock()):
                for row_id, key, url in jobs:  # one at a time per host, whatever the rounds
                    if self._paused_until.get(host, 0) > time.monotonic():
                        break
                    await self._fetch_one(host, row_id, key, url)
                    done += 1
        finally:
            self._in_flight.difference_update(key for _id, key, _url in jobs)
            if len(self._host_locks) > MAX_HOST_LOCKS:  # forget idle hosts (none is waited on)
                self._host_locks = {name: lock for name, lock in self._host_locks.items()
                                    if lock.locked() or getattr(lock, "_waiters", None)}
        return done

    async def _fetch_one(self, host: str, row_id: int, key: str, url: str) -> None:
        final, error, prepared = False, None, None
        try:
            data = await self.client.fetch_bytes(url, self.signer, accept=ACCEPT_IMAGES,
                                                 max_bytes=remote_media.MAX_BYTES)
            prepared = await asyncio.to_thread(remote_media.prepare, data)
            await asyncio.to_thread(remote_media.write_file, self.directory, key, prepared.data)
        except FetchError as failure:
            error = str(failure)
            # A refusal of ours (a private address, a blocked domain, too big) or a 4xx will not
            # change by asking again, and says nothing of the host's health; a 429, a 5xx or the
            # network may change: retried later, the host left alone meanwhile.
            status = failure.status
            final = isinstance(failure, Refused) or (status is not None and 400 <= status < 500
                                                     and status != 429)
            if not final and (status is None or status == 429 or status >= 500):
                self._paused_until[host] = time.monotonic() + HOST_PAUSE_SECONDS
        except InvalidInput as refused:
            error, final = f"refused: {refused}", True
        except OSError as failure:  # the disk: try again later
            error = f"storing: {failure}"
        async with self.sessions() as session:
            row = await session.get(RemoteImage, row_id)
            if row is None or row.key != key:  # no longer wanted meanwhile: nor is its file
                if prepared is not None:
                    remote_media.file_path(self.directory, key).unlink(missing_ok=True)
                return
            if prepared is not None and error is None:
                remote_media.record_stored(row, prepared)
            else:
                remote_media.record_failure(row, error or "unknown error", final=final)
                log.info("remote picture %s not kept: %s", url, error)
            await session.commit()
