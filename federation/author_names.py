"""The worker that learns who wrote the items other islands share, so that pages name them.

A replica arrives from its island (an Announce, a catalog page): its authors' actors are never
the ones who signed it, and nothing else would ever fetch them, so cards and replica pages could
only show their addresses. Each round reads the authors added since its last round (a mark on
`item_authors.id`, a full pass after a restart) that no `remote_actors` row describes yet, and
fetches a few of them through the actor directory (the client's guard and domain policy apply;
their avatars then follow through remote_images). A failure is tried again later, with backoff,
never during a page.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import func, select

from archipel.identity import actor_uri
from archipel.storage.tables import ItemAuthor, RemoteActor
from federation.actors import ActorDirectory, ActorError
from federation.client import FetchError

log = logging.getLogger(__name__)

PER_ROUND = 10
SCAN = 500  # item_authors rows read by one round
FIRST_RETRY_SECONDS = 60.0
LAST_RETRY_SECONDS = 12 * 3600.0
MAX_REMEMBERED = 10_000  # failures kept in memory; the oldest are forgotten (and tried again)


class AuthorNameWorker:
    def __init__(self, sessions, directory: ActorDirectory, base_url: str):
        self.sessions = sessions
        self.directory = directory
        self.local_prefix = actor_uri(base_url, "")
        self._mark = 0  # item_authors rows up to this id were read
        self._waiting: list[str] = []  # read, not fetched yet
        self._failures: dict[str, tuple[float, float]] = {}  # uri -> (next try, delay)

    async def _unknown_authors(self) -> None:
        async with self.sessions() as session:
            newest = await session.scalar(select(func.max(ItemAuthor.id))) or 0
            rows = list(await session.execute(
                select(ItemAuthor.id, ItemAuthor.actor_uri)
                .outerjoin(RemoteActor, RemoteActor.uri == ItemAuthor.actor_uri)
                .where(ItemAuthor.id > self._mark, ItemAuthor.id <= newest, RemoteActor.id.is_(None))
                .order_by(ItemAuthor.id).limit(SCAN)))
        self._mark = rows[-1][0] if len(rows) == SCAN else newest
        for _, uri in rows:
            if not uri.startswith(self.local_prefix) and uri not in self._waiting and uri not in self._failures:
                self._waiting.append(uri)

    def _due_failures(self) -> list[str]:
        now = time.monotonic()
        return [uri for uri, (when, _) in self._failures.items() if when <= now][:PER_ROUND]

    async def run_once(self) -> int:
        """Fetch a few unknown authors; returns how many were tried."""
        if len(self._waiting) < PER_ROUND:
            await self._unknown_authors()
        batch, self._waiting = self._waiting[:PER_ROUND], self._waiting[PER_ROUND:]
        batch += self._due_failures()[:PER_ROUND - len(batch)]
        for uri in batch:
            try:
                await self.directory.get(uri)
                self._failures.pop(uri, None)
            except (FetchError, ActorError) as error:
                _, delay = self._failures.pop(uri, (0.0, FIRST_RETRY_SECONDS / 2))
                delay = min(delay * 2, LAST_RETRY_SECONDS)
                self._failures[uri] = (time.monotonic() + delay, delay)
                log.info("author %s not fetched (%s); again in %.0f s", uri, error, delay)
                while len(self._failures) > MAX_REMEMBERED:
                    self._failures.pop(next(iter(self._failures)))
        # Retries alone are not work done: the loop may sleep until the next poll.
        return len(batch) - sum(1 for uri in batch if uri in self._failures)
