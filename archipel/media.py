"""Uploaded images and files: checked from their bytes, images re-encoded, stored on disk.

What a file *is* comes from its bytes only, never from its name or the type the browser declared:
a page renamed `photo.jpg` is not an image. Images (JPEG, PNG, WebP, GIF) are decoded and encoded
again, which is the reliable way to drop their metadata (EXIF with GPS positions, XMP, comments):
the new file holds pixels and nothing else. EXIF orientation is applied first, so the picture
stays upright once the tag is gone. Other files are kept as sent, but only of a few kinds (PDF,
OpenDocument, Office Open XML, UTF-8 text and Markdown); the web layer serves them as downloads.
Text must be named .txt or .md and must not start like HTML, SVG or XML: a page is not a note.

Files live under `directory/<last 2 characters of the id>/<id>`; the id is a ULID, whose first
characters only change every few decades, so the random end spreads the files out.

A file and its row appear together or not at all. The bytes are first written (and synced) as
`<id>.pending`; only once the transaction holding the row commits is the file renamed to `<id>`,
and a rollback removes it. A crash between the two leaves a `.pending` file: if its row was
committed, the file is promoted the first time it is asked for (or by `sweep_pending`); if not,
`sweep_pending` removes it. Files of deleted rows are removed after the commit, the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import unicodedata
import zipfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.errors import InvalidInput
from archipel.ids import is_ulid, new_ulid
from archipel.storage.tables import LocalActor, Media, StoredObject

DEFAULT_MAX_BYTES = 10_000_000
MAX_ALT = 1500
MAX_FILENAME = 100
MULTIPART_ALLOWANCE = 64 * 1024  # room for the multipart envelope and the alt text of an upload
MAX_ATTACHMENTS = 20  # files offered by one item, besides its cover
PENDING = ".pending"
STALE_PENDING_SECONDS = 3600  # an upload is never that long between its write and its commit

_EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
    "application/pdf": "pdf",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "text/plain; charset=utf-8": "txt",
    "text/markdown; charset=utf-8": "md",
}
_OOXML_MAIN_PARTS = {
    "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/presentation.xml": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

class MediaTooLarge(InvalidInput):
    """The upload is over the size limit (the web layer answers 413)."""


class UnsupportedType(InvalidInput):
    """The bytes are none of the accepted kinds of file."""


@dataclass(frozen=True)
class Prepared:
    """What is written to disk and described in the `media` row."""

    kind: str  # image | file
    content_type: str
    data: bytes
    width: int | None = None
    height: int | None = None


# ---- checking and cleaning (pure, CPU-bound: run in a thread) ------------------------------------

def prepare(data: bytes, filename: str = "") -> Prepared:
    """The bytes to store for an upload, or InvalidInput saying why it is refused."""
    if not data:
        raise InvalidInput("Le fichier est vide.")
    # Pillow (~4 MB) is loaded by the first upload, not by every process that serves pages.
    from archipel import images

    image = images.open_image(data)
    if image is not None:
        return Prepared("image", *images.reencode(image))
    content_type = _file_type(data, filename)
    if content_type is None:
        raise UnsupportedType("Type de fichier non accepté : sont acceptés les images JPEG, PNG, WebP, GIF, "
                              "les fichiers PDF, OpenDocument, Word, Excel, PowerPoint, texte et Markdown.")
    return Prepared("file", content_type, data)


def _file_type(data: bytes, filename: str) -> str | None:
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"PK\x03\x04"):
        return _zip_type(data)
    return _text_type(data, filename)


_TEXT_EXTENSIONS = {".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8",
                    ".markdown": "text/markdown; charset=utf-8"}
# What a browser that ignores our headers would take for a page or a picture (WHATWG sniffing).
_MARKUP = re.compile(rb"<(!doctype|html|head|body|script|iframe|svg|\?xml|!--)", re.IGNORECASE)


def _text_type(data: bytes, filename: str) -> str | None:
    """UTF-8 text without NUL, named .txt or .md (the name only chooses between these two: any
    other name means the sender believes it is something else), and not starting like markup."""
    extension = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in _TEXT_EXTENSIONS or b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _MARKUP.match(data.removeprefix(b"\xef\xbb\xbf").lstrip()):
        return None
    return _TEXT_EXTENSIONS[extension]


def _zip_type(data: bytes) -> str | None:
    """OpenDocument (a `mimetype` entry first) or Office Open XML (its content types and main part).
    Only the list of entries and one tiny entry are read: nothing is unpacked."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            names = {entry.filename for entry in entries}
            if entries and entries[0].filename == "mimetype" and entries[0].file_size <= 100:
                declared = archive.read("mimetype").decode("ascii", "replace").strip()
                if _EXTENSIONS.get(declared) in ("odt", "ods", "odp"):
                    return declared
                return None
            if "[Content_Types].xml" in names:
                for part, content_type in _OOXML_MAIN_PARTS.items():
                    if part in names:
                        return content_type
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
        return None
    return None


