"""The demo's mailbox: the e-mail its islands wrote (`mail_folder`), readable in the browser.

`archipel demo` has no mail server: each island writes its mail as .eml files in its own folder,
and this small site (one more port on loopback) lists them, newest first, and shows each one —
so that invitations, password resets and proposers' answers can be tried end to end. It is part
of the demo only; an island never serves its mail.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from aiohttp import web
from markupsafe import Markup

from archipel import mail_folder
from web import i18n
from web.pages import STATIC_DIR, page_templates

FOLDERS = web.AppKey("folders", dict)  # island handle -> its mail folder
NAMES = web.AppKey("names", dict)  # island handle -> its name
TEMPLATES = web.AppKey("mailbox_templates", object)
_LINK = re.compile(r"https?://[^\s<>\"']+")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Letter:
    island: str
    name: str  # the file's name: the message's address in this site
    sender: str
    to: str
    subject: str
    date: object
    text: str
    has_html: bool


def _read(island: str, path: Path) -> tuple[Letter, object]:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    try:
        date = parsedate_to_datetime(message["Date"]) if message["Date"] else None
    except (TypeError, ValueError):
        date = None
    letter = Letter(island, path.name, str(message["From"] or ""), str(message["To"] or ""),
                    str(message["Subject"] or ""), date, text_part.get_content() if text_part else "",
                    html_part is not None)
    return letter, html_part


def _with_links(text: str) -> Markup:
    """The plain text, escaped, with its web addresses made links (an invitation's, a letter's)."""
    escaped = html.escape(text)
    return Markup(_LINK.sub(lambda found: f'<a href="{found.group(0)}">{found.group(0)}</a>', escaped))


def _find(request: web.Request) -> Path:
    folders = request.app[FOLDERS]
    island, name = request.match_info["island"], request.match_info["name"]
    folder = folders.get(island)
    # Only a name the folder lists: nothing outside it can be asked for.
    if folder is None or name not in {path.name for path in _messages(folder)}:
        raise web.HTTPNotFound()
    return folder / name


def _messages(folder: Path) -> list[Path]:
    return mail_folder.messages(folder)


def _render(request: web.Request, template: str, **context) -> web.Response:
    lang = i18n.negotiate_language(request)
    page = request.app[TEMPLATES].get_template(template).render(lang=lang, **context)
    response = web.Response(text=page, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS)
    response.headers["Content-Language"] = lang
    return response


async def inbox(request: web.Request) -> web.Response:
    letters = []
    for island, folder in request.app[FOLDERS].items():
        letters += [_read(island, path)[0] for path in _messages(folder)]
    letters.sort(key=lambda letter: letter.name, reverse=True)  # names begin with the time written
    return _render(request, "demo_mailbox.html", letters=letters, islands=request.app[NAMES])


async def message(request: web.Request) -> web.Response:
    letter, _ = _read(request.match_info["island"], _find(request))
    return _render(request, "demo_mailbox_message.html", letter=letter, body=_with_links(letter.text))


async def message_html(request: web.Request) -> web.Response:
    _, html_part = _read(request.match_info["island"], _find(request))
    if html_part is None:
        raise web.HTTPNotFound()
    # The HTML as a mail program shows it: no script, nothing it may load but pictures.
    return web.Response(text=html_part.get_content(), content_type="text/html", charset="utf-8", headers={
        **SECURITY_HEADERS, "Content-Security-Policy": "sandbox; default-src 'none'; img-src http: https: data:; "
                                                       "style-src 'unsafe-inline'"})


async def stylesheet(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "archipel.css")


def make_app(folders: dict[str, Path], names: dict[str, str]) -> web.Application:
    app = web.Application()
    app[FOLDERS] = folders
    app[NAMES] = names
    app[TEMPLATES] = page_templates()
    app.router.add_get("/", inbox)
    app.router.add_get("/static/{name:archipel\\.css}", stylesheet)
    app.router.add_get("/{island}/{name}", message)
    app.router.add_get("/{island}/{name}/html", message_html)
    return app
