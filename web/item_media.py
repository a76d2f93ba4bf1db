"""The cover image and attached files of the item form: read from the posted form, checked,
stored with the item, and described for the pages.

Everything is checked before anything is written: the bytes of every file (archipel.media.prepare,
in a thread), the size limit, the alt text of a cover. Only then does the route open its
transaction and call `store`; the files written there are kept only if that transaction commits
(archipel.media keeps them pending until then), so a refused item leaves neither rows nor files.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web
from babel.numbers import format_decimal

from archipel import media as media_store
from sqlalchemy import select

from archipel.errors import InvalidInput
from archipel.ids import is_ulid
from archipel.storage.tables import LocalActor, Media, StoredObject
from web import words
from web.i18n import gettext

MAX_COVER_ALT = 500  # what content keeps of a cover's text alternative
COVER_FIELD = "cover_file"
ATTACHMENTS_FIELD = "attachment_files"
REMOVE_FIELD = "attachment_remove"
# Files chosen in an earlier round of the form (a preview, a form sent back with errors, a file
# the editor script uploaded as soon as it was chosen): stored as media attached to nothing yet,
# and carried by id, so that nothing the author chose has to be chosen again.
PENDING_COVER_FIELD = "pending_cover"
PENDING_ATTACHMENTS_FIELD = "pending_attachment"
IMAGE_ACCEPT = "image/jpeg,image/png,image/webp,image/gif"
FILE_ACCEPT = (".pdf,.odt,.ods,.odp,.docx,.xlsx,.pptx,.txt,.md,.jpg,.jpeg,.png,.webp,.gif,"
               "application/pdf,image/jpeg,image/png,image/webp,image/gif")


@dataclass(frozen=True)
class Upload:
    filename: str
    prepared: media_store.Prepared


@dataclass
class MediaChanges:
    """What the posted form asks for the item's media, once checked."""

    cover: Upload | None = None
    cover_alt: str = ""
    remove_cover: bool = False
    attachments: list[Upload] = field(default_factory=list)
    remove_ids: list[str] = field(default_factory=list)
    files_sent: bool = False  # files came with this post
    pending_cover: Media | None = None  # chosen earlier, stored, attached to nothing yet
    pending_attachments: list[Media] = field(default_factory=list)

    @property
    def has_cover(self) -> bool:
        return self.cover is not None or self.pending_cover is not None


def _files(post, name: str) -> list[web.FileField]:
    return [value for value in post.getall(name, []) if isinstance(value, web.FileField) and value.filename]


def _read(upload: web.FileField, limit: int) -> bytes:
    try:
        return upload.file.read(limit + 1)
    finally:
        upload.file.close()


def _size(lang: str, size: int) -> str:
    if size < 1000:
        return gettext(lang, "%(size)s octets") % {"size": size}
    if size < 1_000_000:
        return gettext(lang, "%(size)s ko") % {"size": format_decimal(round(size / 1000), locale=lang)}
    return gettext(lang, "%(size)s Mo") % {"size": format_decimal(round(size / 1_000_000, 1), locale=lang)}


def _display_name(filename: str) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return name[:100]


def check_bytes(data: bytes, filename: str, lang: str, limit: int, *, image_only: bool) -> Upload | str:
    """The checked file, or the message saying why it is refused: the one check of the item form
    and of `archipel publish`. CPU-bound (images are decoded): run it in a thread."""
    name = _display_name(filename)
    if len(data) > limit:
        return gettext(lang, "« %(name)s » est trop gros : %(max)s au plus par fichier.") % {
            "name": name, "max": _size(lang, limit)}
    try:
        prepared = media_store.prepare(data, filename or "")
    except media_store.UnsupportedType:
        if image_only:
            return gettext(lang, "« %(name)s » n'est pas une image JPEG, PNG, WebP ou GIF lisible.") % {"name": name}
        return gettext(lang, "« %(name)s » : ce type de fichier n'est pas accepté. Fichiers acceptés : images JPEG, "
                             "PNG, WebP, GIF ; PDF ; documents OpenDocument ou Word, Excel, PowerPoint ; texte (.txt, "
                             ".md).") % {"name": name}
    except InvalidInput as error:  # an image that cannot be read, an empty file...
        return gettext(lang, "« %(name)s » est refusé. %(reason)s") % {"name": name,
                                                                       "reason": words.failure(lang, error)}
    if image_only and prepared.kind != "image":
        return gettext(lang, "« %(name)s » n'est pas une image JPEG, PNG, WebP ou GIF lisible.") % {"name": name}
    return Upload(filename or "", prepared)


async def _check_file(upload: web.FileField, lang: str, limit: int, *, image_only: bool) -> Upload | str:
    """The checked upload, or the message saying why it is refused."""
    data = await asyncio.to_thread(_read, upload, limit)
    return await asyncio.to_thread(check_bytes, data, upload.filename or "", lang, limit, image_only=image_only)


