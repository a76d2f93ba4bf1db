"""The public proposal form (no account needed), and the proposer's private status page.

Protection without friction: a honeypot field, size and link limits, a rate limit per client
address (the real one behind a trusted reverse proxy: web/middleware.py), the CSRF double-submit
cookie of web/auth.py. No captcha service: nothing leaves the island.
"""

from __future__ import annotations

import re

from aiohttp import web

from archipel import content, fiches, proposals, revisions
from archipel.errors import InvalidInput
from archipel.identity import object_uri
from archipel.ids import is_ulid
from archipel.ratelimit import RateLimiter
from archipel.storage.tables import StoredObject
from web import appkeys, forms, words
from web.i18n import gettext, negotiate_language
from web.pages import page

routes = web.RouteTableDef()

LIMITER = web.AppKey("proposal_rate_limiter", RateLimiter)
# The honeypot: a field a bot fills and a person never sees. Its name means nothing to browsers'
# autofill (an "address" or "website" name could be filled for a person, who would then lose the
# proposal without knowing it).
HONEYPOT = "reference_dossier"
MAX_NAME = 200
MAX_EMAIL = 320
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
SHOWN_TEXTS = {
    "fiche": ("title", "summary", "pitch", "source", "place", "region", "audience", "themes", "language",
              "licence"),
    "resource": ("title", "summary", "source", "learning_goals", "duration", "audience", "place", "region",
                 "themes", "language", "licence"),
}


def setup(app: web.Application) -> None:
    settings = app[appkeys.SETTINGS]
    app[LIMITER] = RateLimiter(settings.proposals_per_hour, 3600.0)
    app.add_routes(routes)


def _lang(request: web.Request) -> str:
    return negotiate_language(request)


def _base(request: web.Request) -> str:
    return request.app[appkeys.SETTINGS].url.rstrip("/")


def labels(lang: str) -> dict:
    return {"sections": forms.section_labels(lang), "kind_names": forms.kind_labels(lang),
            "formats": forms.format_labels(lang),
            "licences": {code: label for code, (label, _) in fiches.LICENCES.items()},
            "item_languages": forms.ITEM_LANGUAGES, "section_field": forms.section_field}


def values_of(proposal) -> forms.FormValues:
    """What the proposal holds, as the form shows it."""
    fields = proposal.fields
    item = StoredObject(kind=proposal.item_kind, name=fields.get("title", ""), summary=fields.get("summary", ""),
                        source=fields.get("source", ""), tags=fields.get("tags", []),
                        language=fields.get("language", "fr"), licence=fields.get("licence"), state="draft",
                        fields=fields.get("data") or {}, private_fields={})
    return forms.from_item(item, [])


def read_fields(post, kind: str, lang: str, *, target: StoredObject | None = None,
                settings=None) -> tuple[forms.FormValues, dict | None, dict]:
    """(values as typed, the proposal's fields or None, errors by field name)."""
    values = forms.read_post(post, kind)
    if target is not None:  # an improvement keeps the item's language and licence
        values.texts.update(language=target.language or "fr", licence=target.licence or fiches.DEFAULT_LICENCE)
    parsed, errors = forms.parse(values, lang, known_language=values["language"] if target is not None else None)
    if parsed is None:
        return values, None, errors
    data = parsed.data or {}
    if not (parsed.source.strip() or data.get("pitch") or data.get("sections") or parsed.summary
            or data.get("learning_goals")):
        errors["source"] = gettext(lang, "Dites-en un peu plus : une accroche ou un texte de présentation.")
    fields = {**parsed.item_arguments(), "credit": post.get("credit") == "yes"}
    if settings is not None:
        chars, links = proposals.total_chars(fields), proposals.count_links(fields)
        if chars > settings.proposal_max_chars:
            errors[""] = gettext(lang, "La proposition est trop longue (%(length)s caractères ; %(max)s au plus).") % {
                "length": chars, "max": settings.proposal_max_chars}
        if links > settings.proposal_max_links:
            errors[""] = gettext(lang, "La proposition contient trop de liens (%(count)s ; %(max)s au plus). "
                                       "Gardez les plus utiles.") % {"count": links, "max": settings.proposal_max_links}
    return values, (None if errors else fields), errors


def proposed_changes(lang: str, target: StoredObject | None, proposal) -> list[tuple[str, list]]:
    """(label, lines) of what an improvement would change in the item, as it stands now."""
    if target is None or target.deleted_at is not None or proposal.kind != "edit":
        return []
    current = revisions.snapshot(target)
    return [(forms.diff_label(lang, change.label), change.lines) for change in
            revisions.word_diff(current, proposals.proposed_snapshot(target, current, proposal),
                                words.written_value(lang))]


async def _target(session, request: web.Request, ulid: str | None) -> StoredObject | None:
    if not ulid:
        return None
    if not is_ulid(ulid):
        raise web.HTTPNotFound(text="no such item")
    item = await content.find_object(session, object_uri(_base(request), ulid))
    if (item is None or not item.is_local or item.deleted_at is not None or item.kind not in proposals.ITEM_KINDS
            or item.state not in content.PUBLIC_STATES):
        raise web.HTTPNotFound(text="no such item")
    return item