def clean_filename(filename: str, content_type: str) -> str:
    """A name safe in a URL and a header: ASCII letters, digits, `.-_`, the right extension."""
    # Some clients (aiohttp's among them) percent-encode the name; browsers send it as UTF-8.
    name = re.split(r"[\\/]", unquote(filename or ""))[-1]
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")[: MAX_FILENAME - 10] or "fichier"
    return f"{stem}.{_EXTENSIONS[content_type]}"


# ---- storage ------------------------------------------------------------------------------------

def media_path(directory: str | Path, media_id: str) -> Path:
    if not is_ulid(media_id):
        raise InvalidInput("Identifiant de média invalide.")
    return Path(directory) / media_id[-2:] / media_id


def media_url(base_url: str, media: Media) -> str:
    return f"{base_url.rstrip('/')}/media/{media.id}/{media.filename}"


def media_id_in(base_url: str, url: str) -> str | None:
    """The id of one of this island's media from its URL (None for any other URL)."""
    prefix = f"{base_url.rstrip('/')}/media/"
    if not (url or "").startswith(prefix):
        return None
    media_id = url[len(prefix):].split("/", 1)[0]
    return media_id if is_ulid(media_id) else None


def _pending(path: Path) -> Path:
    return path.with_name(path.name + PENDING)


