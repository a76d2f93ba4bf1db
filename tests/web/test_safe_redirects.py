"""No open redirect: every request-given return target (the login's `next`, the login page a
member is sent to) is a path on this site, whatever the spelling."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
import pytest

from archipel.bounds import storable
from web.safe_redirects import local_path

# Spellings that browsers, proxies or URL parsers read as another host, or as a script.
HOSTILE = [
    "https://evil.example/", "http://evil.example", "//evil.example", "//evil.example/%2F..",
    "///evil.example", "/\\evil.example", "\\/evil.example", "\\\\evil.example", "/\\/evil.example",
    "/%09/evil.example", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example",
    "/%0d%0a/evil.example", "/x%00/", "/x\x00", " /espace", " //evil.example", "/espace ",
    "%2F%2Fevil.example", "/%2F%2Fevil.example", "/%2f/evil.example", "/%5Cevil.example", "/%5C%5Cevil.example",
    "/%252F%252Fevil.example", "/%25252F%25252Fevil.example",
    "javascript:alert(1)", "JavaScript:alert(1)", "/javascript:alert(1)//" + "%0a" + "x", "data:text/html,x",
    "http:/evil.example", "http:evil.example", "evil.example", "@evil.example", "espace",
    "/\uff0fevil.example", "/%EF%BC%8Fevil.example", "\uff0f\uff0fevil.example", "/\u2215\u2215evil.example",
    "/\u202eelpmaxe.live", "/%E2%80%AE/x", "/\u00a0/evil.example", "/%C2%A0//evil.example",
    "/../evil", "/%2e%2e/evil", "/x/%2E%2E/%2E%2E//evil.example", "/%ff", "/" + "a" * 2001, "", None, 42,
]
LOCAL = ["/", "/espace", "/@alice", "/espace/items?done=1&x=2", "/tags/%C3%A9ducation", "/r/12#discussion",
         "/authorize_interaction?uri=https%3A%2F%2Fm.example%2Fusers%2Fbob", "/a%20b"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_targets_fall_back_to_the_default(value):
    assert local_path(value, "/espace") == "/espace"


@pytest.mark.parametrize("value", LOCAL)
def test_paths_of_this_site_are_kept(value):
    assert local_path(value, "/espace") == value


def browser_like() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def hidden(html_page: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', html_page).group(1))


@pytest.fixture
async def island(make_island):
    node = await make_island("brest", login_failures_per_address=0, login_failures_per_account=0)
    await node.add_user("alice")
    return node


async def test_the_login_next_is_never_another_site(island):
    async with browser_like() as http:
        async with http.get(f"{island.url}/login") as response:
            token = hidden(await response.text(), "csrf_token")
        for value in [v for v in HOSTILE if isinstance(v, str) and v and not storable(v)]:
            # A NUL never reaches the login: the address, then the form, is refused (400), no redirect.
            async with http.get(f"{island.url}/login", params={"next": value}, allow_redirects=False) as response:
                assert response.status == 400 and "Location" not in response.headers, repr(value)
            form = {"csrf_token": token, "username": "alice", "password": "correct horse battery", "next": value}
            async with http.post(f"{island.url}/login", data=form, allow_redirects=False) as response:
                assert response.status == 400 and "Location" not in response.headers, repr(value)
        for value in [v for v in HOSTILE if isinstance(v, str) and v and storable(v)]:
            async with http.get(f"{island.url}/login", params={"next": value}) as response:
                page = await response.text()
            assert hidden(page, "next") == "/espace", value
            form = {"csrf_token": hidden(page, "csrf_token"), "username": "alice",
                    "password": "correct horse battery", "next": value}
            async with http.post(f"{island.url}/login", data=form, allow_redirects=False) as response:
                assert response.status == 303 and response.headers["Location"] == "/espace", value
        for value in LOCAL:
            async with http.get(f"{island.url}/login", params={"next": value}) as response:
                page = await response.text()
            form = {"csrf_token": hidden(page, "csrf_token"), "username": "alice",
                    "password": "correct horse battery", "next": hidden(page, "next")}
            async with http.post(f"{island.url}/login", data=form, allow_redirects=False) as response:
                location = response.headers["Location"]  # as aiohttp normalises it: the same URL
                assert response.status == 303 and unquote(location) == unquote(value), value


async def test_the_page_asked_before_logging_in_comes_back_whole(island):
    """The login page's `next` is the page asked for, query included (encoded, so that its `&`
    do not become parameters of the login page), and only ever a local path."""
    async with browser_like() as http:
        asked = "/authorize_interaction?uri=https://m.example/users/bob&done=1"
        async with http.get(f"{island.url}{asked}", allow_redirects=False) as response:
            assert response.status == 302
            location = response.headers["Location"]
        assert urlsplit(location).path == "/login" and not urlsplit(location).netloc
        assert parse_qs(urlsplit(location).query) == {"next": [asked]}
        async with http.get(f"{island.url}{location}") as response:
            assert hidden(await response.text(), "next") == asked
