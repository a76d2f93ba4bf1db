"""The loop shared by background workers: step until idle, then sleep until woken or polled,
and the way they stop.

Workers expose `run_once()` (what tests call) and this loop runs it in production. Polling
catches work written by other processes (a CLI command next to `archipel serve`); the event
wakes the worker at once for work written in this process.

A worker is asked to stop (`Stopping`), not cancelled: it finishes the round it is in, which
commits or hands back what it claimed, and the loop ends. Cancelling a task in the middle of a
database transaction can leave a connection that never finishes closing (seen with aiosqlite),
so cancellation is kept for a worker that has not stopped within the grace period.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)

STOP_GRACE = 10.0  # seconds a worker has to finish its round once asked to stop


class Stopping:
    """Shared by the workers of one process: set once, when the process stops."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._wakes: list[asyncio.Event] = []

    def is_set(self) -> bool:
        return self._event.is_set()

    def watch(self, wake: asyncio.Event) -> None:
        """`wake` is set when stopping, so that a sleeping worker sees it at once."""
        self._wakes.append(wake)

    def set(self) -> None:
        self._event.set()
        for wake in self._wakes:
            wake.set()


async def woken(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set (True) or `seconds` have passed (False).

    Not `asyncio.wait_for`: on Python 3.11 it returns normally when a cancellation arrives just
    as the event is set, so a loop built on it goes on polling after it was cancelled, and
    whoever waits for it to end waits for ever. `asyncio.timeout` lets the cancellation through.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def run_forever(step: Callable[[], Awaitable[int]], wake: asyncio.Event, poll_interval: float,
                      name: str, stopping: Stopping | None = None) -> None:
    if stopping is not None:
        stopping.watch(wake)
    while stopping is None or not stopping.is_set():
        try:
            done = await step()
        except Exception:
            log.exception("%s round failed", name)
            done = 0
        if done == 0 and (stopping is None or not stopping.is_set()):
            await woken(wake, poll_interval)
            wake.clear()


async def stop(tasks: Iterable[asyncio.Task], stopping: Stopping, grace: float = STOP_GRACE) -> None:
    """Ask the workers to stop, wait for them, and cancel those still running after `grace`."""
    tasks = list(tasks)
    stopping.set()
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=grace)
    for task in late:
        log.warning("%s did not stop within %.0f s: cancelled", task.get_name(), grace)
        task.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for task, outcome in zip(tasks, outcomes):
        if isinstance(outcome, Exception):
            log.error("%s ended with an error", task.get_name(), exc_info=outcome)


class Runner:
    """The background loops of one process, declared in one place (web/app.py) and shared by
    `archipel serve`'s roles: started together, asked to stop together, and watched (a loop
    that ended while the process runs is a dead worker)."""

    def __init__(self) -> None:
        self.stopping = Stopping()
        self._loops: list[tuple[str, Callable[[Stopping], Awaitable[None]]]] = []
        self._tasks: dict[str, asyncio.Task] = {}

    def add(self, name: str, run: Callable[[Stopping], Awaitable[None]]) -> None:
        """A loop that runs until `stopping` is set (the workers' own `run_forever`)."""
        self._loops.append((name, run))

    def every(self, name: str, step: Callable[[], Awaitable[int]], poll_interval: float,
              wake: asyncio.Event | None = None) -> None:
        """A loop of `step` rounds: again at once while it finds work, else after `poll_interval`
        or when `wake` is set."""
        self.add(name, lambda stopping: run_forever(step, wake or asyncio.Event(), poll_interval, name, stopping))

    def start(self) -> None:
        for name, run in self._loops:
            self._tasks[name] = asyncio.create_task(run(self.stopping), name=name)

    def alive(self) -> dict[str, bool]:
        return {name: not task.done() for name, task in self._tasks.items()}

    async def stop(self, grace: float = STOP_GRACE) -> None:
        await stop(self._tasks.values(), self.stopping, grace)
