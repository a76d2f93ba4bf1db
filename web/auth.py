"""Logging in, who is logged in, and protection of every form against cross-site requests.

A session cookie holds a random token; the database keeps only its SHA-256, with a CSRF token.
Every POST to a page (not to an inbox) must carry that CSRF token (form field `csrf_token` or
header `X-CSRF-Token`); before logging in, a double-submit cookie plays that role.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import delete, select

from archipel.media import MULTIPART_ALLOWANCE
from archipel.passwords import verify_password
from archipel.storage.tables import LocalActor, LoginSession, User, utcnow
from web import appkeys
from web.i18n import gettext, negotiate_language

SESSION_COOKIE = "archipel_session"
CSRF_COOKIE = "archipel_csrf"
SESSION_LIFETIME = timedelta(days=14)
# Federation endpoints (signed, not cookie-authenticated), and the letter's one-click unsubscribe
# (RFC 8058: a mail client's POST, which cannot carry a token of ours; the address's own token is
# in the path).
_EXEMPT_SUFFIXES = ("/inbox", "/desabonnement")

ROLE_RANK = {"author": 1, "moderator": 2, "admin": 3}


@dataclass(frozen=True)
class CurrentUser:
    user_id: int
    role: str
    actor: LocalActor
    csrf_token: str
    session_hash: str = ""  # the SHA-256 of this browser's session token

    @property
    def username(self) -> str:
        return self.actor.username

    def has_role(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]


_CURRENT = web.RequestKey("current_user", object)  # CurrentUser | None, once per request
_NEW_CSRF_COOKIE = web.RequestKey("new_csrf_cookie", str)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _secure(request: web.Request) -> bool:
    return request.app[appkeys.SETTINGS].scheme == "https"


async def current_user(request: web.Request) -> CurrentUser | None:
    if _CURRENT in request:
        return request[_CURRENT]
    user = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with request.app[appkeys.SESSIONS]() as session:
            row = await session.execute(
                select(LoginSession, User, LocalActor)
                .join(User, User.id == LoginSession.user_id)
                .join(LocalActor, LocalActor.id == User.actor_id)
                .where(LoginSession.token_hash == _hash(token), LoginSession.expires_at > utcnow(),
                       User.active.is_(True)))
            found = row.first()
        if found:
            login, account, actor = found
            user = CurrentUser(account.id, account.role, actor, login.csrf_token, login.token_hash)
    request[_CURRENT] = user
    return user


async def require_user(request: web.Request, role: str = "author") -> CurrentUser:
    """The logged-in user with at least `role`; anonymous visitors are sent to the login page."""
    user = await current_user(request)
    if user is None:
        raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='/')}")
    if not user.has_role(role):
        raise web.HTTPForbidden(text="your role does not allow this")
    return user


def login_name(username: str) -> str:
    """The user name as accounts are stored (and as failed logins are counted)."""
    return username.strip().lower()[:200]


async def log_in(request: web.Request, response: web.StreamResponse, username: str, password: str) -> bool:
    async with request.app[appkeys.SESSIONS]() as session:
        found = (await session.execute(
            select(User).join(LocalActor, LocalActor.id == User.actor_id)
            .where(LocalActor.username == login_name(username)))).scalar_one_or_none()
    # scrypt runs in a thread (on the event loop it would stall every request for its duration),
    # and runs for an unknown name too, against a dummy hash: the time taken tells nothing of which
    # names exist.
    stored = found.password_hash if found is not None else None
    if not await asyncio.to_thread(verify_password, password, stored) or found is None:
        return False
    if not found.active:  # a deactivated account: the same answer as a wrong password
        return False
    async with request.app[appkeys.SESSIONS]() as session:
        start_session(request, session, response, found.id)
        await session.commit()
    return True


def start_session(request: web.Request, session, response: web.StreamResponse, user_id: int) -> str:
    """Log `user_id` in on this browser: a session row added to `session` (the caller commits)
    and its cookie set on `response`. Returns the hash of the new token."""
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(token_hash=_hash(token), user_id=user_id,
                             csrf_token=secrets.token_urlsafe(32), expires_at=utcnow() + SESSION_LIFETIME))
    response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_LIFETIME.total_seconds()), httponly=True,
                        samesite="Lax", secure=_secure(request), path="/")
    return _hash(token)


async def log_out(request: web.Request, response: web.StreamResponse) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with request.app[appkeys.SESSIONS]() as session:
            await session.execute(delete(LoginSession).where(LoginSession.token_hash == _hash(token)))
            await session.commit()
    response.del_cookie(SESSION_COOKIE, path="/")


def anonymous_csrf_token(request: web.Request) -> str:
    """The double-submit token of a visitor who is not logged in (made on first need)."""
    token = request.cookies.get(CSRF_COOKIE) or request.get(_NEW_CSRF_COOKIE)
    if not token:
        token = request[_NEW_CSRF_COOKIE] = secrets.token_urlsafe(32)
    return token


async def csrf_token(request: web.Request) -> str:
    user = await current_user(request)
    return user.csrf_token if user else anonymous_csrf_token(request)


def _too_large(request: web.Request) -> web.Response:
    """A form too big to be read (files, mostly): say so plainly; nothing was read, nothing saved."""
    settings = request.app[appkeys.SETTINGS]
    limit = max(settings.max_body_bytes, settings.max_upload_bytes + MULTIPART_ALLOWANCE)  # as web.app sets it
    size = f"{limit / 1_000_000:.1f}"
    lang = negotiate_language(request)
    if lang == "fr":
        size = size.replace(".", ",")
    message = gettext(lang, "Cet envoi dépasse %(size)s Mo : rien n'a été enregistré. Revenez à la page "
                            "précédente et joignez des fichiers plus petits, ou moins de fichiers à la fois.")
    return web.Response(status=413, text=message % {"size": size}, content_type="text/plain", charset="utf-8")


class FormRefused(web.HTTPForbidden):
    """A form without this site's CSRF token: expired, or sent from elsewhere. A person is told
    to reload the page (web/middleware.py: error_page), not that the page is closed to them."""


@web.middleware
async def csrf_middleware(request: web.Request, handler):
    if request.method == "POST" and not request.path.endswith(_EXEMPT_SUFFIXES):
        user = await current_user(request)
        expected = user.csrf_token if user else request.cookies.get(CSRF_COOKIE)
        given = request.headers.get("X-CSRF-Token")
        if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            try:
                given = (await request.post()).get("csrf_token")
            except web.HTTPRequestEntityTooLarge:
                return _too_large(request)
        if not expected or not isinstance(given, str) or not hmac.compare_digest(given, expected):
            raise FormRefused(text="this form has expired or did not come from this site: reload the page")
    response = await handler(request)
    new_cookie = request.get(_NEW_CSRF_COOKIE)
    if new_cookie and isinstance(response, web.StreamResponse) and not response.prepared:
        response.set_cookie(CSRF_COOKIE, new_cookie, httponly=True, samesite="Lax", secure=_secure(request),
                            path="/")
    return response
