"""Pictures from other servers, kept by the island: what is wanted, what is stored, where.

Pages never point a visitor's browser at another server (that would tell it who reads what, and
from where). A remote actor's avatar or a replicated item's cover is shown under a local URL
named after the SHA-256 of the remote URL: `/images-distantes/<key>`. The name is computed from
the URL alone, so a page needs no query to show it; the route serves the stored copy, or a drawn
placeholder while there is none (not fetched yet, or refused).

Which pictures are wanted is read from the data itself (actors' `icon_url`, replicas' `cover`):
`sync_wanted` adds a row for every new URL and removes the rows (and files) of URLs nothing
shows any more. So an actor's Update with a new icon, or an item's Update with a new cover, is a
new URL: fetched, and the old picture goes, without any hook in the inbox. The fetching itself is
federation/remote_images.py; the checks and the re-encoding are those of uploads (media.prepare).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, event, select
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
        raise InvalidInput("identifiant d'image invalide")
    return Path(directory) / "remote" / key[:2] / key


# ---- what is wanted -----------------------------------------------------------------------------

async def wanted(session: AsyncSession) -> dict[str, tuple[str, str]]:
    """key -> (url, purpose) of every remote picture a page may show now."""
    found: dict[str, tuple[str, str]] = {}
    for (icon,) in await session.execute(select(RemoteActor.icon_url).where(RemoteActor.icon_url.is_not(None))):
        if url := safe_url(icon):
            found[image_key(url)] = (url, "avatar")
    covers = select(StoredObject.cover).where(StoredObject.is_local.is_(False), StoredObject.cover.is_not(None),
                                              StoredObject.deleted_at.is_(None))
    for (cover,) in await session.execute(covers):
        if isinstance(cover, dict) and (url := safe_url(cover.get("url"))):
            found.setdefault(image_key(url), (url, "cover"))
    return found


async def sync_wanted(session: AsyncSession, directory: str | Path) -> tuple[int, int]:
    """Add rows for new pictures, remove those nothing shows any more (their files once the
    caller commits). Returns (added, removed)."""
    want = await wanted(session)
    have = dict((await session.execute(select(RemoteImage.key, RemoteImage.id))).all())
    added = 0
    for key, (url, purpose) in want.items():
        if key not in have and added < MAX_NEW_PER_ROUND:
            session.add(RemoteImage(key=key, url=url, purpose=purpose, state="pending", attempts=0,
                                    next_try_at=utcnow()))
            added += 1
    gone = [key for key in have if key not in want]
    if gone:
        await session.execute(delete(RemoteImage).where(RemoteImage.key.in_(gone)))
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
        raise media.UnsupportedType("pas une image")
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
