"""Log in and log out.

Failed logins are counted per client address and per user name (in memory, like the proposal
form's limit): past either limit, the form answers 429 with `Retry-After` until the window frees,
even for the right password, so that guessing stays slow whatever the attacker spreads."""

from __future__ import annotations

import math

from aiohttp import web

from archipel.ratelimit import RateLimiter
from web import appkeys, auth
from web.i18n import gettext, negotiate_language
from web.pages import page
from web.safe_redirects import local_path

routes = web.RouteTableDef()

FAILURES_BY_ADDRESS = web.AppKey("login_failures_by_address", RateLimiter)
FAILURES_BY_ACCOUNT = web.AppKey("login_failures_by_account", RateLimiter)
DEFAULT_NEXT = "/espace"


def setup(app: web.Application) -> None:
    settings = app[appkeys.SETTINGS]
    window = settings.login_failure_window_minutes * 60
    app[FAILURES_BY_ADDRESS] = RateLimiter(settings.login_failures_per_address, window)
    app[FAILURES_BY_ACCOUNT] = RateLimiter(settings.login_failures_per_account, window)
    app.add_routes(routes)


def _safe_next(value) -> str:
    """Only a path on this site: never an open redirect."""
    return local_path(value, DEFAULT_NEXT)


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    return await page(request, "login.html", next=_safe_next(request.query.get("next")), username="",
                      error=None)


def _try(request: web.Request, name: str) -> float:
    """Count an attempt as a failure in advance (so that attempts sent at the same time cannot
    all slip in before the first is counted); 0, or the seconds to wait when a limit is reached."""
    by_address, by_account = request.app[FAILURES_BY_ADDRESS], request.app[FAILURES_BY_ACCOUNT]
    address = request.remote or "unknown"
    wait = max(by_address.retry_after(address), by_account.retry_after(name))
    if wait <= 0:
        by_address.allow(address)
        by_account.allow(name)
    return wait


def _succeeded(request: web.Request, name: str) -> None:
    """A right password: the address gets its attempt back, the name starts afresh."""
    request.app[FAILURES_BY_ADDRESS].release(request.remote or "unknown")
    request.app[FAILURES_BY_ACCOUNT].reset(name)


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    target = _safe_next(form.get("next"))
    username = str(form.get("username", ""))
    name = auth.login_name(username)
    lang = negotiate_language(request)
    wait = _try(request, name)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        error = gettext(lang, "Trop de tentatives de connexion manquées. Réessayez dans %(minutes)s min.") % {
            "minutes": minutes}
        response = await page(request, "login.html", status=429, next=target, username=username, error=error)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    response = web.HTTPSeeOther(target)
    if await auth.log_in(request, response, username, str(form.get("password", ""))):
        _succeeded(request, name)
        raise response
    error = gettext(lang, "Nom d'utilisateur·ice ou mot de passe incorrect.")
    return await page(request, "login.html", status=401, next=target, username=username, error=error)


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther("/")
    await auth.log_out(request, response)
    raise response
