"""Background loops stop when cancelled, even when the cancellation arrives just as they are
woken (Python 3.11's `asyncio.wait_for` returned normally then, and the loop went on polling:
the stop that cancels a late worker, or a test leaving it, waited for ever)."""

from __future__ import annotations

import asyncio

from federation import workers


async def ended(task: asyncio.Task) -> bool:
    done, _ = await asyncio.wait({task}, timeout=5)
    return task in done


async def test_a_loop_cancelled_as_it_is_woken_ends():
    wake, rounds = asyncio.Event(), []

    async def step() -> int:
        rounds.append(1)
        return 0
    task = asyncio.create_task(workers.run_forever(step, wake, 60, "idle"))
    await asyncio.sleep(0.05)  # one round, then asleep on `wake`
    wake.set()
    task.cancel()
    assert await ended(task), f"still polling after {len(rounds)} rounds"
    assert task.cancelled()


async def test_a_wait_cancelled_as_its_event_is_set_is_cancelled():
    event = asyncio.Event()
    waiting = asyncio.create_task(workers.woken(event, 60))
    await asyncio.sleep(0.05)
    event.set()
    waiting.cancel()
    assert await ended(waiting) and waiting.cancelled()


async def test_a_wait_says_whether_it_was_woken_or_timed_out():
    event = asyncio.Event()
    assert await workers.woken(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await workers.woken(event, 60) is True