def _kind(request: web.Request, value: str | None) -> str:
    kind = value or "fiche"
    if kind not in proposals.ITEM_KINDS:
        raise web.HTTPBadRequest(text="kind must be fiche or resource")
    return kind


async def _form(request: web.Request, *, kind: str, values: forms.FormValues, target: StoredObject | None,
                errors: dict | None = None, proposer: dict | None = None, status: int = 200) -> web.Response:
    errors = dict(errors or {})
    general = [errors.pop("")] if "" in errors else []
    smtp = request.app[appkeys.SETTINGS].can_send_mail
    return await page(request, "proposal_form.html", status=status, kind=kind, values=values, target=target,
                      errors=errors, general=general, honeypot=HONEYPOT, smtp=smtp,
                      proposer=proposer or {"name": "", "email": "", "credit": True}, **labels(_lang(request)))


@routes.get("/proposer")
async def form(request: web.Request) -> web.Response:
    async with request.app[appkeys.SESSIONS]() as session:
        target = await _target(session, request, request.query.get("item"))
    if target is not None:
        return await _form(request, kind=target.kind, values=forms.from_item(target, []), target=target)
    kind = _kind(request, request.query.get("kind"))
    return await _form(request, kind=kind, values=forms.blank(kind), target=None)


@routes.post("/proposer")
async def propose(request: web.Request) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    lang = _lang(request)
    post = await request.post()
    async with request.app[appkeys.SESSIONS]() as session:
        target = await _target(session, request, post.get("item") or None)
        kind = target.kind if target is not None else _kind(request, post.get("kind"))
        values, fields, errors = read_fields(post, kind, lang, target=target, settings=settings)
        name = " ".join(str(post.get("name") or "").split())
        email = str(post.get("email") or "").strip()
        proposer = {"name": name, "email": email, "credit": post.get("credit") == "yes"}
        if len(name) > MAX_NAME:
            errors["name"] = gettext(lang, "Le nom dépasse %(max)s caractères.") % {"max": MAX_NAME}
        if email and (len(email) > MAX_EMAIL or not _EMAIL.match(email)):
            errors["email"] = gettext(lang, "Cette adresse e-mail ne semble pas valable (par exemple : "
                                            "prenom@exemple.fr).")
        if errors:
            return await _form(request, kind=kind, values=values, target=target, errors=errors, proposer=proposer,
                               status=400)
        if not request.app[LIMITER].allow(request.remote or "unknown"):
            minutes = max(1, round(request.app[LIMITER].retry_after(request.remote or "unknown") / 60))
            message = gettext(lang, "Beaucoup de propositions sont arrivées de votre connexion en peu de temps. "
                                    "Réessayez dans %(minutes)s minutes : votre texte est resté dans le "
                                    "formulaire.") % {"minutes": minutes}
            response = await _form(request, kind=kind, values=values, target=target, errors={"": message},
                                   proposer=proposer, status=429)
            response.headers["Retry-After"] = str(minutes * 60)
            return response
        if post.get(HONEYPOT):
            # A bot filled the field people never see: it gets the same answer as a person, and
            # nothing is kept (telling it would only teach it to skip the field).
            return await page(request, "proposal_status.html", proposal=None, just_sent=True, status_url=None,
                              target=None)
        try:
            proposal, token = await proposals.create(
                session, item_kind=kind, fields=fields, origin="form", proposer_name=name,
                proposer_email=email or None, target=target)
        except InvalidInput as error:
            await session.rollback()
            return await _form(request, kind=kind, values=values, target=target,
                               errors={"": words.failure(lang, error)}, proposer=proposer, status=400)
        await session.commit()
    raise web.HTTPSeeOther(f"/proposition/{token}?envoyee=1")


@routes.get("/proposition/{token}")
async def status(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    async with request.app[appkeys.SESSIONS]() as session:
        proposal = await proposals.find_by_token(session, token)
        if proposal is None:
            raise web.HTTPNotFound(text="no such proposal: check the link")
        target = await content.find_object(session, proposal.target_uri) if proposal.target_uri else None
        published = (await content.find_object(session, proposal.published_uri)
                     if proposal.state == "accepted" and proposal.published_uri else None)
    changes = proposed_changes(_lang(request), target, proposal) if proposal.state == "pending" else []
    response = await page(request, "proposal_status.html", proposal=proposal, target=target, changes=changes,
                          published_name=published.name if published is not None else None,
                          just_sent=request.query.get("envoyee") == "1",
                          status_url=f"{_base(request)}/proposition/{token}",
                          smtp=request.app[appkeys.SETTINGS].can_send_mail)
    # The link is the proposer's key: never sent to other sites, never indexed, never cached.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Cache-Control"] = "no-store"
    return response
