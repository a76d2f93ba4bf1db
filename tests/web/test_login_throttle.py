"""Logins resist guessing: failures are limited per client address and per account name (429
with Retry-After, the form usable again once the window frees), and an unknown name runs the
same password hashing as a known one."""

from __future__ import annotations

import asyncio
import re
import threading

import aiohttp
import pytest

from archipel import passwords

PASSWORD = "correct horse battery"


def browser_like() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def csrf(http, island) -> str:
    async with http.get(f"{island.url}/login") as response:
        return re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)


async def attempt(http, island, username: str, password: str, *, client: str | None = None,
                  lang: str = "fr") -> tuple[int, str, dict]:
    """One login; `client` is the address a trusted proxy says the request came from."""
    headers = {"Accept-Language": lang}
    if client:
        headers["X-Forwarded-For"] = client
    form = {"csrf_token": await csrf(http, island), "username": username, "password": password}
    async with http.post(f"{island.url}/login", data=form, headers=headers, allow_redirects=False) as response:
        return response.status, await response.text(), dict(response.headers)


async def test_failures_from_one_address_are_throttled_whatever_the_names(make_island):
    island = await make_island("brest", trusted_proxies=("127.0.0.1",), login_failures_per_address=3,
                               login_failures_per_account=100, login_failure_window_minutes=0.03)
    await island.add_user("alice")
    async with browser_like() as http:
        for name in ("alice", "bob", "ALICE "):
            status, _, _ = await attempt(http, island, name, "guess", client="203.0.113.7")
            assert status == 401, name
        # Over the limit: refused even with the right password, with a time to wait.
        status, page, headers = await attempt(http, island, "alice", PASSWORD, client="203.0.113.7")
        assert status == 429 and int(headers["Retry-After"]) >= 1
        assert "Trop de tentatives" in page and 'name="password"' in page
        assert "archipel_session" not in headers.get("Set-Cookie", "")
        status, page, _ = await attempt(http, island, "zoe", "guess", client="203.0.113.7", lang="en")
        assert status == 429 and "Too many failed login attempts" in page
        # Another address is not concerned (the real one, behind the trusted proxy).
        status, _, _ = await attempt(http, island, "alice", PASSWORD, client="198.51.100.9")
        assert status == 303
        # Once the window has passed, the form works again for the first address.
        await asyncio.sleep(int(headers["Retry-After"]) + 0.1)
        status, _, _ = await attempt(http, island, "alice", PASSWORD, client="203.0.113.7")
        assert status == 303


async def test_failures_on_one_account_are_throttled_whatever_the_addresses(make_island):
    island = await make_island("brest", trusted_proxies=("127.0.0.1",), login_failures_per_address=100,
                               login_failures_per_account=3)
    await island.add_user("alice")
    await island.add_user("bob")
    async with browser_like() as http:
        for number in range(3):
            status, _, _ = await attempt(http, island, "alice", "guess", client=f"203.0.113.{number}")
            assert status == 401
        for spelling in ("alice", " Alice", "ALICE"):
            status, _, headers = await attempt(http, island, spelling, PASSWORD, client="198.51.100.1")
            assert status == 429 and int(headers["Retry-After"]) > 60, spelling
        # Other accounts log in as usual.
        status, _, _ = await attempt(http, island, "bob", PASSWORD, client="203.0.113.0")
        assert status == 303


async def test_a_successful_login_clears_the_accounts_failures(make_island):
    island = await make_island("brest", login_failures_per_address=100, login_failures_per_account=3)
    await island.add_user("alice")
    async with browser_like() as http:
        for _ in range(2):
            assert (await attempt(http, island, "alice", "guess"))[0] == 401
        assert (await attempt(http, island, "alice", PASSWORD))[0] == 303
        for _ in range(2):
            assert (await attempt(http, island, "alice", "guess"))[0] == 401
        assert (await attempt(http, island, "alice", PASSWORD))[0] == 303


async def test_attempts_sent_together_cannot_slip_past_the_limit(make_island):
    island = await make_island("brest", login_failures_per_address=100, login_failures_per_account=3)
    await island.add_user("alice")
    async with browser_like() as http:
        token = await csrf(http, island)

        async def one(number: int) -> int:
            form = {"csrf_token": token, "username": "alice", "password": f"guess {number}"}
            async with http.post(f"{island.url}/login", data=form, allow_redirects=False) as response:
                return response.status

        statuses = await asyncio.gather(*(one(n) for n in range(12)))
    assert sorted(statuses) == [401] * 3 + [429] * 9


async def test_unknown_and_known_names_both_run_the_password_hash(island, monkeypatch):
    calls: list[bool] = []  # for each hash: did it run off the event loop's thread?
    real = passwords._scrypt

    def counting(*args, **kwargs):
        calls.append(threading.current_thread() is not threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(passwords, "_scrypt", counting)
    passwords.dummy_hash()  # made once per process: not part of what is counted below
    async with browser_like() as http:
        for username, password in (("nobody", PASSWORD), ("alice", "wrong"), ("x" * 500, "y" * 5000),
                                   ("alice", PASSWORD)):
            before = len(calls)
            status, _, _ = await attempt(http, island, username, password)
            assert status in (401, 303), username[:20]
            assert len(calls) == before + 1, username[:20]
    assert all(calls), "scrypt ran on the event loop's thread"


def test_the_dummy_hash_never_matches():
    assert not passwords.verify_password("", None)
    assert not passwords.verify_password(PASSWORD, None)
    stored = passwords.hash_password(PASSWORD)
    assert passwords.verify_password(PASSWORD, stored)
    assert not passwords.verify_password(PASSWORD + "x" * 2000, passwords.hash_password(PASSWORD + "x" * 2000))


@pytest.mark.parametrize("limit", [0])
async def test_zero_switches_the_throttle_off(make_island, limit):
    island = await make_island("brest", login_failures_per_address=limit, login_failures_per_account=limit)
    await island.add_user("alice")
    async with browser_like() as http:
        for _ in range(4):
            assert (await attempt(http, island, "alice", "guess"))[0] == 401
        assert (await attempt(http, island, "alice", PASSWORD))[0] == 303
