"""The letter's pages: subscribing without an account (/lettre), the links of its mails (confirm,
change the choices, unsubscribe: the token in the address is the proof), the archive of issues
(/lettres) and the animators' editorial and preview (/espace/lettre).

The subscription page answers the same whatever the address (subscribed or not, confirmed or
not): only the mailbox's owner learns anything. A client's requests are limited (in memory,
archipel/ratelimit.py). The one-click unsubscribe of RFC 8058 is a POST with no CSRF token
(a mail client sends it): web/auth.py exempts the path, the token is the proof."""

from __future__ import annotations

import math

from aiohttp import web

from archipel import communes, content, letter_issues, letter_subscriptions, mail
from archipel.letter_subscriptions import Choices, SubscriptionRefused
from archipel.ratelimit import RateLimiter
from web import appkeys, auth, forms
from web.i18n import gettext, negotiate_language
from web.letter_mail import LetterMail, issue_title, letter_events, letter_items
from web.pages import page
from web.wake import mail_queued

routes = web.RouteTableDef()

LIMITER = web.AppKey("letter_rate_limiter", RateLimiter)
SUBSCRIPTIONS_PER_HOUR = 10
HONEYPOT = "reference_dossier"
TOKEN = "{token:" + letter_subscriptions.TOKEN_PATTERN + "}"
THEMES_SHOWN = 40
RADII = (10, 25, 50, 100, 200)


def setup(app: web.Application) -> None:
    app[LIMITER] = RateLimiter(SUBSCRIPTIONS_PER_HOUR, 3600.0)
    app.add_routes(routes)


def _problem(lang: str, reason: str) -> str:
    return {
        "email": gettext(lang, "Cette adresse e-mail ne semble pas valide."),
        "place": gettext(lang, "Aucune commune de ce nom : essayez son code postal, ou un autre nom."),
        "radius": gettext(lang, "Choisissez une distance autour de la commune."),
        "regions": gettext(lang, "Une des régions choisies n'existe pas."),
        "themes": gettext(lang, "Choisissez au plus vingt thèmes."),
        "language": gettext(lang, "Cette langue n'est pas proposée."),
        "frequency": gettext(lang, "Choisissez une lettre hebdomadaire ou mensuelle."),
    }.get(reason, gettext(lang, "Ce choix n'est pas possible."))


def _read_choices(form) -> Choices:
    place = str(form.get("place", ""))
    return letter_subscriptions.check_choices(
        languages=forms.ITEM_LANGUAGES, themes=form.getall("theme", [])[:letter_subscriptions.MAX_THEMES + 1],
        # A place and a radius, or regions: the place wins when both are given.
        regions=[] if place.strip() else form.getall("region", [])[:30],
        place=place, radius=str(form.get("radius", "")), language=str(form.get("language", "")),
        frequency=str(form.get("frequency", "weekly")))


def _as_typed(form) -> Choices:
    """What the form said, unchecked, to show it again with its error (nothing is stored)."""
    radius = str(form.get("radius", ""))
    return Choices(themes=tuple(str(t)[:100] for t in form.getall("theme", [])[:letter_subscriptions.MAX_THEMES]),
                   regions=tuple(str(r)[:100] for r in form.getall("region", [])[:30]),
                   place=str(form.get("place", ""))[:100], radius_km=int(radius) if radius in map(str, RADII) else 0,
                   language=str(form.get("language", ""))[:16], frequency=str(form.get("frequency", ""))[:16])


async def _form_page(request: web.Request, template: str, *, status: int = 200, choices: Choices | None = None,
                     **context) -> web.Response:
    async with request.app[appkeys.SESSIONS]() as session:
        themes = await content.theme_counts(session, local=None, limit=THEMES_SHOWN)
    choices = choices or Choices()
    chosen = set(choices.themes)
    # A chosen theme no longer among the most used stays offered (to be removed).
    themes = [(key, label) for key, label, _ in themes] + [(key, key) for key in choices.themes
                                                           if key not in {k for k, _, _ in themes}]
    response = await page(request, template, status=status, themes=themes, chosen_themes=chosen,
                          regions=communes.regions(), radii=RADII, item_languages=forms.ITEM_LANGUAGES, choices=choices,
                          honeypot=HONEYPOT, **context)
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- /lettre: subscribing -------------------------------------------------------------------------

@routes.get("/lettre")
async def subscribe_form(request: web.Request) -> web.Response:
    return await _form_page(request, "letter_subscribe.html", sent=False)


@routes.post("/lettre")
async def subscribe(request: web.Request) -> web.Response:
    lang = negotiate_language(request)
    limiter, address = request.app[LIMITER], request.remote or "unknown"
    if not limiter.allow(address):
        wait = limiter.retry_after(address)
        response = await _form_page(request, "letter_subscribe.html", status=429, sent=False, error=gettext(
            lang, "Trop de demandes depuis cette adresse. Réessayez dans %(minutes)s min.") % {
            "minutes": max(1, math.ceil(wait / 60))})
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    form = await request.post()
    if form.get(HONEYPOT):  # a bot: the same answer as anyone, nothing written
        return await _form_page(request, "letter_subscribe.html", sent=True)
    try:
        email = letter_subscriptions.check_email(str(form.get("email", "")))
        choices = _read_choices(form)
    except SubscriptionRefused as refused:
        return await _form_page(request, "letter_subscribe.html", status=400, sent=False, choices=_as_typed(form),
                                error=_problem(lang, refused.reason), email=str(form.get("email", ""))[:254])
    settings = request.app[appkeys.SETTINGS]
    mails = LetterMail(request.app[appkeys.TEMPLATES], settings)
    async with request.app[appkeys.SESSIONS]() as session:
        subscribed = await letter_subscriptions.subscribe(session, email, choices)
        subject, body = mails.confirmation(subscribed.token, lang=lang, already=subscribed.already_confirmed)
        await mail.queue(session, to=email, subject=subject, body=body)
        await session.commit()
    mail_queued(request.app)
    return await _form_page(request, "letter_subscribe.html", sent=True)