def cover_alt_problem(lang: str, alt: str, *, needed: bool) -> str | None:
    """Why a cover's text alternative is refused (missing or too long), or None."""
    if needed and not alt:
        return gettext(lang, "Décrivez l'image de couverture en quelques mots (texte "
                             "alternatif) : il est lu à qui ne la voit pas.")
    if len(alt) > MAX_COVER_ALT:
        return gettext(lang, "Le texte alternatif dépasse %(max)s caractères.") % {"max": MAX_COVER_ALT}
    return None


def too_many_attachments(lang: str, count: int) -> str | None:
    if count > media_store.MAX_ATTACHMENTS:
        return gettext(lang, "Pas plus de %(max)s fichiers joints par élément.") % {"max": media_store.MAX_ATTACHMENTS}
    return None


async def read_pending(session, post, owner: LocalActor) -> tuple[Media | None, list[Media]]:
    """The files carried by id in the posted form: only the poster's own uploads that are attached
    to nothing, a cover only if it is an image; any other id is ignored."""
    def ids(name: str) -> list[str]:
        return [value for value in post.getall(name, [])[:media_store.MAX_ATTACHMENTS + 1]
                if isinstance(value, str) and is_ulid(value)]
    cover_ids, attachment_ids = ids(PENDING_COVER_FIELD)[:1], list(dict.fromkeys(ids(PENDING_ATTACHMENTS_FIELD)))
    wanted = set(cover_ids) | set(attachment_ids)
    if not wanted:
        return None, []
    rows = {media.id: media for media in await session.scalars(
        select(Media).where(Media.id.in_(wanted), Media.owner_id == owner.id, Media.object_id.is_(None)))}
    cover = rows.get(cover_ids[0]) if cover_ids else None
    if cover is not None and cover.kind != "image":
        cover = None
    return cover, [rows[media_id] for media_id in attachment_ids if media_id in rows and rows[media_id] is not cover]


async def read(post, lang: str, *, limit: int, cover: dict | None, attachments: list[Media],
               errors: dict, pending: tuple[Media | None, list[Media]] = (None, [])) -> MediaChanges:
    """The checked media changes of a posted form; every problem goes into `errors` by field."""
    changes = MediaChanges()
    changes.pending_cover, changes.pending_attachments = pending[0], list(pending[1])
    cover_files = _files(post, COVER_FIELD)
    attachment_files = _files(post, ATTACHMENTS_FIELD)
    changes.files_sent = bool(cover_files or attachment_files)
    alt = post.get("cover_alt")
    changes.cover_alt = " ".join(alt.split()) if isinstance(alt, str) else ""
    changes.remove_cover = post.get("cover_remove") == "yes" and not cover_files
    known = {media.id for media in attachments}
    changes.remove_ids = [value for value in post.getall(REMOVE_FIELD, []) if value in known]

    if cover_files:
        checked = await _check_file(cover_files[0], lang, limit, image_only=True)
        if isinstance(checked, str):
            errors.setdefault(COVER_FIELD, checked)
        else:
            changes.cover = checked
    if changes.cover is not None:
        changes.pending_cover = None  # a newly chosen cover replaces the one chosen before
    needs_alt = (bool(cover_files) or changes.pending_cover is not None
                 or (cover is not None and not changes.remove_cover))
    problem = cover_alt_problem(lang, changes.cover_alt, needed=needs_alt)
    if problem:
        errors.setdefault("cover_alt", problem)

    refused = []
    for upload in attachment_files:
        checked = await _check_file(upload, lang, limit, image_only=False)
        if isinstance(checked, str):
            refused.append(checked)
        else:
            changes.attachments.append(checked)
    if refused:
        errors.setdefault(ATTACHMENTS_FIELD, " ".join(refused))
    else:
        problem = too_many_attachments(lang, len(attachments) - len(changes.remove_ids) + len(attachment_files)
                                       + len(changes.pending_attachments))
        if problem:
            errors.setdefault(ATTACHMENTS_FIELD, problem)
    return changes


@dataclass
class Stored:
    cover: Media | None = None
    attachments: list[Media] = field(default_factory=list)


async def store(session, directory, owner: LocalActor, changes: MediaChanges) -> Stored:
    """Write the checked files (pending until the caller commits) and their rows; the files chosen
    in an earlier round come first, as they are."""
    stored = Stored(changes.pending_cover, list(changes.pending_attachments))
    if stored.cover is not None:
        stored.cover.alt = changes.cover_alt[:media_store.MAX_ALT]
    if changes.cover is not None:
        stored.cover = await media_store.store_prepared(session, directory, owner, changes.cover.filename,
                                                        changes.cover.prepared, changes.cover_alt)
    for upload in changes.attachments:
        stored.attachments.append(await media_store.store_prepared(session, directory, owner, upload.filename,
                                                                   upload.prepared))
    return stored


