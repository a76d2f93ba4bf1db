"""Writing on the island: one's space, the item form (create, edit, archive, withdraw), the live
preview, the drafts saved while writing, and the public history of an item with word diffs and
the restore of an earlier version.

Every change goes through federation.actions, which writes the outgoing activity in the same
transaction; a form with any error writes nothing to the item (everything is checked before the
first write, and a refusal from the domain rolls the whole transaction back). The form is
multipart: the cover image and attached files come with it (web.item_media), checked with the
rest. When the form goes back to its author (a preview, errors), the files that passed their
checks are stored attached to nothing and carried by id, so that nothing chosen is chosen twice;
the item's save attaches them. Nothing typed is lost either: the editor script saves the form as
a draft (archipel.drafts) every few seconds, and the form opens with it on any device.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from markupsafe import Markup
from multidict import MultiDict
from sqlalchemy import func, or_, select

from archipel import content, drafts, fiches, naming, revisions
from archipel import media as media_store
from archipel.accounts import find_actor
from archipel.errors import Forbidden, InvalidInput, NotFound
from archipel.identity import actor_uri, object_uri
from archipel.ids import is_ulid
from archipel.storage.tables import ItemAuthor, LocalActor, StoredObject
from federation import actions
from web.wake import deliveries_queued
from web import appkeys, auth, forms, item_media, words
from web.auth import CurrentUser
from web.i18n import gettext, negotiate_language
from web.pages import page, page_url, render
from web.routes.map import map_headers
from web.params import path_int

routes = web.RouteTableDef()

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"  # editor.js, editor.css
FEDERATED = ("published", "archived")
LIST_LIMIT = 500


def _base(request: web.Request) -> str:
    return request.app[appkeys.SETTINGS].url.rstrip("/")


def _lang(request: web.Request) -> str:
    return negotiate_language(request)


@dataclass(frozen=True)
class ItemInfo:
    """What the pages need of an item, read once (it stays usable after a rollback)."""

    uri: str
    ulid: str
    kind: str
    state: str
    name: str
    language: str
    local_author_id: int | None
    based_on: str | None

    @property
    def federated(self) -> bool:
        return self.state in FEDERATED

    @property
    def edit_url(self) -> str:
        return f"/espace/items/{self.ulid}/modifier"

    @classmethod
    def of(cls, item: StoredObject) -> ItemInfo:
        origin = item.based_on if (item.based_on or "").startswith(("https://", "http://")) else None
        return cls(item.uri, item.uri.rsplit("/", 1)[-1], item.kind, item.state, item.name, item.language,
                   item.local_author_id, origin)


def _labels(lang: str) -> dict:
    return {"sections": forms.section_labels(lang), "kind_names": forms.kind_labels(lang),
            "state_names": forms.state_labels(lang), "formats": forms.format_labels(lang),
            "licences": {code: label for code, (label, _) in fiches.LICENCES.items()},
            "item_languages": forms.ITEM_LANGUAGES}


async def _can_edit(session, request: web.Request, user: CurrentUser | None, item: StoredObject) -> bool:
    if user is None:
        return False
    if user.has_role("moderator"):
        return True
    return actor_uri(_base(request), user.username) in await content.authors_of(session, item)


async def _find(session, request: web.Request) -> StoredObject:
    ulid = request.match_info["ulid"]
    if not is_ulid(ulid):
        raise web.HTTPNotFound(text="no such item")
    item = await content.find_object(session, object_uri(_base(request), ulid))
    if item is None:
        raise web.HTTPNotFound(text="no such item")
    return item


async def _blocked(request: web.Request, message: str, status: int = 403) -> web.Response:
    return await page(request, "item_form.html", status=status, blocked=message, **_labels(_lang(request)))


async def _editable(session, request: web.Request, user: CurrentUser) -> StoredObject | web.Response:
    """The item, or the page that says why it cannot be edited."""
    lang = _lang(request)
    item = await _find(session, request)
    if not item.is_local:
        return await _blocked(request, gettext(lang, "Cet élément vient d'une autre île : il ne peut être "
                                                     "modifié que là-bas. Vous pouvez le réutiliser dans "
                                                     "une nouvelle fiche."))
    if item.deleted_at is not None:
        return await _blocked(request, gettext(lang, "Cet élément a été retiré : il ne peut plus être modifié."),
                              status=410)
    if not await _can_edit(session, request, user, item):
        return await _blocked(request, gettext(lang, "Seul·es les auteur·ices de cet élément et l'équipe de "
                                                     "modération de l'île peuvent le modifier."))
    return item


def _username_of(request: web.Request, uri: str) -> str:
    prefix = f"{_base(request)}/users/"
    return uri.removeprefix(prefix) if uri.startswith(prefix) else uri


async def _coauthors(session, request, lang: str, usernames: list[str], first_author: str,
                     errors: dict) -> list[str]:
    """Actor URIs of the co-authors (local people); unknown names go into `errors`."""
    uris = []
    for username in usernames:
        actor = await find_actor(session, username)
        if actor is None or actor.kind != "person":
            errors.setdefault("coauthors", gettext(lang, "« %(name)s » n'est pas un·e utilisateur·ice de cette "
                                                         "île.") % {"name": username})
            continue
        uri = actor_uri(_base(request), actor.username)
        if uri != first_author and uri not in uris:
            uris.append(uri)
    return uris


@dataclass(frozen=True)
class Shown:
    """The cover and files the preview shows: the item's own, minus those ticked for removal,
    plus those chosen and not saved yet."""

    cover_url: str | None = None
    cover_alt: str = ""
    files: tuple[str, ...] = ()


def _media_fragment(lang: str, themes: list[str], shown: Shown) -> str:
    parts = []
    if shown.cover_url:
        parts.append(f'<img src="{html.escape(shown.cover_url)}" alt="{html.escape(shown.cover_alt)}" '
                     f'class="cover-thumbnail preview-cover">')
    if themes:
        tags = ", ".join(f'<span class="tag">{html.escape(theme)}</span>' for theme in themes)
        parts.append(f'<p class="preview-themes">{html.escape(gettext(lang, "Thèmes :"))} {tags}</p>')
    if shown.files:
        names = "".join(f"<li>{html.escape(name)}</li>" for name in shown.files)
        parts.append(f'<p class="preview-files-heading">{html.escape(gettext(lang, "Fichiers joints"))}</p>'
                     f'<ul class="preview-files">{names}</ul>')
    return "".join(parts)


def _preview_fragment(lang: str, kind: str, values: forms.FormValues, shown: Shown = Shown()) -> Markup:
    """Title, summary, cover, themes, body and files as the published page will show them (all
    escaped or sanitised)."""
    if not values["title"]:
        values = forms.FormValues(values.kind, {**values.texts, "title": gettext(lang, "Sans titre")},
                                  values.holders)
    parsed, errors = forms.parse(values, lang, known_language=values["language"])
    if parsed is None:
        messages = "".join(f"<li>{html.escape(message)}</li>" for message in errors.values())
        # Outside the f-string: message extraction does not read inside one.
        heading = gettext(lang, "Corrigez ces erreurs pour voir l’aperçu :")
        return Markup(f"<p>{html.escape(heading)}</p><ul>{messages}</ul>")
    try:
        body = forms.preview(kind, parsed, lang)
    except InvalidInput as error:
        return Markup(f"<p>{html.escape(words.failure(lang, error))}</p>")
    except ValueError as error:
        return Markup(f"<p>{html.escape(str(error))}</p>")
    summary = f"<p><strong>{html.escape(parsed.summary)}</strong></p>" if parsed.summary else ""
    return Markup(f'<p class="preview-title">{html.escape(parsed.title)}</p>{summary}'
                  f'{_media_fragment(lang, parsed.tags, shown)}'
                  f'<div class="preview-body" lang="{html.escape(parsed.language)}">{body}</div>')


@dataclass(frozen=True)
class CurrentMedia:
    """An item's cover and files, as the form shows them."""

    cover: dict | None
    cover_file: dict | None  # the cover's own upload, when it is one
    attachments: list[dict]

    @classmethod
    async def of(cls, session, request: web.Request, item: StoredObject) -> CurrentMedia:
        lang, base = _lang(request), _base(request)
        cover, attachments = await media_store.cover_and_attachments(session, base, item)
        return cls(item.cover, item_media.describe(lang, base, cover) if cover else None,
                   [item_media.describe(lang, base, media) for media in attachments])


