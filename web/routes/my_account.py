"""One's own account (/espace/compte: password, e-mail address), and the pages reached by a
single-use link: an invitation (/invitation/<token>) and a password reset (/motdepasse/<token>),
with the forgotten-password form (/motdepasse-oublie) that mails the latter.

Passwords are hashed in a thread (scrypt would stall the event loop). The forgotten-password
form answers the same whatever was typed (it never tells which names or addresses exist), and
is limited per client address like the login form."""

from __future__ import annotations

import asyncio
import math

from aiohttp import web

from archipel import account_links, accounts, mail
from archipel.accounts import AccountRefused
from archipel.errors import AlreadyExists, InvalidInput
from archipel.handles import InvalidUsername
from archipel.passwords import hash_password, verify_password
from archipel.ratelimit import RateLimiter
from archipel.storage.tables import User
from federation.keys import new_key_pair
from web import appkeys, auth
from web.i18n import gettext, negotiate_language
from web.pages import page
from web.routes.members import refusal, role_names
from web.wake import mail_queued

routes = web.RouteTableDef()
TOKEN = "{token:" + account_links.TOKEN_PATTERN + "}"
RESET_REQUESTS = web.AppKey("password_reset_requests", RateLimiter)
RESET_REQUESTS_PER_ADDRESS = 5
RESET_REQUESTS_WINDOW = 3600.0


def setup(app: web.Application) -> None:
    app[RESET_REQUESTS] = RateLimiter(RESET_REQUESTS_PER_ADDRESS, RESET_REQUESTS_WINDOW)
    app.add_routes(routes)


# ---- /espace/compte ------------------------------------------------------------------------------

async def _account_page(request: web.Request, *, status: int = 200, error: str | None = None,
                        done: str = "") -> web.Response:
    me = await auth.require_user(request)
    async with request.app[appkeys.SESSIONS]() as session:
        account = await session.get(User, me.user_id)
    return await page(request, "my_account.html", status=status, error=error, done=done,
                      email=account.email or "", can_mail=request.app[appkeys.SETTINGS].can_send_mail)


@routes.get("/espace/compte")
async def account_page(request: web.Request) -> web.Response:
    return await _account_page(request, done=request.query.get("fait", ""))


@routes.post("/espace/compte/motdepasse")
async def change_password(request: web.Request) -> web.Response:
    me = await auth.require_user(request)
    form = await request.post()
    lang = negotiate_language(request)
    async with request.app[appkeys.SESSIONS]() as session:
        stored = (await session.get(User, me.user_id)).password_hash
    if not await asyncio.to_thread(verify_password, str(form.get("current", "")), stored):
        return await _account_page(request, status=403,
                                   error=gettext(lang, "Le mot de passe actuel n'est pas le bon."))
    try:
        new = accounts.check_new_password(str(form.get("password", "")), str(form.get("again", "")))
    except AccountRefused as refused:
        return await _account_page(request, status=400, error=refusal(lang, refused.reason))
    new_hash = await asyncio.to_thread(hash_password, new)
    async with request.app[appkeys.SESSIONS]() as session:
        account = await session.get(User, me.user_id)
        account.password_hash = new_hash
        await accounts.end_sessions(session, account, keep_token_hash=me.session_hash)  # other browsers
        await session.commit()
    raise web.HTTPSeeOther("/espace/compte?fait=password")


@routes.post("/espace/compte/courriel")
async def change_email(request: web.Request) -> web.Response:
    me = await auth.require_user(request)
    form = await request.post()
    async with request.app[appkeys.SESSIONS]() as session:
        account = await session.get(User, me.user_id)
        try:
            await accounts.set_email(session, account, str(form.get("email", "")))
        except AccountRefused as refused:
            await session.rollback()
            return await _account_page(request, status=400,
                                       error=refusal(negotiate_language(request), refused.reason))
        await session.commit()
    raise web.HTTPSeeOther("/espace/compte?fait=email")


# ---- links that are gone -------------------------------------------------------------------------

async def _gone(request: web.Request, why: str) -> web.Response:
    lang = negotiate_language(request)
    messages = {
        "unknown": gettext(lang, "Ce lien n'existe pas. Vérifiez qu'il a été copié en entier."),
        "used": gettext(lang, "Ce lien a déjà servi : il ne sert qu'une fois."),
        "expired": gettext(lang, "Ce lien a expiré. Demandez-en un nouveau."),
        "revoked": gettext(lang, "Ce lien n'est plus valable : un·e admin de l'île l'a retiré."),
    }
    return await page(request, "link_gone.html", status=404 if why == "unknown" else 410,
                      message=messages[why])


# ---- /invitation/<token> ------------------------------------------------------------------------

@routes.get("/invitation/" + TOKEN)
async def invitation_form(request: web.Request) -> web.Response:
    async with request.app[appkeys.SESSIONS]() as session:
        try:
            invitation = await account_links.usable_invitation(session, request.match_info["token"])
        except account_links.LinkGone as gone:
            return await _gone(request, gone.why)
    return await _invitation_page(request, invitation.role, form={})


async def _invitation_page(request, role: str, *, form, status: int = 200, error: str | None = None):
    response = await page(request, "invitation.html", status=status, role=role_names(negotiate_language(request))[role],
                          form=form, error=error)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post("/invitation/" + TOKEN)
