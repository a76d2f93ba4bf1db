"""Server-rendered pages: the template environment and a helper that renders one page."""

from __future__ import annotations

from functools import lru_cache
from hashlib import sha256
from html import unescape
import re
from datetime import date, datetime
from pathlib import Path

from aiohttp import web
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup
from jinja2.runtime import Context

from archipel import naming, notifications
from archipel.safe_urls import safe_url
from archipel.themes import theme_key
from web import appkeys, auth, i18n, words

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@lru_cache(maxsize=32)
def static_url(name: str) -> str:
    """`/static/<name>?v=<digest of its content>`: a new address whenever the file changes, so
    browsers may keep it for a year (web/middleware.py: static_cache_middleware). Read once per
    process, at the first page that names it."""
    digest = sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


# One Environment serves every language: the gettext callables read the language from the render
# context (`lang`, set by `render`). The alternative, one Environment per language, would keep a
# copy of every compiled template per language and would not fit the one TEMPLATES app key; the
# price here is a dictionary look-up per message, and the language can never leak from one
# request to another since nothing global changes between renders.
#
# These are Jinja's "newstyle" gettext (the message is a %-format string, escaped values filled in
# where the template autoescapes) in one call: Jinja's own wraps the callable twice more (`_` is an
# alias that resolves `gettext`, which calls ours), and the three calls were a quarter of a
# listing page's time (forty cards, two hundred messages).
@pass_context
def _gettext(context: Context, message: str, **variables) -> str:
    text = i18n.gettext(context.get("lang", i18n.DEFAULT_LANGUAGE), message)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    # Without values, formatting only turns "%%" into "%": skipped when there is no "%".
    return text % variables if variables or "%" in text else text


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int, **variables) -> str:
    lang = context.get("lang", i18n.DEFAULT_LANGUAGE)
    text = i18n.ngettext(lang, singular, plural, n)
    if "num" not in variables:
        variables["num"] = n
        if abs(n) >= 1000 and "%(num)d" in text:  # « 68 804 fiches », "68,804 sheets"
            text, variables["num"] = text.replace("%(num)d", "%(num)s"), _number(n, lang)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


@lru_cache(maxsize=4096)
def _number(n: int, lang: str) -> str:
    """A count as its reader writes it: « 34 357 », "34,357" (Babel only from a thousand up: a
    page lists a hundred counts)."""
    return str(n) if abs(n) < 1000 else format_decimal(n, locale=lang)


@pass_context
def _count(context: Context, n: int) -> str:
    return _number(n, context.get("lang", i18n.DEFAULT_LANGUAGE))


@pass_context
def _format_date(context: Context, value: datetime) -> str:
    """`12 mars 2025` / `March 12, 2025`."""
    return _long_date(value.date() if isinstance(value, datetime) else value,
                      context.get("lang", i18n.DEFAULT_LANGUAGE))


@lru_cache(maxsize=4096)
def _long_date(day: date, lang: str) -> str:
    # Babel takes ~60 µs a date: a listing's cards (40 on the home page) write the same few days.
    return format_date(day, "long", locale=lang)


@pass_context
def _format_datetime(context: Context, value: datetime) -> str:
    """`12/03/2025 14:05` / `3/12/25, 2:05 PM` (UTC)."""
    return format_datetime(value, "short", locale=context.get("lang", i18n.DEFAULT_LANGUAGE))


def _lang(context: Context) -> str:
    return context.get("lang", i18n.DEFAULT_LANGUAGE)


# Codes written as words for people (web/words.py), in the page's language.
@pass_context
def _duration(context: Context, value: str | None) -> str:
    return words.duration(_lang(context), value)


@pass_context
def _time_zone(context: Context, zone: str) -> str:
    return words.zone_place(_lang(context), zone)


@pass_context
def _iso_date(context: Context, value: str | None) -> str:
    return words.iso_date(_lang(context), value)


@pass_context
def _action(context: Context, value: str) -> str:
    return words.action_label(_lang(context), value)


@pass_context
def _state(context: Context, value: str | None, of: str) -> str:
    return words.state_label(_lang(context), of, value)


@pass_context
def _of_name(context: Context, name: str) -> str:
    """« de l'Île de Brest » in French; the name alone in English (the phrase says "of")."""
    return words.of_name(name) if _lang(context) == "fr" else name


@pass_context
def _delivery_error(context: Context, error: str | None) -> str:
    return words.delivery_error(_lang(context), error)


@pass_context
def _item_body(context: Context, item, names: dict[str, str] | None = None) -> str:
    return words.item_body(item, _lang(context), names)


@pass_context
def _colon(context: Context) -> str:
    return words.colon(_lang(context))


@pass_context
def _quoted(context: Context, text: str) -> str:
    return words.quoted(_lang(context), text)


_IMG = re.compile(r"<img\b[^>]*>")
_ATTRIBUTE = re.compile(r'\s(src|alt)="([^"]*)"')