NO_MEDIA = CurrentMedia(None, None, [])


@dataclass(frozen=True)
class PendingMedia:
    """Files chosen in an earlier round of the form, stored and carried by id (web.item_media)."""

    cover: dict | None = None
    attachments: tuple[dict, ...] = ()

    @classmethod
    def of(cls, request: web.Request, changes: item_media.MediaChanges) -> PendingMedia:
        lang, base = _lang(request), _base(request)
        cover = item_media.describe(lang, base, changes.pending_cover) if changes.pending_cover else None
        return cls(cover, tuple(item_media.describe(lang, base, media) for media in changes.pending_attachments))


NO_PENDING = PendingMedia()


def _shown(values: forms.FormValues, media: CurrentMedia, pending: PendingMedia) -> Shown:
    alt = values["cover_alt"]
    if pending.cover:
        cover_url = pending.cover["url"]
    elif media.cover and values["cover_remove"] != "yes":
        cover_url, alt = media.cover.get("url"), alt or media.cover.get("name") or ""
    else:
        cover_url = None
    files = [file["name"] for file in media.attachments if file["id"] not in values.removed]
    return Shown(cover_url, alt, tuple(files + [file["name"] for file in pending.attachments]))


async def _form_page(request: web.Request, *, values: forms.FormValues, info: ItemInfo | None = None,
                     errors: dict | None = None, status: int = 200, done: str | None = None,
                     withdraw_error: str | None = None, media: CurrentMedia = NO_MEDIA,
                     files_dropped: bool = False, pending: PendingMedia = NO_PENDING,
                     restored=None) -> web.Response:
    lang = _lang(request)
    settings = request.app[appkeys.SETTINGS]
    errors = dict(errors or {})
    general = [errors.pop("")] if "" in errors else []
    if info is None:
        action = f"/espace/nouveau?kind={values.kind}"
        state_options = []
        draft_key = drafts.new_key(values.kind) if values.kind in drafts.NEW_KINDS else None
    else:
        action = info.edit_url
        state_options = list(FEDERATED) if info.federated else list(fiches.STATES)
        draft_key = info.ulid
    origin = None
    if info is not None and info.based_on:  # « Adaptation de <its title> », not its address
        async with request.app[appkeys.SESSIONS]() as session:
            found = await content.find_object(session, info.based_on)
            origin = {"name": found.name, "url": page_url(found)} if found is not None else None
    return await page(
        request, "item_form.html", status=status, values=values, kind=values.kind, info=info, errors=errors,
        general=general, action=action, state_options=state_options, done=done, withdraw_error=withdraw_error,
        preview=_preview_fragment(lang, values.kind, values, _shown(values, media, pending)),
        section_field=forms.section_field, holder_field=forms.holder_field, media=media, pending=pending,
        files_dropped=files_dropped, draft_key=draft_key, restored=restored, origin=origin,
        upload_limit=item_media.limit_text(lang, settings.max_upload_bytes),
        upload_limit_bytes=settings.max_upload_bytes, request_limit_bytes=item_media.request_limit(settings),
        image_accept=item_media.IMAGE_ACCEPT, file_accept=item_media.FILE_ACCEPT,
        max_attachments=media_store.MAX_ATTACHMENTS, time_zones=forms.TIME_ZONES, **map_headers(settings),
        **_labels(lang))


