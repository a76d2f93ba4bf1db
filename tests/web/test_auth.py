"""Logging in and out, cookies, CSRF on every form."""

import re

import aiohttp
from yarl import URL

from web.auth import CSRF_COOKIE, SESSION_COOKIE


def browser_like() -> aiohttp.ClientSession:
    """Keeps cookies of IP-address hosts, as browsers do (aiohttp's default jar drops them)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def hidden_csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def login_page(http, island):
    async with http.get(f"{island.url}/login") as response:
        assert response.status == 200
        return hidden_csrf(await response.text())


async def test_login_then_logout(island):
    async with browser_like() as http:
        token = await login_page(http, island)
        form = {"csrf_token": token, "username": "alice", "password": "correct horse battery", "next": "/@alice"}
        async with http.post(f"{island.url}/login", data=form, allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/@alice"
            cookie = response.cookies[SESSION_COOKIE]
            assert cookie["httponly"] and cookie["samesite"] == "Lax"
        async with http.get(f"{island.url}/") as response:
            html = await response.text()
            assert "Se déconnecter" in html
            session_csrf = hidden_csrf(html)
        async with http.post(f"{island.url}/logout", data={"csrf_token": session_csrf},
                             allow_redirects=False) as response:
            assert response.status == 303
        async with http.get(f"{island.url}/") as response:
            assert "Se déconnecter" not in await response.text()


async def test_wrong_password_and_unknown_user_get_the_same_answer(island):
    async with browser_like() as http:
        token = await login_page(http, island)
        for username, password in (("alice", "wrong"), ("nobody", "correct horse battery")):
            form = {"csrf_token": token, "username": username, "password": password}
            async with http.post(f"{island.url}/login", data=form, allow_redirects=False) as response:
                assert response.status == 401
                assert "incorrect" in await response.text()
                assert SESSION_COOKIE not in response.cookies


async def test_posts_without_the_right_csrf_token_are_refused(island):
    async with browser_like() as http:
        await login_page(http, island)
        form = {"username": "alice", "password": "correct horse battery"}
        async with http.post(f"{island.url}/login", data=form, allow_redirects=False) as response:
            assert response.status == 403
        async with http.post(f"{island.url}/login", data={**form, "csrf_token": "forged"},
                             allow_redirects=False) as response:
            assert response.status == 403
    async with aiohttp.ClientSession() as fresh:  # a cross-site form has no cookie at all
        async with fresh.post(f"{island.url}/login", data={**form, "csrf_token": "x"}) as response:
            assert response.status == 403


async def test_login_never_redirects_off_site(island):
    async with browser_like() as http:
        token = await login_page(http, island)
        form = {"csrf_token": token, "username": "alice", "password": "correct horse battery",
                "next": "//evil.example/"}
        async with http.post(f"{island.url}/login", data=form, allow_redirects=False) as response:
            assert response.headers["Location"] == "/espace"
        assert http.cookie_jar.filter_cookies(URL(island.url)).get(CSRF_COOKIE) is not None
