"""The inbox's store and worker of one process: on PostgreSQL the store waits only when it is
too far ahead of the worker, and never longer than a bound (SQLite's turns are tested with the
worker, tests/flows/test_inbox_fairness.py)."""

from __future__ import annotations

import asyncio

import pytest

from federation import write_turns
from federation.write_turns import WriteTurns


async def entered(turns: WriteTurns) -> asyncio.Task:
    async def store():
        async with turns.store():
            return True
    task = asyncio.create_task(store())
    await asyncio.sleep(0.05)
    return task


async def test_the_store_writes_at_once_while_it_is_not_too_far_ahead():
    turns = WriteTurns(one_writer=False)
    turns.stored(write_turns.AHEAD - 1)
    assert (await entered(turns)).done()


async def test_the_store_too_far_ahead_waits_for_the_workers_next_step():
    turns = WriteTurns(one_writer=False)
    turns.stored(write_turns.AHEAD)
    waiting = await entered(turns)
    assert not waiting.done()
    turns.worked(10)
    assert await asyncio.wait_for(waiting, 1)


async def test_an_idle_worker_releases_the_store():
    turns = WriteTurns(one_writer=False)
    turns.stored(5 * write_turns.AHEAD)
    waiting = await entered(turns)
    assert not waiting.done()
    turns.idle()  # nothing was ready: what the store wrote is not the worker's debt any more
    assert await asyncio.wait_for(waiting, 1)
    assert (await entered(turns)).done()


async def test_a_stuck_worker_delays_the_store_only_for_a_bound(monkeypatch):
    monkeypatch.setattr(write_turns, "WAIT", 0.2)
    turns = WriteTurns(one_writer=False)
    turns.stored(write_turns.AHEAD)
    waiting = await entered(turns)
    assert not waiting.done()
    assert await asyncio.wait_for(waiting, 1)


@pytest.mark.parametrize("owed, expected", [(0, 25), (40, 65), (500, 100)])
def test_the_workers_batch_matches_what_the_store_wrote_and_a_little_more(owed, expected):
    turns = WriteTurns(one_writer=True)
    turns.stored(owed)
    assert turns.worker_batch(25, 100) == expected
    turns.worked(expected)
    assert turns.worker_batch(25, 100) == min(100, 25 + max(0, owed - expected))


async def test_a_store_cancelled_as_the_worker_catches_up_does_not_write():
    """The request behind the store went away (its client left) just as the worker's step
    ended the wait: the write it was waiting for does not happen."""
    turns = WriteTurns(one_writer=False)
    turns.stored(write_turns.AHEAD)
    waiting = await entered(turns)
    turns.worked(10)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, 5)
