"""The one safe-URL rule, and the sanitizer's links and images that follow it."""

from __future__ import annotations

import pytest

from archipel.safe_urls import MAX_URL_CHARS, safe_url
from archipel.text import sanitize_html

REFUSED = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "\tjavascript:alert(1)", " javascript:alert(1)",
    "java\nscript:alert(1)", "vbscript:msgbox(1)", "data:text/html,<script>alert(1)</script>",
    "data:image/svg+xml;base64,PHN2Zz4=", "//evil.example/x", "/\\evil.example", "https:\\\\evil.example",
    "http://user:pass@evil.example/", "https://user@evil.example/", "HTTPS://EVIL.EXAMPLE/", "ftp://host/x",
    "https://", "https:///path", "https://evil.example:99999/", "https://evil.example:port/",
    "https://evil.example/a b", "https://evil.example/\x00", "https://evil.example/\u202e", "https://ok.example/\x7f",
    "https://ok.example/" + "a" * MAX_URL_CHARS, "", None, 42, ["https://ok.example/"], {"href": "https://ok.example/"},
]
ACCEPTED = ["https://ok.example/", "http://127.0.0.1:8080/users/rosa", "https://ok.example/@rosa?x=1&y=2#top",
            "https://[2001:db8::1]/a", "https://ok.example/%E2%9C%93"]


@pytest.mark.parametrize("url", REFUSED, ids=repr)
def test_refused_urls_become_no_link(url):
    assert safe_url(url) is None


@pytest.mark.parametrize("url", ACCEPTED)
def test_plain_http_urls_pass_unchanged(url):
    assert safe_url(url) == url


# (An HTML parser turns NUL into U+FFFD before anything sees it: harmless there.)
@pytest.mark.parametrize("url", [u for u in REFUSED if isinstance(u, str) and u and not u.startswith(("/", " "))
                                 and "\x00" not in u], ids=repr)
def test_the_sanitizer_drops_what_the_rule_refuses(url):
    html = sanitize_html(f'<p><a href="{url}">lien</a><img src="{url}" alt="x"></p>')
    assert "href=" not in html and "src=" not in html, html


def test_the_sanitizer_keeps_local_paths_fragments_and_mail():
    html = sanitize_html('<a href="/tags/jardin">a</a><a href="#note">b</a><a href="mailto:a@b.example">c</a>'
                         '<img src="/media/01J/photo.png" alt="p"><a href="https://ok.example/">d</a>')
    for kept in ('href="/tags/jardin"', 'href="#note"', 'href="mailto:a@b.example"', 'src="/media/01J/photo.png"',
                 'href="https://ok.example/"'):
        assert kept in html
    assert 'src="mailto:' not in sanitize_html('<img src="mailto:a@b.example">')
