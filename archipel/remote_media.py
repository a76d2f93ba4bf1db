"""Pictures from other servers, kept by the island: what is wanted, what is stored, where.

Pages never point a visitor's browser at another server (that would tell it who reads what, and
from where). A remote actor's avatar or a replicated item's cover is shown under a local URL
named after the SHA-256 of the remote URL: `/images-distantes/<key>`. The name is computed from
the URL alone, so a page needs no query to show it; the route serves the stored copy, or a drawn
placeholder while there is none (not fetched yet, or refused).

Which pictures are wanted is read from the data itself (actors' `icon_url`, replicas' `cover`):
`sync_wanted` adds a row for every new URL and removes the rows (and files) of URLs nothing
shows any more. So an actor's Update with a new icon, or an item's Update with a new cover, is a
new URL: fetched, and the old picture goes, without any hook in the inbox. A full pass reads
every actor and replica; between two (they are rare), an incremental pass reads only the rows
changed since a `SyncMark` (actors fetched since, replicas added, updated or deleted since) and
updates a `WantedIndex` of the picture each row shows: a new one is added, one no row shows any
more goes. What it may miss (a clock behind ours, a long transaction, an actor row deleted) waits
for the full pass. The fetching itself is federation/remote_images.py; the checks and the
re-encoding are those of uploads (media.prepare).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, event, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import media
from archipel.errors import InvalidInput
from archipel.safe_urls import safe_url
from archipel.storage.tables import RemoteActor, RemoteImage, StoredObject, utcnow

ROUTE = "/images-distantes"
MAX_BYTES = 5_000_000  # an avatar or a cover; larger ones are refused, not truncated
MAX_ATTEMPTS = 8  # then the row stays failed (the placeholder shows) until its URL changes
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=12)
MAX_NEW_PER_ROUND = 500  # rows added by one sync: a burst of new actors is spread over rounds
MAX_ERROR_CHARS = 500
MARK_OVERLAP = timedelta(minutes=5)  # an incremental pass re-reads a little before its mark


def image_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def is_key(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def local_url(base_url: str, remote_url: object) -> str | None:
    """Where this island shows a remote picture (None when its URL is not one we would fetch)."""
    url = safe_url(remote_url)
    return f"{base_url.rstrip('/')}{ROUTE}/{image_key(url)}" if url else None


def cover_url(base_url: str, item: StoredObject) -> str | None:
    """The cover to show for an item: ours as it is, another server's through the island."""
    url = (item.cover or {}).get("url")
    if item.is_local:
        return url if isinstance(url, str) and (url.startswith(base_url.rstrip("/") + "/")
                                                or (url.startswith("/") and not url.startswith("//"))) else None
    return local_url(base_url, url)


def file_path(directory: str | Path, key: str) -> Path:
    if not is_key(key):
        raise InvalidInput("Identifiant d'image invalide.")
    return Path(directory) / "remote" / key[:2] / key


# ---- what is wanted -----------------------------------------------------------------------------

Row = tuple[str, int]  # ("actor" | "object", id)


@dataclass(frozen=True)
class SyncMark:
    """Where a pass began: the next incremental pass reads the rows changed after it."""

    at: datetime  # our clock
    object_id: int  # the highest object id then


@dataclass
class WantedIndex:
    """What the last full pass read, kept up to date by the incremental passes after it: the
    picture each row shows, and how many rows show each one (a picture none shows goes)."""

    by_row: dict[Row, str] = field(default_factory=dict)
    uses: Counter = field(default_factory=Counter)

    def show(self, row: Row, key: str | None) -> str | None:
        """Note the row's picture now; returns the one it showed before, if it changed."""
        old = self.by_row.pop(row, None)
        if key is not None:
            self.by_row[row] = key
            self.uses[key] += 1
        if old is not None:
            self.uses[old] -= 1
            if self.uses[old] <= 0:
                del self.uses[old]
        return old if old != key else None


async def sync_mark(session: AsyncSession) -> SyncMark:
    """Taken before a pass reads anything: a row changed during the pass is read again next time."""
    return SyncMark(utcnow(), await session.scalar(select(func.max(StoredObject.id))) or 0)


def covers_shown(since: SyncMark | None = None):
    """The replicas' (id, cover, deleted_at, is_local): every replica showing a cover, or with
    `since` those changed after the mark (local rows may come too: the reader leaves them out)."""
    covers = select(StoredObject.id, StoredObject.cover, StoredObject.deleted_at, StoredObject.is_local)
    if since is None:
        return covers.where(StoredObject.is_local.is_(False), StoredObject.cover.is_not(None),
                            StoredObject.deleted_at.is_(None))
    after = since.at - MARK_OVERLAP
    # `updated` is the other server's clock (an Update is applied only when it grows); the id
    # catches new replicas whatever they claim; deleted_at is ours. Three ranges, each read from
    # its own index (the rowid, ix_objects_local_updated, ix_objects_listing); a row in two is
    # read twice, harmlessly. One condition OR-ing them walked every replica: an island holding
    # 100,000 and doing nothing read them all every ten seconds. The first and last ranges do not
    # ask for is_local: SQLite would then walk the is_local index instead of the range.
    return union_all(covers.where(StoredObject.id > since.object_id),
                     covers.where(StoredObject.is_local.is_(False), StoredObject.updated >= after),
                     covers.where(StoredObject.deleted_at >= after))