# ---- one's space ---------------------------------------------------------------------------

@routes.get("/espace")
async def espace(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    everyone = user.has_role("moderator")
    query = select(StoredObject).where(StoredObject.is_local.is_(True), StoredObject.deleted_at.is_(None),
                                       StoredObject.in_reply_to.is_(None))
    if not everyone:
        mine = select(ItemAuthor.object_id).where(ItemAuthor.actor_uri == actor_uri(_base(request), user.username))
        query = query.where(or_(StoredObject.id.in_(mine), StoredObject.local_author_id == user.actor.id))
    query = query.order_by(func.coalesce(StoredObject.updated, StoredObject.published).desc(),
                           StoredObject.id.desc()).limit(LIST_LIMIT)
    async with request.app[appkeys.SESSIONS]() as session:
        items = list(await session.scalars(query))
        author_ids = {item.local_author_id for item in items if item.local_author_id}
        authors = {actor.id: actor.display_name for actor in await session.scalars(
            select(LocalActor).where(LocalActor.id.in_(author_ids)))} if author_ids else {}
    return await page(request, "espace.html", items=[(ItemInfo.of(item), item) for item in items],
                      everyone=everyone, authors=authors, done=request.query.get("done"),
                      **_labels(_lang(request)))


# ---- creating ------------------------------------------------------------------------------

def _new_kind(request: web.Request) -> str:
    kind = request.query.get("kind", "fiche")
    if kind not in forms.FORM_KINDS:
        raise web.HTTPBadRequest(text="kind must be fiche, resource or event")
    return kind


async def _restored(session, request: web.Request, user: CurrentUser, key: str):
    """(the saved draft's values as a post, its pending media, when it was saved) or None."""
    draft = await drafts.find(session, user.user_id, key)
    if draft is None:
        return None
    post = MultiDict((name, value) for name, values in draft.fields.items() for value in values)
    changes = item_media.MediaChanges()
    changes.pending_cover, changes.pending_attachments = await item_media.read_pending(session, post, user.actor)
    return post, PendingMedia.of(request, changes), draft.updated_at


@routes.get("/espace/nouveau")
async def new_form(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    kind = _new_kind(request)
    async with request.app[appkeys.SESSIONS]() as session:
        draft = await _restored(session, request, user, drafts.new_key(kind))
    if draft is None:
        return await _form_page(request, values=forms.blank(kind))
    post, pending, saved_at = draft
    return await _form_page(request, values=forms.read_post(post, kind), pending=pending, restored=saved_at)


async def _sent_back(session, request: web.Request, user: CurrentUser, changes: item_media.MediaChanges,
                     **form) -> web.Response:
    """The form again (a preview, errors), with the files that passed their checks kept."""
    await item_media.keep(session, request.app[appkeys.SETTINGS].effective_media_directory, user.actor, changes)
    pending = PendingMedia.of(request, changes)
    await session.commit()
    return await _form_page(request, pending=pending, **form)


@routes.post("/espace/nouveau")
async def create(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    lang = _lang(request)
    post = await request.post()
    values = forms.read_post(post, _new_kind(request))
    action = post.get("action") or "draft"
    state = {"draft": "draft", "propose": "proposed", "publish": "published"}.get(action, "draft")
    parsed, errors = forms.parse(values, lang)
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        changes = await item_media.read(post, lang, limit=settings.max_upload_bytes, cover=None, attachments=[],
                                        errors=errors, pending=await item_media.read_pending(session, post,
                                                                                              user.actor))
        if action == "preview" and parsed is None:
            return await _sent_back(session, request, user, changes, values=values, errors=errors)
        me = actor_uri(_base(request), user.username)
        coauthors = await _coauthors(session, request, lang, parsed.coauthors if parsed else
                                     forms.parse_usernames(values), me, errors)
        if errors:
            return await _sent_back(session, request, user, changes, values=values, errors=errors, status=400)
        if action == "preview":
            return await _sent_back(session, request, user, changes, values=values)
        authors = [user.actor] + [await find_actor(session, _username_of(request, uri)) for uri in coauthors]
        earlier = PendingMedia.of(request, changes)  # read now: a rollback would expire the rows
        try:
            stored = await item_media.store(session, settings.effective_media_directory, user.actor, changes)
            cover = item_media.cover_value(_base(request), stored.cover, changes.cover_alt) if stored.cover else None
            arguments = parsed.item_arguments()
            if values.kind in forms.FORM_KINDS:
                arguments["data"] = {**(arguments["data"] or {}),
                                     "files": item_media.files_value(_base(request), stored.attachments)}
            item = await actions.publish_item(session, _base(request), authors, kind=values.kind, state=state,
                                              cover=cover, **arguments)
            await item_media.attach(session, item, stored)
            await drafts.discard(session, user.user_id, drafts.new_key(values.kind))
            info = ItemInfo.of(item)
            await session.commit()
        except (InvalidInput, Forbidden) as error:
            await session.rollback()
            return await _form_page(request, values=values, errors={"": words.failure(lang, error)}, status=400,
                                    files_dropped=changes.files_sent, pending=earlier)
    deliveries_queued(request.app)
    raise web.HTTPSeeOther(f"{info.edit_url}?done={'published' if state == 'published' else 'created'}")


# ---- editing -------------------------------------------------------------------------------

@routes.get("/espace/items/{ulid}/modifier")
async def edit_form(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    async with request.app[appkeys.SESSIONS]() as session:
        item = await _editable(session, request, user)
        if isinstance(item, web.Response):
            return item
        authors = await content.authors_of(session, item)
        values = forms.from_item(item, [_username_of(request, uri) for uri in authors[1:]])
        info = ItemInfo.of(item)
        media = await CurrentMedia.of(session, request, item)
        draft = await _restored(session, request, user, info.ulid)
    if draft is None:
        return await _form_page(request, values=values, info=info, done=request.query.get("done"), media=media)
    post, pending, saved_at = draft
    values = forms.read_post(post, item.kind)
    values.removed = [value for value in post.getall(item_media.REMOVE_FIELD, [])
                      if value in {file["id"] for file in media.attachments}]
    return await _form_page(request, values=values, info=info, media=media, pending=pending, restored=saved_at)


# ---- drafts saved while writing ------------------------------------------------------------

async def _draft_key(session, request: web.Request, user: CurrentUser, post) -> str:
    key = post.get("draft_key")
    if not isinstance(key, str) or not drafts.valid_key(key):
        raise web.HTTPBadRequest(text="unknown form")
    if is_ulid(key):  # only the form of an item one may edit
        item = await content.find_object(session, object_uri(_base(request), key))
        if item is None or not item.is_local or not await _can_edit(session, request, user, item):
            raise web.HTTPNotFound(text="no such item")
    return key


@routes.post("/espace/brouillon")
async def save_draft(request: web.Request) -> web.Response:
    """The editor script's autosave: the whole form, urlencoded (X-CSRF-Token header)."""
    user = await auth.require_user(request)
    if request.content_length is None or request.content_length > drafts.MAX_BYTES * 2:
        raise web.HTTPRequestEntityTooLarge(max_size=drafts.MAX_BYTES * 2,
                                            actual_size=request.content_length or 0)
    post = await request.post()
    try:
        fields = drafts.checked_fields((name, value) for name, value in post.items()
                                       if name not in ("csrf_token", "action", "draft_key"))
    except InvalidInput:
        raise web.HTTPRequestEntityTooLarge(max_size=drafts.MAX_BYTES,
                                            actual_size=request.content_length) from None
    async with request.app[appkeys.SESSIONS]() as session:
        key = await _draft_key(session, request, user, post)
        await drafts.save(session, user.user_id, key, fields)
        await session.commit()
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


@routes.post("/espace/brouillon/abandonner")
async def discard_draft(request: web.Request) -> web.Response:
    """Back to the saved item (or a blank form): the draft goes."""
    user = await auth.require_user(request)
    post = await request.post()
    async with request.app[appkeys.SESSIONS]() as session:
        key = await _draft_key(session, request, user, post)
        await drafts.discard(session, user.user_id, key)
        await session.commit()
    if is_ulid(key):
        raise web.HTTPSeeOther(f"/espace/items/{key}/modifier")
    raise web.HTTPSeeOther(f"/espace/nouveau?kind={key.removeprefix('new-')}")


@routes.post("/espace/items/{ulid}/modifier")
async def edit(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    lang = _lang(request)
    post = await request.post()
    async with request.app[appkeys.SESSIONS]() as session:
        item = await _editable(session, request, user)
        if isinstance(item, web.Response):
            return item
        info = ItemInfo.of(item)
        media = await CurrentMedia.of(session, request, item)
        values = forms.read_post(post, item.kind)
        action = post.get("action") or "save"
        state = "published" if action == "publish" else values["state"] or info.state
        parsed, errors = forms.parse(values, lang, known_language=info.language)
        if state not in fiches.STATES:
            errors["state"] = gettext(lang, "Choisissez un état de la liste.")
        elif info.federated and state not in FEDERATED:
            errors["state"] = gettext(lang, "Un élément déjà publié ne redevient pas un brouillon : "
                                            "archivez-le ou retirez-le.")
        authors = await content.authors_of(session, item)
        coauthors = await _coauthors(session, request, lang, parsed.coauthors if parsed else
                                     forms.parse_usernames(values), authors[0], errors)
        settings = request.app[appkeys.SETTINGS]
        directory = settings.effective_media_directory
        old_cover, attachments = await media_store.cover_and_attachments(session, _base(request), item)
        changes = item_media.MediaChanges()  # an article's form has no file fields
        if item.kind in forms.FORM_KINDS:
            changes = await item_media.read(post, lang, limit=settings.max_upload_bytes, cover=item.cover,
                                            attachments=attachments, errors=errors,
                                            pending=await item_media.read_pending(session, post, user.actor))
        values.removed = changes.remove_ids
        dropped = changes.files_sent
        if errors or action == "preview":
            return await _sent_back(session, request, user, changes, values=values, info=info, errors=errors,
                                    media=media, status=400 if errors and action != "preview" else 200)
        earlier = PendingMedia.of(request, changes)  # read now: a rollback would expire the rows
        try:
            if [authors[0], *coauthors] != authors:
                await content.set_authors(session, item, [authors[0], *coauthors])
            stored = await item_media.store(session, directory, user.actor, changes)
            cover = await item_media.cover_change(session, directory, _base(request), item, old_cover, changes,
                                                  stored)
            await item_media.remove_attachments(session, directory, attachments, changes.remove_ids)
            arguments = parsed.item_arguments()
            if item.kind in forms.FORM_KINDS:
                kept = [media for media in attachments if media.id not in changes.remove_ids]
                arguments["data"] = {**(arguments["data"] or {}),
                                     "files": item_media.files_value(_base(request), kept + stored.attachments)}
            await actions.edit_item(session, _base(request), item, editor=user.actor, state=state,
                                    **cover, **arguments)
            await item_media.attach(session, item, stored)
            await drafts.discard(session, user.user_id, info.ulid)
            await session.commit()
        except (InvalidInput, Forbidden) as error:
            await session.rollback()
            return await _form_page(request, values=values, info=info, errors={"": words.failure(lang, error)},
                                    status=400,
                                    media=media, files_dropped=dropped, pending=earlier)
    deliveries_queued(request.app)
    done = "published" if state == "published" and not info.federated else "saved"
    raise web.HTTPSeeOther(f"{info.edit_url}?done={done}")


@routes.post("/espace/items/{ulid}/retirer")
async def withdraw(request: web.Request) -> web.Response:
    user = await auth.require_user(request)
    post = await request.post()
    async with request.app[appkeys.SESSIONS]() as session:
        item = await _editable(session, request, user)
        if isinstance(item, web.Response):
            return item
        if post.get("confirm") != "yes":
            authors = await content.authors_of(session, item)
            values = forms.from_item(item, [_username_of(request, uri) for uri in authors[1:]])
            return await _form_page(
                request, values=values, info=ItemInfo.of(item), status=400,
                media=await CurrentMedia.of(session, request, item),
                withdraw_error=gettext(_lang(request), "Cochez la case pour confirmer le retrait."))
        # The Delete comes from the first author, who sent the Create.
        author = await session.get(LocalActor, item.local_author_id)
        await actions.withdraw_article(session, _base(request), author, item)
        await session.commit()
    deliveries_queued(request.app)
    raise web.HTTPSeeOther("/espace?done=withdrawn")


# ---- live preview --------------------------------------------------------------------------

@routes.post("/espace/apercu")
async def preview(request: web.Request) -> web.Response:
    """The preview region's content for the posted form (X-CSRF-Token header, or the form's token):
    with the item's own cover and files when the form edits one, and those chosen since."""
    user = await auth.require_user(request)
    post = await request.post()
    kind = post.get("kind")
    if kind not in (*forms.FORM_KINDS, "article"):
        raise web.HTTPBadRequest(text="kind must be fiche, resource or article")
    values = forms.read_post(post, kind)
    values.removed = [value for value in post.getall(item_media.REMOVE_FIELD, []) if isinstance(value, str)]
    media, changes = NO_MEDIA, item_media.MediaChanges()
    async with request.app[appkeys.SESSIONS]() as session:
        ulid = post.get("item")
        if isinstance(ulid, str) and is_ulid(ulid):
            item = await content.find_object(session, object_uri(_base(request), ulid))
            if item is not None and item.is_local and await _can_edit(session, request, user, item):
                media = await CurrentMedia.of(session, request, item)
        changes.pending_cover, changes.pending_attachments = await item_media.read_pending(session, post, user.actor)
        pending = PendingMedia.of(request, changes)
    fragment = _preview_fragment(_lang(request), kind, values, _shown(values, media, pending))
    response = web.Response(text=str(fragment), content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---- history -------------------------------------------------------------------------------

async def _readable(session, request: web.Request) -> StoredObject | web.Response:
    """A local item whose history this visitor may read: everyone for published items."""
    item = await _find(session, request)
    if not item.is_local:
        raise web.HTTPNotFound(text="no such item")
    if item.deleted_at is not None:
        return render(request, "error.html", status=410, error=410)
    if item.state not in FEDERATED and not await _can_edit(session, request, await auth.current_user(request),
                                                            item):
        raise web.HTTPNotFound(text="no such item")
    return item


async def _editor_names(session, request, uris) -> dict[str, str]:
    names = {}
    for uri in set(uris):
        actor = await find_actor(session, _username_of(request, uri)) if uri.startswith(_base(request)) else None
        names[uri] = actor.display_name if actor else naming.handle_guess(uri)  # a handle, never the URL
    return names


@routes.get("/o/{ulid}/historique")
async def history(request: web.Request) -> web.Response:
    async with request.app[appkeys.SESSIONS]() as session:
        item = await _readable(session, request)
        if isinstance(item, web.Response):
            return item
        found = await revisions.history(session, item)
        names = await _editor_names(session, request, [revision.editor_uri for revision in found])
        can_edit = await _can_edit(session, request, await auth.current_user(request), item)
        info = ItemInfo.of(item)
    return await page(request, "history.html", info=info, revisions=found, names=names, can_edit=can_edit,
                      latest=found[0].number if found else None, done=request.query.get("done"),
                      **_labels(_lang(request)))


@routes.post(r"/o/{ulid}/historique/{number:\d{1,9}}/restaurer")
async def restore(request: web.Request) -> web.Response:
    """An earlier version's text becomes the item's text again, as a new revision (followers get
    an Update like for any edit)."""
    user = await auth.require_user(request)
    async with request.app[appkeys.SESSIONS]() as session:
        item = await _editable(session, request, user)
        if isinstance(item, web.Response):
            return item
        try:
            revision = await revisions.get(session, item, path_int(request, "number"))
        except NotFound:
            raise web.HTTPNotFound(text="no such revision") from None
        info = ItemInfo.of(item)
        try:
            await actions.edit_item(session, _base(request), item, editor=user.actor,
                                    **revisions.restored_changes(item, revision))
        except InvalidInput as error:
            await session.rollback()
            raise web.HTTPBadRequest(text=words.failure(_lang(request), error)) from None
        await drafts.discard(session, user.user_id, info.ulid)  # the form shows the restored text
        await session.commit()
    deliveries_queued(request.app)
    raise web.HTTPSeeOther(f"/o/{info.ulid}/historique?done=restored")


@routes.get(r"/o/{ulid}/historique/{a:\d{1,9}}/{b:\d{1,9}}")
async def revision_diff(request: web.Request) -> web.Response:
    lang = _lang(request)
    async with request.app[appkeys.SESSIONS]() as session:
        item = await _readable(session, request)
        if isinstance(item, web.Response):
            return item
        try:
            old = await revisions.get(session, item, path_int(request, "a"))
            new = await revisions.get(session, item, path_int(request, "b"))
        except NotFound:
            raise web.HTTPNotFound(text="no such revision") from None
        names = await _editor_names(session, request, [old.editor_uri, new.editor_uri])
        can_restore = await _can_edit(session, request, await auth.current_user(request), item)
        info = ItemInfo.of(item)
    changes = [(forms.diff_label(lang, change.label), change.lines)
               for change in revisions.word_diff(old.snapshot, new.snapshot, words.written_value(lang))]
    return await page(request, "diff.html", info=info, old=old, new=new, names=names, changes=changes,
                      can_restore=can_restore, **_labels(lang))