def _write_pending(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(_pending(path), "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


# Files waiting for the end of a session's transaction: promoted (or deleted) when it commits,
# removed (or kept) when it rolls back. Sync callbacks: renaming a file is quick.
_TO_PROMOTE = "archipel.media.to_promote"
_TO_DELETE = "archipel.media.to_delete"


def _watch(session: AsyncSession) -> dict:
    info = session.sync_session.info
    if _TO_PROMOTE not in info:
        info[_TO_PROMOTE], info[_TO_DELETE] = [], []
        event.listen(session.sync_session, "after_commit", _after_commit)
        event.listen(session.sync_session, "after_transaction_end", _after_transaction_end)
    return info


def _after_commit(sync_session) -> None:
    info = sync_session.info
    for path in info[_TO_PROMOTE]:
        try:
            os.replace(_pending(path), path)
        except FileNotFoundError:  # promoted already by a reader
            pass
    for path in info[_TO_DELETE]:
        _remove(path)
    info[_TO_PROMOTE].clear()
    info[_TO_DELETE].clear()


def _after_transaction_end(sync_session, transaction) -> None:
    if transaction.parent is not None:  # a savepoint: the outer transaction decides
        return
    info = sync_session.info
    for path in info[_TO_PROMOTE]:  # still there: the transaction did not commit
        _remove(_pending(path))
    info[_TO_PROMOTE].clear()
    info[_TO_DELETE].clear()


def check_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise MediaTooLarge("Fichier trop gros : %(limit)s Mo au plus.", limit=f"{max_bytes / 1_000_000:g}")


async def store_prepared(session: AsyncSession, directory: str | Path, owner: LocalActor, filename: str,
                         prepared: Prepared, alt: str = "") -> Media:
    """Write checked bytes (as pending) and add their row; the file is kept only if the caller commits."""
    info = _watch(session)
    media_id = new_ulid()
    path = media_path(directory, media_id)
    await asyncio.to_thread(_write_pending, path, prepared.data)
    info[_TO_PROMOTE].append(path)
    media = Media(
        id=media_id, owner_id=owner.id, kind=prepared.kind, content_type=prepared.content_type,
        filename=clean_filename(filename, prepared.content_type), size=len(prepared.data),
        sha256=hashlib.sha256(prepared.data).hexdigest(), width=prepared.width,
        height=prepared.height, alt=" ".join((alt or "").split())[:MAX_ALT],
    )
    session.add(media)
    await session.flush()
    return media


async def store_upload(session: AsyncSession, directory: str | Path, owner: LocalActor, filename: str,
                       data: bytes, declared_type: str = "", alt: str = "", *,
                       max_bytes: int = DEFAULT_MAX_BYTES) -> Media:
    """Check, clean and store one upload; the row is flushed, the caller commits.

    `declared_type` (what the browser said) is not believed: the bytes decide."""
    del declared_type
    check_size(data, max_bytes)
    prepared = await asyncio.to_thread(prepare, data, filename or "")
    return await store_prepared(session, directory, owner, filename, prepared, alt)


async def delete_media(session: AsyncSession, directory: str | Path, media: Media) -> None:
    """Delete the row now and its file once the transaction commits."""
    _watch(session)[_TO_DELETE].append(media_path(directory, media.id))
    await session.delete(media)
    await session.flush()


def existing_file(directory: str | Path, media: Media) -> Path | None:
    """The file of a row read from the database, promoting a pending one: the row proves its
    transaction committed, and only a crash right after the commit leaves it pending."""
    path = media_path(directory, media.id)
    if path.is_file():
        return path
    try:
        os.replace(_pending(path), path)
    except FileNotFoundError:
        return None
    return path


async def sweep_pending(session: AsyncSession, directory: str | Path, *,
                        older_than: float = STALE_PENDING_SECONDS) -> tuple[int, int]:
    """After a crash: promote the pending files whose row exists, remove the others.
    Only files older than `older_than` seconds are looked at (younger ones may be in a
    transaction right now). Returns (promoted, removed)."""
    root = Path(directory)
    if not root.is_dir():
        return 0, 0
    limit = time.time() - older_than
    found = await asyncio.to_thread(lambda: [p for p in root.glob(f"*/*{PENDING}")
                                             if p.is_file() and p.stat().st_mtime < limit])
    by_id = {p.name.removesuffix(PENDING): p for p in found if is_ulid(p.name.removesuffix(PENDING))}
    known = set(await session.scalars(select(Media.id).where(Media.id.in_(list(by_id))))) if by_id else set()
    promoted = removed = 0
    for media_id, pending in by_id.items():
        if media_id in known:
            os.replace(pending, pending.with_name(media_id))
            promoted += 1
        else:
            _remove(pending)
            removed += 1
    return promoted, removed


async def get_media(session: AsyncSession, media_id: str) -> Media | None:
    if not is_ulid(media_id):
        return None
    return await session.get(Media, media_id)


async def attach(session: AsyncSession, media: Media, item: StoredObject) -> Media:
    """Link an upload to the item it illustrates (its cover, or a file it offers)."""
    if not item.is_local:
        raise InvalidInput("Un média ne peut illustrer qu'un contenu de cette île.")
    if media.object_id is not None and media.object_id != item.id:
        raise InvalidInput("Ce média illustre déjà un autre contenu.")
    media.object_id = item.id
    await session.flush()
    return media


async def media_of(session: AsyncSession, item: StoredObject) -> list[Media]:
    """Everything attached to an item (its cover included), oldest first."""
    return list(await session.scalars(select(Media).where(Media.object_id == item.id)
                                      .order_by(Media.created_at, Media.id)))


async def cover_and_attachments(session: AsyncSession, base_url: str,
                                item: StoredObject) -> tuple[Media | None, list[Media]]:
    """The media row of the item's cover (when it is one of ours) and the files it offers."""
    cover_id = media_id_in(base_url, (item.cover or {}).get("url", ""))
    attached = await media_of(session, item)
    cover = next((media for media in attached if media.id == cover_id), None)
    return cover, [media for media in attached if media is not cover]