async def keep(session, directory, owner: LocalActor, changes: MediaChanges) -> None:
    """The form goes back to its author (a preview, errors): store the files that passed their
    checks now, attached to nothing, and carry them by id (the caller commits)."""
    if not (changes.cover or changes.attachments):
        return
    stored = await store(session, directory, owner, changes)
    changes.pending_cover, changes.pending_attachments = stored.cover, stored.attachments
    changes.cover, changes.attachments = None, []


def cover_value(base_url: str, media: Media, alt: str) -> dict:
    return {"url": media_store.media_url(base_url, media), "name": alt, "mediaType": media.content_type}


def files_value(base_url: str, attachments: list[Media]) -> list[dict]:
    """The item's `files` field: its attachments by URL, so that they federate with it."""
    return [{"url": media_store.media_url(base_url, media), "name": media.filename,
             "mediaType": media.content_type, "size": media.size} for media in attachments]


async def attach(session, item: StoredObject, stored: Stored) -> None:
    for media in ([stored.cover] if stored.cover else []) + stored.attachments:
        await media_store.attach(session, media, item)


async def cover_change(session, directory, base_url: str, item: StoredObject, old_cover: Media | None,
                       changes: MediaChanges, stored: Stored) -> dict:
    """The `cover` argument of edit_item ({} when the cover stays as it is); a replaced or removed
    cover's file is deleted with the commit."""
    if stored.cover is not None or changes.remove_cover:
        if old_cover is not None:
            await media_store.delete_media(session, directory, old_cover)
        return {"cover": cover_value(base_url, stored.cover, changes.cover_alt) if stored.cover else None}
    if item.cover and changes.cover_alt and changes.cover_alt != item.cover.get("name"):
        if old_cover is not None:
            old_cover.alt = changes.cover_alt
        return {"cover": {**item.cover, "name": changes.cover_alt}}
    return {}


async def remove_attachments(session, directory, attachments: list[Media], ids: list[str]) -> None:
    for media in attachments:
        if media.id in ids:
            await media_store.delete_media(session, directory, media)


# ---- for the pages -------------------------------------------------------------------------

def type_label(lang: str, content_type: str) -> str:
    labels = {
        "image/jpeg": gettext(lang, "Image JPEG"), "image/png": gettext(lang, "Image PNG"),
        "image/webp": gettext(lang, "Image WebP"), "image/gif": gettext(lang, "Image GIF"),
        "application/pdf": gettext(lang, "Document PDF"),
        "application/vnd.oasis.opendocument.text": gettext(lang, "Texte OpenDocument"),
        "application/vnd.oasis.opendocument.spreadsheet": gettext(lang, "Tableur OpenDocument"),
        "application/vnd.oasis.opendocument.presentation": gettext(lang, "Présentation OpenDocument"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": gettext(lang, "Document Word"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": gettext(lang, "Classeur Excel"),
        "application/vnd.openxmlformats-officedocument.presentationml.presentation":
            gettext(lang, "Présentation PowerPoint"),
        "text/plain; charset=utf-8": gettext(lang, "Texte"),
        "text/markdown; charset=utf-8": gettext(lang, "Texte Markdown"),
    }
    return labels.get(content_type, content_type)


def describe(lang: str, base_url: str, media: Media) -> dict:
    """What a page shows of a file: its link, name, type and size."""
    return {"id": media.id, "url": media_store.media_url(base_url, media), "name": media.filename,
            "type": type_label(lang, media.content_type), "size": _size(lang, media.size)}


async def listed(session, lang: str, base_url: str, item: StoredObject) -> list[dict]:
    """The files an item offers (its cover aside), described for a page: ours from their rows,
    another island's from the item's `files` field (links to the origin)."""
    if not item.is_local:
        return [{"id": "", "url": entry["url"], "name": entry.get("name") or entry["url"],
                 "type": type_label(lang, entry.get("mediaType") or ""),
                 "size": _size(lang, entry["size"]) if isinstance(entry.get("size"), int) else ""}
                for entry in (item.fields or {}).get("files") or [] if isinstance(entry, dict) and entry.get("url")]
    _cover, attachments = await media_store.cover_and_attachments(session, base_url, item)
    return [describe(lang, base_url, media) for media in attachments]


def limit_text(lang: str, limit: int) -> str:
    return _size(lang, limit)


def request_limit(settings) -> int:
    """The largest body the island reads (web.app sets it): all the files of one form together."""
    return max(settings.max_body_bytes, settings.max_upload_bytes + media_store.MULTIPART_ALLOWANCE)
