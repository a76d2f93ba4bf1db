"""Searching cannot be turned against the island (web/search_guard.py): each client address has
a budget of search time (429 with Retry-After past it, whichever route searches), searches
running at once are bounded (503 past those running and waiting, 429 past an address's share of
them), and the other pages stay open to everyone meanwhile."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from archipel.ratelimit import SpendingLimiter
from tests.nodes import wait_for
from web.search_guard import GATE, SearchGate

# Every route that runs a search, with words where it takes them.
SEARCHING = ("/recherche?q=atelier", "/recherche.json?q=atelier", "/recherche.atom?q=atelier",
             "/carte?q=atelier", "/carte/embed?q=atelier", "/carte.geojson?q=atelier",
             "/agenda?q=atelier", "/agenda.ics?q=atelier")


async def get(http, url: str, *, client: str, lang: str = "fr", accept: str = "text/html"):
    headers = {"X-Forwarded-For": client, "Accept-Language": lang, "Accept": accept}
    async with http.get(url, headers=headers) as response:
        return response.status, await response.text(), response.headers


def test_a_budget_of_time_drains_and_refills():
    now = [1000.0]
    budget = SpendingLimiter(6.0, clock=lambda: now[0], max_keys=2)  # 6 s a minute: 0.1 s refilled each second
    budget.spend("a", 5.0)
    assert budget.retry_after("a") == 0  # under the budget: it may search again
    budget.spend("a", 2.0)  # 7 s spent: over by 1 s, refilled in 10 s
    assert budget.retry_after("a") == pytest.approx(10.0)
    assert budget.retry_after("b") == 0  # another address is not concerned
    now[0] += 10.0
    assert budget.retry_after("a") > 0  # exactly full is still full
    now[0] += 0.5
    assert budget.retry_after("a") == 0
    budget.spend("b", 1.0)
    budget.spend("c", 1.0)  # a third address: the one seen least recently (a) is forgotten
    assert budget.retry_after("a") == 0 and set(budget._levels) == {"b", "c"}
    unlimited = SpendingLimiter(0.0)
    unlimited.spend("a", 1e9)
    assert unlimited.retry_after("a") == 0  # 0: no limit


async def test_the_gate_lets_some_run_queues_some_and_turns_the_rest_away():
    gate = SearchGate(running=1, waiting=2, per_address=2)
    order = []
    release = asyncio.Event()

    async def search(name: str, address: str):
        async with gate.slot(address):
            order.append(name)
            await release.wait()

    async def one_more(address: str):
        # Bounded: a search queued where it should be turned away fails here instead of waiting.
        await asyncio.wait_for(one_more_in(gate, address), 5)

    first = asyncio.create_task(search("first", "a"))
    await wait_for(lambda: order == ["first"])
    second = asyncio.create_task(search("second", "a"))
    await wait_for(lambda: gate.waiting == 1)
    with pytest.raises(SearchGate.TooMany):  # a third search from one address, one running and one waiting
        await one_more("a")
    third = asyncio.create_task(search("third", "b"))
    await wait_for(lambda: gate.waiting == 2)
    with pytest.raises(SearchGate.Busy):  # the queue is full, for everyone
        await one_more("c")
    # A client gone while waiting (its handler cancelled) frees its place in the queue and its share.
    second.cancel()
    await asyncio.gather(second, return_exceptions=True)
    assert gate.waiting == 1
    fourth = asyncio.create_task(search("fourth", "a"))
    await wait_for(lambda: gate.waiting == 2)
    release.set()
    await asyncio.gather(first, third, fourth)
    assert order == ["first", "third", "fourth"] and gate.waiting == 0 and not gate._by_address
    unshared = SearchGate(running=1, waiting=5, per_address=0)  # 0: no share per address
    async with unshared.slot("a"):
        waiting = [asyncio.create_task(one_more_in(unshared, "a")) for _ in range(3)]
        await wait_for(lambda: unshared.waiting == 3)
    await asyncio.gather(*waiting)


async def one_more_in(gate: SearchGate, address: str):
    async with gate.slot(address):
        pass


async def test_an_address_past_its_search_budget_waits_and_nobody_else_does(make_island):
    # A budget so small that one search spends it: the next ones from that address are refused.
    island = await make_island("brest", trusted_proxies=("127.0.0.1",), search_seconds_per_minute=0.001)
    await island.add_user("alice")
    fiche = await island.publish("alice", "Atelier de réparation de vélos")
    async with aiohttp.ClientSession() as http:
        status, page, _ = await get(http, f"{island.url}/recherche?q=atelier", client="203.0.113.7")
        assert status == 200 and "réparation de vélos" in page
        for path in SEARCHING:
            status, _, headers = await get(http, island.url + path, client="203.0.113.7")
            assert status == 429 and int(headers["Retry-After"]) >= 1, path
        status, page, _ = await get(http, f"{island.url}/recherche?q=atelier", client="203.0.113.7")
        assert "Beaucoup de recherches en peu de temps" in page and "Réessayez dans une minute" in page
        assert 'name="q" type="search" maxlength="200" value="atelier"' in page  # the words kept to try again
        status, page, _ = await get(http, f'{island.url}/recherche?q="><b>atelier', client="203.0.113.7")
        assert status == 429 and "<b>atelier" not in page and 'value="&#34;&gt;&lt;b&gt;atelier"' in page
        status, page, _ = await get(http, f"{island.url}/recherche?q=atelier", client="203.0.113.7", lang="en")
        assert status == 429 and "Many searches in a short time" in page
        status, body, _ = await get(http, f"{island.url}/recherche.json?q=atelier", client="203.0.113.7",
                                    accept="application/json")
        assert status == 429 and "<html" not in body
        # The same address still reads every other page.
        for path in ("/", "/federated", "/themes", fiche.removeprefix(island.url)):
            status, _, _ = await get(http, island.url + path, client="203.0.113.7")
            assert status == 200, path
        # Another address searches (the real one, behind the trusted proxy).
        status, page, _ = await get(http, f"{island.url}/recherche?q=atelier", client="198.51.100.9")
        assert status == 200 and "réparation de vélos" in page


async def test_searches_past_those_running_and_waiting_are_turned_away(make_island):
    island = await make_island("brest", trusted_proxies=("127.0.0.1",), concurrent_searches=1, waiting_searches=2,
                               searches_per_address=2)
    await island.add_user("alice")
    fiche = await island.publish("alice", "Atelier de réparation de vélos")
    gate = island.app[GATE]
    # Bounded: a search that queued instead of being turned away fails here instead of waiting forever.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        async with gate.slot("the test"):  # a search running as long as the test wants
            queued = [asyncio.create_task(get(http, f"{island.url}/recherche?q=atelier", client="203.0.113.7"))
                      for _ in range(2)]
            await wait_for(lambda: gate.waiting == 2)
            for path in SEARCHING:  # a third from the same address: its share is taken
                status, _, headers = await get(http, island.url + path, client="203.0.113.7")
                assert status == 429 and int(headers["Retry-After"]) >= 1, path
            for path in SEARCHING:  # from any other address: the queue is full
                status, _, headers = await get(http, island.url + path, client="198.51.100.9")
                assert status == 503 and int(headers["Retry-After"]) >= 1, path
            status, page, _ = await get(http, f"{island.url}/carte?q=atelier", client="198.51.100.9")
            assert "L'île est très occupée" in page
            for path in ("/", "/federated", fiche.removeprefix(island.url)):
                status, _, _ = await get(http, island.url + path, client="198.51.100.9")
                assert status == 200, path
            assert not any(task.done() for task in queued)
        for status, page, _ in await asyncio.gather(*queued):  # their turn came
            assert status == 200 and "réparation de vélos" in page
        status, _, _ = await get(http, f"{island.url}/recherche?q=atelier", client="198.51.100.9")
        assert status == 200
