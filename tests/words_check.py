"""What a page must not show a person: raw codes, machine dates and durations, bare addresses,
French interface strings on an English page, ordinary spaces before « : ; ! ? » on a French page.

`problems(html, lang, hosts)` reads the text a person reads (text nodes, and the alt, title,
aria-label and placeholder attributes), as a browser lays it out, and names each problem with the
words around it. Not read: scripts, styles, `<code>`, `<pre>`, form values and what only a printer
shows (`.print-only`: the page's address on paper). Text marked `translate="no"` (a fiche's own
words quoted by the interface) and search highlights (`<mark>`, a word of a title) are people's
words, not the interface's: they are not looked up in the French catalogue.
"""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser

from babel.messages.pofile import read_po

from web import i18n

SKIPPED = {"script", "style", "code", "pre", "textarea", "template", "select"}
READ_ATTRIBUTES = ("alt", "title", "aria-label", "placeholder")
# Boxes laid out apart: their texts never run into each other (an inline element's do).
BLOCKS = {"address", "article", "aside", "blockquote", "br", "button", "caption", "dd", "details", "div", "dl",
          "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
          "header", "hr", "legend", "li", "main", "nav", "ol", "option", "p", "section", "summary", "table",
          "tbody", "td", "tfoot", "th", "thead", "tr", "ul"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

# Codes as they are stored: snake_case tokens (silence_account), and the state names, which are
# English words (so they are looked for on French pages only: an English page may say "pending").
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
STATE_CODES = re.compile(r"\b(pending|accepted|refused|rejected|resolved|draft|published|archived|proposed|"
                         r"failed|stopped|retrying|silenced|hidden|open)\b")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}[^\s]*)?\b")
ISO_DURATION = re.compile(r"\bP(?:\d+[YMWD])+(?:T(?:\d+[HMS])+)?\b|\bPT(?:\d+[HMS])+\b")
# An address with a real host (a help text's « https://… » or « https://adresse » is a pattern).
URL = re.compile(r"\bhttps?://(?:[\w-]+\.)+[\w-]+\S*|\bhttps?://[\w.-]+:\d+\S*")
HANDLE = re.compile(r"@[\w.-]+@[\w.:\[\]-]+")
# French punctuation: an ordinary space (never U+00A0 or U+202F) before « : ; ! ? » or inside « ».
FRENCH_SPACE = re.compile(r"(?<=\S) [:;!?](?=[ \u00a0]|$)|« | »")
WHITESPACE = re.compile(r"[ \t\r\n\f]+")  # not \s: a no-break space is not collapsed


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, skipped, people's words)
        self.parts: list[str] = []
        self.nodes: list[str] = []  # each text node, as written in the HTML
        self.interface: list[str] = []  # the text without people's words

    def _add(self, text: str) -> None:
        self.parts.append(text)
        self.interface.append(text)

    def _skipping(self) -> bool:
        return any(skipped for _, skipped, _ in self.stack)

    def _peoples(self) -> bool:
        return any(theirs for _, _, theirs in self.stack)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        skipped = tag in SKIPPED or "print-only" in (attributes.get("class") or "").split()
        if not skipped and not self._skipping():
            for name in READ_ATTRIBUTES:
                if attributes.get(name):
                    self._add(f" {attributes[name]} ")
        if tag in BLOCKS:
            self._add(" ")
        if tag not in VOID:
            self.stack.append((tag, skipped, tag == "mark" or attributes.get("translate") == "no"))

    def handle_endtag(self, tag):
        if tag in BLOCKS:
            self._add(" ")
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        if not self._skipping():
            self.parts.append(data)
            self.interface.append(" " if self._peoples() else data)
            self.nodes.append("" if self._peoples() else WHITESPACE.sub(" ", data).strip())


def _read(html: str) -> tuple[str, str, list[str]]:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return (WHITESPACE.sub(" ", "".join(parser.parts)), WHITESPACE.sub(" ", "".join(parser.interface)),
            [node for node in parser.nodes if node])


def visible_text(html: str) -> str:
    return _read(html)[0]


@cache
def _french_only() -> tuple[tuple[re.Pattern, ...], frozenset[str]]:
    """The catalogue's French strings whose English differs (no placeholders): long ones as
    patterns found anywhere in the text, short ones (a label: « Objectifs ») as a whole text node
    or the label before a colon."""
    with (i18n.LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = read_po(po, locale="en")
    patterns, labels = [], set()
    for message in catalogue:
        if not message.id or not isinstance(message.id, str) or "%(" in message.id:
            continue
        french = WHITESPACE.sub(" ", message.id).strip()
        if message.string == message.id:
            continue
        if len(french) >= 12 and " " in french:
            patterns.append(re.compile(r"(?<![\w’'])" + re.escape(french) + r"(?![\w’'])"))
        elif len(french) >= 4:
            labels.add(french.rstrip(" \u00a0:"))
    return tuple(patterns), frozenset(labels)


def _label(node: str) -> str:
    return node.split(":", 1)[0].strip(" \u00a0") if ":" in node else node


def _around(text: str, match: re.Match) -> str:
    return text[max(0, match.start() - 40):match.end() + 40]


def problems(html: str, lang: str, hosts: tuple[str, ...] = ()) -> list[str]:
    text, interface, nodes = _read(html)
    found = []
    without_handles = HANDLE.sub(" ", text)
    for pattern, what in ((SNAKE, "code"), (ISO_DATE, "ISO date"), (ISO_DURATION, "ISO duration"),
                          (URL, "address")):
        found += [f"{what}: …{_around(without_handles, m)}…" for m in pattern.finditer(without_handles)]
    for host in hosts:
        found += [f"host: …{_around(without_handles, m)}…"
                  for m in re.finditer(re.escape(host), without_handles)]
    if lang == "fr":
        found += [f"state code: …{_around(text, m)}…" for m in STATE_CODES.finditer(without_handles)]
        found += [f"French typography: …{_around(text, m)}…" for m in FRENCH_SPACE.finditer(text)]
    else:
        patterns, labels = _french_only()
        found += [f"French on an English page: …{_around(interface, m)}…" for pattern in patterns
                  for m in pattern.finditer(interface)]
        found += [f"French label on an English page: {node}" for node in nodes if _label(node) in labels]
    return found
