"""From what people write to the HTML we store and show.

Markdown goes through markdown-it (CommonMark, raw HTML disabled) and then, like any HTML that
comes from another server, through nh3 (the ammonia sanitizer), so that one function decides
what HTML can ever reach a page.
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

from archipel.errors import InvalidInput
from archipel.safe_urls import safe_url

# What Mastodon keeps, plus headings, images and tables that our own pages show.
ALLOWED_TAGS = {
    "p", "br", "span", "a", "del", "s", "pre", "blockquote", "code", "b", "strong", "u", "i", "em",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "img", "table", "thead", "tbody",
    "tr", "th", "td", "sup", "sub", "dl", "dt", "dd",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "img": {"src", "alt", "title"},
    "span": {"class"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
MAX_SOURCE_CHARS = 100_000

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


def _url_attribute(element: str, attribute: str, value: str) -> str | None:
    """Links and images: the one safe-URL rule, plus paths of this island and mail addresses.
    nh3 alone lets a scheme-relative `//elsewhere` and `http://user:password@host` through."""
    if attribute not in ("href", "src"):
        return value
    if value.startswith("mailto:") and element == "a":
        return value
    if value.startswith(("/", "#")) and not value.startswith("//") and "\\" not in value:
        return value
    return safe_url(value)


def sanitize_html(raw: str) -> str:
    """Keep only harmless markup; links get rel=nofollow noopener."""
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        attribute_filter=_url_attribute,
    )


class TextTooLong(InvalidInput, ValueError):
    """A domain error (the command line and the pages say it), still a ValueError for old callers."""


def render_markdown(source: str) -> str:
    if len(source) > MAX_SOURCE_CHARS:
        raise TextTooLong("Le texte dépasse %(limit)s caractères.", limit=MAX_SOURCE_CHARS)
    return sanitize_html(_markdown.render(source))


_TAG = re.compile(r"<[^>]+>")


_SPACES = re.compile(r"[ \t\n\r\f\v]+")


def html_to_text(raw: str) -> str:
    """Plain text of an HTML fragment (for summaries, titles, logs)."""
    return " ".join(html.unescape(_TAG.sub(" ", raw)).split())


def html_to_reading(raw: str) -> str:
    """Plain text of an HTML fragment for a page to show (an excerpt): as html_to_text, but a
    no-break space stays one, holding French punctuation to its word (« Durée : 3 h »)."""
    return _SPACES.sub(" ", html.unescape(_TAG.sub(" ", raw))).strip(" ")
