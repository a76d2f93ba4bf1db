"""The loop shared by background workers: step until idle, then sleep until woken or polled.

Workers expose `run_once()` (what tests call) and this loop runs it in production. Polling
catches work written by other processes (a CLI command next to `archipel serve`); the event
wakes the worker at once for work written in this process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_forever(step: Callable[[], Awaitable[int]], wake: asyncio.Event, poll_interval: float,
                      name: str) -> None:
    while True:
        try:
            done = await step()
        except Exception:
            log.exception("%s round failed", name)
            done = 0
        if done == 0:
            try:
                await asyncio.wait_for(wake.wait(), poll_interval)
            except TimeoutError:
                pass
            wake.clear()
