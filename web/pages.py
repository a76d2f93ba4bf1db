"""Server-rendered pages: the template environment and a helper that renders one page."""

from __future__ import annotations

import gettext
from pathlib import Path

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from web import appkeys

TEMPLATES_DIR = Path(__file__).parent / "templates"


def make_templates() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # French is the source language; the English catalogue comes with the pages issue.
    environment.install_gettext_translations(gettext.NullTranslations(), newstyle=True)
    return environment


def render(request: web.Request, template: str, *, status: int = 200, alternate: str | None = None,
           **context) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    html = request.app[appkeys.TEMPLATES].get_template(template).render(
        island_name=settings.name, base_url=settings.url, alternate=alternate, lang="fr", **context
    )
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Vary"] = "Accept"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'"
    )
    if alternate:
        response.headers["Link"] = f'<{alternate}>; rel="alternate"; type="application/activity+json"'
    return response