async def shown_pictures(session: AsyncSession, since: SyncMark | None = None) -> dict[Row, tuple[str, str] | None]:
    """(url, purpose) of the picture each row shows; with `since`, only the rows changed after
    that mark, those that show none any more (None) included."""
    actors = select(RemoteActor.id, RemoteActor.icon_url)
    if since is None:
        actors = actors.where(RemoteActor.icon_url.is_not(None))
    else:
        actors = actors.where(RemoteActor.fetched_at >= since.at - MARK_OVERLAP)  # every store of an actor sets it
    covers = covers_shown(since)
    shown: dict[Row, tuple[str, str] | None] = {}
    for row_id, icon in await session.execute(actors):
        url = safe_url(icon)
        shown[("actor", row_id)] = (url, "avatar") if url else None
    for row_id, cover, deleted_at, is_local in await session.execute(covers):
        if is_local:
            continue
        url = safe_url(cover.get("url")) if isinstance(cover, dict) and deleted_at is None else None
        shown[("object", row_id)] = (url, "cover") if url else None
    return shown


async def sync_wanted(session: AsyncSession, directory: str | Path, index: WantedIndex | None = None,
                      since: SyncMark | None = None) -> tuple[int, int]:
    """Add rows for new pictures, remove those nothing shows any more (their files once the
    caller commits). Returns (added, removed). Without `since`, a full pass: every actor and
    replica is read and `index` filled anew. With it, an incremental pass on the index of the
    passes before: only the rows changed after the mark are read."""
    index = index if index is not None else WantedIndex()
    if since is None:
        index.by_row.clear()
        index.uses.clear()
    urls: dict[str, tuple[str, str]] = {}
    dropped: set[str] = set()
    for row, picture in (await shown_pictures(session, since)).items():
        key = image_key(picture[0]) if picture else None
        if picture:
            urls.setdefault(key, picture)  # actors come first: a picture both shows is an avatar
        if (old := index.show(row, key)) is not None:
            dropped.add(old)
    if since is None:
        have = set(await session.scalars(select(RemoteImage.key)))
        gone = [key for key in have if key not in index.uses]
    else:
        have, keys = set(), list(urls)
        for start in range(0, len(keys), 500):  # bounded IN lists
            have.update(await session.scalars(select(RemoteImage.key)
                                              .where(RemoteImage.key.in_(keys[start:start + 500]))))
        gone = [key for key in dropped if key not in index.uses]
    added = 0
    for key, (url, purpose) in urls.items():
        if key not in have and added < MAX_NEW_PER_ROUND:
            session.add(RemoteImage(key=key, url=url, purpose=purpose, state="pending", attempts=0,
                                    next_try_at=utcnow()))
            added += 1
    if gone:
        for start in range(0, len(gone), 500):
            await session.execute(delete(RemoteImage).where(RemoteImage.key.in_(gone[start:start + 500])))
        info = session.sync_session.info.setdefault("archipel.remote_media.gone", [])
        info.extend(file_path(directory, key) for key in gone)
        _remove_after_commit(session)
    await session.flush()
    return added, len(gone)


def _remove_after_commit(session: AsyncSession) -> None:
    sync_session = session.sync_session
    if sync_session.info.get("archipel.remote_media.watched"):
        return
    sync_session.info["archipel.remote_media.watched"] = True

    def after_commit(sync):
        for path in sync.info.pop("archipel.remote_media.gone", []):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def after_rollback(sync):
        sync.info.pop("archipel.remote_media.gone", None)

    event.listen(sync_session, "after_commit", after_commit)
    event.listen(sync_session, "after_soft_rollback", lambda sync, _t: after_rollback(sync))


async def due(session: AsyncSession, limit: int, now: datetime | None = None) -> list[RemoteImage]:
    query = (select(RemoteImage).where(RemoteImage.state == "pending", RemoteImage.next_try_at <= (now or utcnow()))
             .order_by(RemoteImage.next_try_at, RemoteImage.id).limit(limit))
    return list(await session.scalars(query))


# ---- checking, storing, failing ----------------------------------------------------------------

def prepare(data: bytes) -> media.Prepared:
    """The bytes to keep for a remote picture: exactly the checks and re-encoding of an upload
    (types from the bytes, pixel bounds, metadata dropped), and it must be an image."""
    media.check_size(data, MAX_BYTES)
    prepared = media.prepare(data, "")
    if prepared.kind != "image":
        raise media.UnsupportedType("Ce n'est pas une image.")
    return prepared


def write_file(directory: str | Path, key: str, data: bytes) -> None:
    """Written aside then renamed: a reader never sees half a picture."""
    path = file_path(directory, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def record_stored(row: RemoteImage, prepared: media.Prepared) -> None:
    row.state, row.content_type, row.size = "stored", prepared.content_type, len(prepared.data)
    row.width, row.height, row.fetched_at, row.last_error = prepared.width, prepared.height, utcnow(), None


def record_failure(row: RemoteImage, error: str, *, final: bool = False) -> None:
    """A refused picture (not an image, too big) is final; a network failure is tried again
    later, less and less often, then given up."""
    row.attempts += 1
    row.last_error = error[:MAX_ERROR_CHARS]
    row.fetched_at = utcnow()
    if final or row.attempts >= MAX_ATTEMPTS:
        row.state = "failed"
        return
    row.next_try_at = utcnow() + min(FIRST_RETRY * 2 ** (row.attempts - 1), LAST_RETRY)


@dataclass(frozen=True)
class Shown:
    """What the route serves for a key: the stored file, or the placeholder to draw."""

    path: Path | None
    content_type: str
    purpose: str


async def shown(session: AsyncSession, directory: str | Path, key: str) -> Shown:
    row = await session.scalar(select(RemoteImage).where(RemoteImage.key == key)) if is_key(key) else None
    purpose = row.purpose if row is not None else "avatar"
    if row is not None and row.state == "stored" and row.content_type:
        path = file_path(directory, key)
        if path.is_file():
            return Shown(path, row.content_type, purpose)
    return Shown(None, "image/png", purpose)
