"""Brakes on what searching costs: the search pages, their JSON and feeds, the map, the agenda.

A search costs what its words and facets make it cost: a few milliseconds for a rare word, about
1.7 s on a 100,000-item island for quoted phrases of common words, as many as a query's 200
characters hold (archipel/search_terms.py). Nothing else a visitor can ask costs that much, so
two brakes:

- a budget of time per client address (the real one behind trusted proxies): each search is
  charged the time it took, `search_seconds_per_minute` refill each minute, and past the budget
  the address is answered 429 with `Retry-After` until it refills. Time, not a count of
  requests: a reader paging through cheap searches never meets it, one sending the costliest
  queries does after a few;
- a bound on searches running at once (`concurrent_searches`, and `waiting_searches` more queued
  behind them; past both, 503 with `Retry-After`), `searches_per_address` of them at most from
  one address (429 past that): many addresses searching together can slow searching down, never
  take the processors and database connections from the other pages. Measured on the
  100,000-item island, two processors (benchmarks/search_brakes.py): eight addresses sending the
  costliest query in a loop took the home page from 40 to 223 ms (p50) with no bound, 37 ms with
  two searches at once.

In memory, per process, as the other brakes (archipel/ratelimit.py).
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from archipel.ratelimit import SpendingLimiter
from web import appkeys

# What a 503 asks to wait: searches running at once finish in well under a few seconds.
BUSY_RETRY_SECONDS = 5


class SearchGate:
    """At most `running` searches at once and `waiting` more queued, at most `per_address` of
    them (running or waiting; 0: no limit) from one address: past the queue, `Busy`; past an
    address's share, `TooMany`. The share keeps one address sending searches in parallel from
    filling the queue that everyone else waits in."""

    class Busy(Exception):
        pass

    class TooMany(Exception):
        pass

    def __init__(self, running: int, waiting: int, per_address: int):
        self._slots = asyncio.Semaphore(max(1, running))
        self._waiting = 0
        self.waiting_limit = max(0, waiting)
        self.per_address = max(0, per_address)
        self._by_address: dict[str, int] = {}  # running or waiting; an address leaves at 0

    @property
    def waiting(self) -> int:
        return self._waiting

    @asynccontextmanager
    async def slot(self, address: str):
        if self.per_address and self._by_address.get(address, 0) >= self.per_address:
            raise SearchGate.TooMany
        if self._slots.locked() and self._waiting >= self.waiting_limit:
            raise SearchGate.Busy
        self._by_address[address] = self._by_address.get(address, 0) + 1
        try:
            self._waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self._waiting -= 1
            try:
                yield
            finally:
                self._slots.release()
        finally:
            self._by_address[address] -= 1
            if not self._by_address[address]:
                del self._by_address[address]


BUDGET = web.AppKey("search_budget", SpendingLimiter)
GATE = web.AppKey("search_gate", SearchGate)


def setup(app: web.Application) -> None:
    settings = app[appkeys.SETTINGS]
    app[BUDGET] = SpendingLimiter(settings.search_seconds_per_minute)
    app[GATE] = SearchGate(settings.concurrent_searches, settings.waiting_searches, settings.searches_per_address)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guarded(handler: Handler) -> Handler:
    """A route that searches, behind both brakes: charged the time its answer took."""
    @functools.wraps(handler)
    async def guarded_handler(request: web.Request) -> web.StreamResponse:
        budget, address = request.app[BUDGET], request.remote or "unknown"
        wait = budget.retry_after(address)
        if wait:
            raise web.HTTPTooManyRequests(headers={"Retry-After": str(math.ceil(wait))})
        loop = asyncio.get_running_loop()
        try:
            async with request.app[GATE].slot(address):
                started = loop.time()
                try:
                    return await handler(request)
                finally:
                    budget.spend(address, loop.time() - started)
        except SearchGate.TooMany:
            raise web.HTTPTooManyRequests(headers={"Retry-After": str(BUSY_RETRY_SECONDS)}) from None
        except SearchGate.Busy:
            raise web.HTTPServiceUnavailable(headers={"Retry-After": str(BUSY_RETRY_SECONDS)}) from None
    return guarded_handler