async def accept_invitation(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    lang = negotiate_language(request)
    form = await request.post()
    values = {name: str(form.get(name, "")).strip() for name in ("username", "display_name", "email")}
    values["username"] = auth.login_name(values["username"])
    async with request.app[appkeys.SESSIONS]() as session:
        try:
            invitation = await account_links.usable_invitation(session, token)
        except account_links.LinkGone as gone:
            return await _gone(request, gone.why)
    role = invitation.role
    try:
        password = accounts.check_new_password(str(form.get("password", "")), str(form.get("again", "")))
        display_name = accounts.check_profile(display_name=values["display_name"] or values["username"],
                                              summary="", links=[])["display_name"]
    except AccountRefused as refused:
        return await _invitation_page(request, role, form=values, status=400, error=refusal(lang, refused.reason))
    except InvalidInput:
        return await _invitation_page(request, role, form=values, status=400,
                                      error=gettext(lang, "Le nom affiché est trop long."))
    password_hash = await asyncio.to_thread(hash_password, password)
    key_pair = await asyncio.to_thread(new_key_pair)
    response = web.HTTPSeeOther("/espace")
    async with request.app[appkeys.SESSIONS]() as session:
        try:
            invitation = await account_links.usable_invitation(session, token)
            await account_links.spend(session, invitation)
            user, _ = await accounts.add_user(session, username=values["username"], password="",
                                              password_hash=password_hash, key_pair=key_pair,
                                              display_name=display_name, role=role, email=values["email"])
            invitation.used_by_id = user.id
            auth.start_session(request, session, response, user.id)
            await session.commit()
        except account_links.LinkGone as gone:
            return await _gone(request, gone.why)
        except InvalidUsername:
            error = gettext(lang, "Ce nom d'utilisateur·ice n'est pas possible : lettres minuscules sans "
                                  "accents, chiffres, points, tirets ou soulignés, 64 caractères au plus.")
        except AlreadyExists:
            error = gettext(lang, "Ce nom d'utilisateur·ice est déjà pris sur l'île.")
        except AccountRefused as refused:
            error = refusal(lang, refused.reason)
        else:
            raise response
        await session.rollback()
    return await _invitation_page(request, role, form=values, status=400, error=error)


# ---- /motdepasse-oublie and /motdepasse/<token> --------------------------------------------------

@routes.get("/motdepasse-oublie")
async def forgotten_form(request: web.Request) -> web.Response:
    return await page(request, "password_forgotten.html", can_mail=request.app[appkeys.SETTINGS].can_send_mail,
                      sent=False)


def reset_mail(lang: str, island: str, link: str) -> tuple[str, str]:
    subject = gettext(lang, "Nouveau mot de passe pour %(island)s") % {"island": island}
    body = gettext(lang, "Bonjour,\n\nQuelqu'un (vous, sans doute) a demandé à choisir un nouveau mot de passe "
                         "pour votre compte sur %(island)s. Ouvrez ce lien pour le faire :\n\n%(link)s\n\n"
                         "Le lien ne sert qu'une fois et expire dans une heure. Si vous n'avez rien "
                         "demandé, ignorez ce message : votre mot de passe ne change pas.\n") % {
        "island": island, "link": link}
    return subject, body


@routes.post("/motdepasse-oublie")
async def forgotten(request: web.Request) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    limiter = request.app[RESET_REQUESTS]
    address = request.remote or "unknown"
    if not limiter.allow(address):
        wait = limiter.retry_after(address)
        lang = negotiate_language(request)
        response = await page(request, "password_forgotten.html", status=429, can_mail=settings.can_send_mail,
                              sent=False, error=gettext(lang, "Trop de demandes depuis cette adresse. Réessayez "
                                                             "dans %(minutes)s min.") % {
                                  "minutes": max(1, math.ceil(wait / 60))})
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    if settings.can_send_mail:
        who = str((await request.post()).get("who", "")).strip()
        queued = False
        async with request.app[appkeys.SESSIONS]() as session:
            if "@" in who:
                account = await accounts.user_by_email(session, who.lower()[:accounts.MAX_EMAIL])
            else:
                account = await accounts.user_by_username(session, auth.login_name(who))
            if account is not None and account.active and account.email:
                link = await account_links.create_reset(session, account)
                subject, body = reset_mail(negotiate_language(request), settings.name,
                                           f"{settings.url}/motdepasse/{link.token}")
                await mail.queue(session, to=account.email, subject=subject, body=body)
                await session.commit()
                queued = True
        if queued:
            mail_queued(request.app)
    # The same answer whatever was typed: it never tells whether the account exists.
    return await page(request, "password_forgotten.html", can_mail=settings.can_send_mail, sent=True)


async def _reset_page(request, *, status: int = 200, error: str | None = None) -> web.Response:
    response = await page(request, "password_reset.html", status=status, error=error)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/motdepasse/" + TOKEN)
async def reset_form(request: web.Request) -> web.Response:
    async with request.app[appkeys.SESSIONS]() as session:
        try:
            await account_links.usable_reset(session, request.match_info["token"])
        except account_links.LinkGone as gone:
            return await _gone(request, gone.why)
    return await _reset_page(request)


@routes.post("/motdepasse/" + TOKEN)
async def reset(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    form = await request.post()
    async with request.app[appkeys.SESSIONS]() as session:
        try:
            await account_links.usable_reset(session, token)
        except account_links.LinkGone as gone:
            return await _gone(request, gone.why)
    try:
        password = accounts.check_new_password(str(form.get("password", "")), str(form.get("again", "")))
    except AccountRefused as refused:
        return await _reset_page(request, status=400, error=refusal(negotiate_language(request), refused.reason))
    password_hash = await asyncio.to_thread(hash_password, password)
    response = web.HTTPSeeOther("/espace")
    async with request.app[appkeys.SESSIONS]() as session:
        try:
            row, account = await account_links.usable_reset(session, token)
            await account_links.spend(session, row)
        except account_links.LinkGone as gone:
            return await _gone(request, gone.why)
        account.password_hash = password_hash
        await accounts.end_sessions(session, account)  # every browser logged in before
        auth.start_session(request, session, response, account.id)
        await session.commit()
    raise response
