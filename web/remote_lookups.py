"""Looking up another server on behalf of a visitor (/suivre, /authorize_interaction), without
letting the page become a port scanner.

Two brakes: a rate limit per client address (the real one behind trusted proxies), and one answer
for every failure. Whatever went wrong — a refused private address, a closed port, a name that
does not resolve, garbage, a server too slow — the caller gets None *after exactly
`remote_lookup_seconds`*, so neither the page nor its timing tells what the address did.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import web

from archipel.ratelimit import RateLimiter
from web import appkeys

log = logging.getLogger(__name__)
T = TypeVar("T")

LIMITER = web.AppKey("remote_lookup_limiter", RateLimiter)


def setup(app: web.Application) -> None:
    app[LIMITER] = RateLimiter(app[appkeys.SETTINGS].remote_lookups_per_hour, 3600.0)


def refused_for(request: web.Request) -> int | None:
    """Count a look-up for this client; None if allowed, else the seconds of its Retry-After."""
    limiter, address = request.app[LIMITER], request.remote or "unknown"
    if limiter.allow(address):
        return None
    return max(1, math.ceil(limiter.retry_after(address)))


async def bounded(request: web.Request, lookup: Awaitable[T]) -> T | None:
    """The result of `lookup`, or None — always at the deadline — if it failed in any way."""
    seconds = request.app[appkeys.SETTINGS].remote_lookup_seconds
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        async with asyncio.timeout(seconds):  # not wait_for: see federation.workers.woken
            return await lookup
    except Exception as error:  # noqa: BLE001 - every failure must look the same, whatever it was
        log.info("remote look-up failed: %s", type(error).__name__)
    await asyncio.sleep(max(0.0, deadline - loop.time()))
    return None