# ---- the links of the mails ------------------------------------------------------------------------

async def _gone(request: web.Request) -> web.Response:
    lang = negotiate_language(request)
    return await page(request, "letter_gone.html", status=404, message=gettext(
        lang, "Ce lien ne correspond à aucun abonnement : il a peut-être expiré (sans confirmation dans les deux "
              "jours), ou l'adresse a été désabonnée."))


@routes.get("/lettre/" + TOKEN + "/confirmer")
async def confirm_form(request: web.Request) -> web.Response:
    # A button, not a confirmation on opening: mail scanners open links by themselves.
    async with request.app[appkeys.SESSIONS]() as session:
        subscriber = await letter_subscriptions.by_token(session, request.match_info["token"])
    if subscriber is None:
        return await _gone(request)
    return await page(request, "letter_confirm.html", token=request.match_info["token"],
                      confirmed=subscriber.confirmed_at is not None)


@routes.post("/lettre/" + TOKEN + "/confirmer")
async def confirm(request: web.Request) -> web.Response:
    async with request.app[appkeys.SESSIONS]() as session:
        subscriber = await letter_subscriptions.confirm(session, request.match_info["token"])
        await session.commit()
    if subscriber is None:
        return await _gone(request)
    return await page(request, "letter_confirm.html", token=request.match_info["token"], confirmed=True, done=True)


@routes.get("/lettre/" + TOKEN)
async def choices_form(request: web.Request) -> web.Response:
    async with request.app[appkeys.SESSIONS]() as session:
        subscriber = await letter_subscriptions.by_token(session, request.match_info["token"])
    if subscriber is None:
        return await _gone(request)
    return await _form_page(request, "letter_choices.html", choices=Choices.of(subscriber),
                            token=request.match_info["token"], saved=False)


@routes.post("/lettre/" + TOKEN)
async def change_choices(request: web.Request) -> web.Response:
    lang = negotiate_language(request)
    token = request.match_info["token"]
    form = await request.post()
    try:
        choices = _read_choices(form)
    except SubscriptionRefused as refused:
        return await _form_page(request, "letter_choices.html", status=400, token=token, saved=False,
                                choices=_as_typed(form), error=_problem(lang, refused.reason))
    async with request.app[appkeys.SESSIONS]() as session:
        subscriber = await letter_subscriptions.change(session, token, choices)
        await session.commit()
    if subscriber is None:
        return await _gone(request)
    return await _form_page(request, "letter_choices.html", choices=choices, token=token, saved=True)


@routes.get("/lettre/" + TOKEN + "/desabonnement")
async def unsubscribe_form(request: web.Request) -> web.Response:
    return await page(request, "letter_unsubscribe.html", token=request.match_info["token"], done=False)


@routes.post("/lettre/" + TOKEN + "/desabonnement")
async def unsubscribe(request: web.Request) -> web.Response:
    """The page's button, or a mail client's one-click POST (`List-Unsubscribe=One-Click`): the
    address is deleted. The same answer if there was none (a second click, a stale link)."""
    async with request.app[appkeys.SESSIONS]() as session:
        await letter_subscriptions.unsubscribe(session, request.match_info["token"])
        await session.commit()
    return await page(request, "letter_unsubscribe.html", token="", done=True)


# ---- /lettres: the archive ------------------------------------------------------------------------

@routes.get("/lettres")
async def archive(request: web.Request) -> web.Response:
    lang = negotiate_language(request)
    name = request.app[appkeys.SETTINGS].name
    async with request.app[appkeys.SESSIONS]() as session:
        issues = await letter_issues.archive(session)
    return await page(request, "letter_archive.html", issues=[(issue, issue_title(lang, name, issue))
                                                               for issue in issues])


@routes.get(r"/lettres/{period:\d{4}-W\d{2}}")
async def issue_page(request: web.Request) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        issue = await letter_issues.issue_by_period(session, request.match_info["period"])
        if issue is None:
            raise web.HTTPNotFound(text="no such issue")
        items = await letter_items(session, settings.url, settings.name,
                                   await letter_issues.issue_items(session, issue))
        events = await letter_events(session, settings.url, settings.name,
                                     await letter_issues.issue_events(session, issue), negotiate_language(request))
    return await page(request, "letter_issue.html", issue=issue, items=items, events=events,
                      title=issue_title(negotiate_language(request), settings.name, issue))


# ---- /espace/lettre: the animators ------------------------------------------------------------------

async def _workspace(request: web.Request, *, saved: bool = False, sent: bool = False) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        preview = await letter_issues.preview(session)
        items = await letter_items(session, settings.url, settings.name, preview.items)
        events = await letter_events(session, settings.url, settings.name, preview.events, negotiate_language(request))
    response = await page(request, "letter_workspace.html", preview=preview, items=items, events=events,
                          saved=saved, sent=sent)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/espace/lettre")
async def workspace(request: web.Request) -> web.Response:
    await auth.require_user(request, "moderator")
    return await _workspace(request)


@routes.post("/espace/lettre")
async def save_editorial(request: web.Request) -> web.Response:
    user = await auth.require_user(request, "moderator")
    form = await request.post()
    async with request.app[appkeys.SESSIONS]() as session:
        await letter_issues.set_editorial(session, str(form.get("editorial", "")), by=user.username)
        await session.commit()
    return await _workspace(request, saved=True)

