"""Log in and log out."""

from __future__ import annotations

from aiohttp import web

from web import auth
from web.i18n import gettext, negotiate_language
from web.pages import page

routes = web.RouteTableDef()


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    return value if value and value.startswith("/") and not value.startswith("//") else "/espace"


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    return await page(request, "login.html", next=_safe_next(request.query.get("next")), username="",
                      error=None)


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    target = _safe_next(form.get("next"))
    response = web.HTTPSeeOther(target)
    if await auth.log_in(request, response, str(form.get("username", "")), str(form.get("password", ""))):
        raise response
    error = gettext(negotiate_language(request), "Nom d'utilisateur·ice ou mot de passe incorrect.")
    return await page(request, "login.html", status=401, next=target, username=form.get("username", ""),
                      error=error)


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther("/")
    await auth.log_out(request, response)
    raise response
