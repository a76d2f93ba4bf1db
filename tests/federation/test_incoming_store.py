"""The grouped inbox commit: one row the database refuses fails its own request, never the
genuine rows committed with it (on PostgreSQL a refused row aborts the whole transaction)."""

from __future__ import annotations

import asyncio

import pytest

from archipel.bounds import OutOfBounds
from federation.incoming_store import IncomingStore


def row(n: int | str, **changes) -> dict:
    actor = "https://mastodon.example/users/rosa"
    return {"activity_uri": f"{actor}#likes/{n}", "activity_type": "Like", "actor_uri": actor,
            "signer_uri": actor, "body_trusted": True,
            "payload": {"type": "Like", "id": f"{actor}#likes/{n}"}, **changes}


# Rows that pass the checks made before batching but that the database layer refuses.
UNSTORABLE = {
    "payload that is not JSON": lambda databases: {"payload": {"values": {1, 2}}},
    "NaN in the payload": lambda databases: (
        {"payload": {"rating": float("nan")}} if databases.backend == "postgresql" else None),
    "Infinity in the payload": lambda databases: (
        {"payload": {"rating": [1.5, float("-inf")]}} if databases.backend == "postgresql" else None),
}


@pytest.fixture
async def store(make_island):
    island = await make_island("stock", workers=False)
    store = IncomingStore(island.sessions)
    await store.start()
    yield store, island
    await store.stop()


async def stored_uris(island) -> list[str]:
    return sorted(r.activity_uri for r in await island.incoming())


@pytest.mark.parametrize("shape", list(UNSTORABLE))
@pytest.mark.parametrize("position", [0, 7, 19])
async def test_a_refused_row_fails_alone_in_its_batch(store, databases, shape, position):
    store, island = store
    changes = UNSTORABLE[shape](databases)
    if changes is None:
        pytest.skip(f"{databases.backend} stores this value")
    rows = [row(n) for n in range(20)]
    rows[position] = row("bad", **changes)
    results = await asyncio.gather(*(store.add(**values) for values in rows), return_exceptions=True)
    assert isinstance(results[position], OutOfBounds)
    assert [r for i, r in enumerate(results) if i != position] == [True] * 19
    assert await stored_uris(island) == sorted(row(n)["activity_uri"] for n in range(20) if n != position)


async def test_several_refused_rows_in_one_batch(store):
    store, island = store
    rows = [row(n, payload={"bad": {n}}) if n % 5 == 0 else row(n) for n in range(30)]
    results = await asyncio.gather(*(store.add(**values) for values in rows), return_exceptions=True)
    assert [isinstance(r, OutOfBounds) for r in results] == [n % 5 == 0 for n in range(30)]
    assert len(await stored_uris(island)) == 24


@pytest.mark.parametrize("changes", [
    {"activity_uri": "https://mastodon.example/" + "x" * 2_000},
    {"activity_uri": "https://mastodon.example/a b"},
    {"activity_uri": "https://mastodon.example/\u0000"},
    {"actor_uri": "https://mastodon.example/" + "x" * 2_000},
    {"signer_uri": ""},
])
async def test_values_that_do_not_fit_are_refused_before_batching(store, changes):
    store, island = store
    bad, good = store.add(**row("bad", **changes)), store.add(**row("good"))
    results = await asyncio.gather(bad, good, return_exceptions=True)
    assert isinstance(results[0], OutOfBounds) and results[1] is True
    assert await stored_uris(island) == [row("good")["activity_uri"]]


async def test_a_repeated_id_in_a_refused_batch_is_still_stored_once(store):
    store, island = store
    rows = [row(1), row(1), row("bad", payload={"bad": {1}}), row(2)]
    results = await asyncio.gather(*(store.add(**values) for values in rows), return_exceptions=True)
    assert results[0] is True and results[1] is False and results[3] is True
    assert isinstance(results[2], OutOfBounds)
    assert await stored_uris(island) == sorted([row(1)["activity_uri"], row(2)["activity_uri"]])


async def test_the_worker_is_owed_only_what_was_stored(store):
    """The worker of the same process keeps pace with what the store wrote (write_turns.py): a
    repeated activity, never stored, is nothing for it to catch up with."""
    from federation.write_turns import WriteTurns

    store, island = store
    store.write_turns = WriteTurns(one_writer=False)
    results = await asyncio.gather(store.add(**row(1)), store.add(**row(1)), store.add(**row(2)))
    assert sorted(results) == [False, True, True]
    assert await store.add(**row(2)) is False
    assert store.write_turns.worker_batch(0, 1000) == 2