def own_images(sanitized: str, base_url: str) -> str:
    """Sanitised HTML whose pictures are all this island's: an `<img>` pointing elsewhere (in a
    reply from another server) becomes its description, so that showing a page (or a feed) never
    makes the reader's browser contact another server. Only for HTML that went through
    sanitize_html (whose attribute values are quoted and escaped)."""
    own = base_url.rstrip("/") + "/"

    def keep(match: re.Match) -> str:
        attributes = dict(_ATTRIBUTE.findall(match.group(0)))
        src = unescape(attributes.get("src", ""))
        if src.startswith(own) or (src.startswith("/") and not src.startswith("//")):
            return match.group(0)
        return f'<span class="remote-image">{attributes["alt"]}</span>' if attributes.get("alt") else ""

    return _IMG.sub(keep, sanitized or "")


@pass_context
def _own_images(context: Context, sanitized: str) -> Markup:
    return Markup(own_images(sanitized, context.get("base_url", "")))


def page_url(item) -> str:
    """Where this island shows an item: its own URL if local, else the local page of the replica
    (the origin is linked from there), so the archipelago stays readable when an island is down."""
    return (item.url or item.uri) if item.is_local else f"/r/{item.id}"


@lru_cache(maxsize=None)
def page_templates() -> Environment:
    """The templates of every application in this process: one Environment, so each template is
    compiled once per process (its settings depend on nothing of an island; nothing changes it
    after this function)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "xml"]),  # xml: the Atom feeds (web/feeds.py)
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates change with the code, which a restart loads: no stat() of every template
        # (and of every card's include) on every render.
        auto_reload=False,
    )
    environment.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    # In place of Jinja's wrappers (see _gettext): `{% trans %}` resolves gettext, `_()` resolves _.
    environment.globals.update(gettext=_gettext, _=_gettext, ngettext=_ngettext)
    environment.globals["languages"] = i18n.LANGUAGE_NAMES
    environment.globals["static_url"] = static_url
    environment.filters["format_date"] = _format_date
    environment.filters["count"] = _count  # a number people read, with its thousands separator
    environment.filters["format_datetime"] = _format_datetime
    environment.filters["page_url"] = page_url
    environment.filters["duration"] = _duration
    environment.filters["time_zone"] = _time_zone  # « France (Paris) », not Europe/Paris
    environment.filters["iso_date"] = _iso_date
    environment.filters["action_label"] = _action
    environment.filters["state_label"] = _state
    environment.filters["of_name"] = _of_name
    environment.filters["delivery_error"] = _delivery_error
    environment.filters["item_body"] = _item_body  # labels of a fiche's body in the reader's language
    environment.filters["quoted"] = _quoted
    environment.globals["colon"] = _colon
    # An address where a name is missing: `@user@host`, never the URL (a name passes through).
    environment.filters["handle"] = lambda text: naming.handle_guess(text) if text.startswith(("https://", "http://")) else text
    environment.filters["theme_key"] = theme_key  # a theme's page: /tags/<key> (ASCII letters and digits)
    # Any URL another server gave (an item's `url`, a profile, a file): "" unless it passes the
    # one rule (archipel/safe_urls.py). Templates link only when it is not empty.
    environment.filters["own_images"] = _own_images
    environment.filters["safe_url"] = lambda url: safe_url(url) or ""
    i18n.translations()  # compile the catalogues now, not during the first request
    static_url("archipel.css")  # and the stylesheet's version
    return environment


def render(request: web.Request, template: str, *, status: int = 200, alternate: str | None = None,
           img_hosts: tuple[str, ...] = (), framable: bool = False, cookies: bool = True,
           **context) -> web.Response:
    """A page with the island's security headers. `img_hosts`: origins pictures may also come
    from (a map's tile server); `framable`: any site may show it in a frame (the map's embed
    page, and nothing else); `cookies=False`: the answer sets none (a page framed by any site)."""
    settings = request.app[appkeys.SETTINGS]
    lang = i18n.negotiate_language(request)
    html = request.app[appkeys.TEMPLATES].get_template(template).render(
        island_name=settings.name, base_url=settings.url, alternate=alternate, lang=lang,
        path=request.rel_url.raw_path, **context
    )
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept, Accept-Language, Cookie"
    response.headers["X-Content-Type-Options"] = "nosniff"
    images = " ".join(("'self'", *img_hosts))
    ancestors = "*" if framable else "'none'"
    response.headers["Content-Security-Policy"] = (
        # Pictures only from the island: other servers' avatars and covers are served from
        # here (archipel/remote_media.py), so a visitor's browser never contacts them. A map's
        # tiles are the one exception, from the one tile server the operator chose. Styles only
        # from the island's stylesheets (web/static/archipel.css): no inline <style>, no style="".
        f"default-src 'self'; img-src {images}; style-src 'self'; "
        f"script-src 'self'; frame-ancestors {ancestors}"
    )
    if alternate:
        response.headers["Link"] = f'<{alternate}>; rel="alternate"; type="application/activity+json"'
    if cookies:
        i18n.remember_language(request, response)
    return response


async def page(request: web.Request, template: str, **context) -> web.Response:
    """render(), with who is logged in and the CSRF token every form needs."""
    user = await auth.current_user(request)
    if user is not None and "unread_notifications" not in context:
        async with request.app[appkeys.SESSIONS]() as session:  # one indexed count, for the account nav
            context["unread_notifications"] = await notifications.unread_count(session, user.actor.id)
    return render(request, template, user=user, csrf_token=await auth.csrf_token(request), **context)
