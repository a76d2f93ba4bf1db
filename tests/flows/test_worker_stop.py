"""An island that stops while its inbox worker is in the middle of a round: the worker is asked
to stop, not cancelled; it hands back what it claimed and has not reached, nothing is lost, and
nothing is applied twice when the island starts again."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, select

from archipel.storage.engine import make_engine
from archipel.storage.tables import IncomingActivity, Interaction, utcnow
from federation.handlers import HANDLERS
from tests.flows.test_inbox_fairness import like, send_all
from tests.nodes import wait_for


async def test_stopping_mid_round_hands_back_the_claims_and_loses_nothing(make_island, remote, monkeypatch,
                                                                        caplog):
    island = await make_island("brest", workers=False)  # the likes are queued first
    await island.add_user("alice")
    articles = [await island.publish("alice", f"Fiche {n}") for n in range(5)]
    names = [f"a{n}" for n in range(60)]
    for name in names:
        remote.add_actor(name)
    handle_like = HANDLERS[("Like", None)]

    async def slow_like(ctx):  # a round then lasts long enough to be stopped in its middle
        await asyncio.sleep(0.02)
        await handle_like(ctx)
    monkeypatch.setitem(HANDLERS, ("Like", None), slow_like)
    likes = [like(remote, name, n, article) for name in names for n, article in enumerate(articles)]

    await send_all(remote, f"{island.url}/inbox", likes)
    await island.restart()  # now with its workers
    await wait_for(lambda: _count(island, Interaction), message="the worker has started")
    caplog.set_level(logging.WARNING, logger="federation.workers")
    await island.stop()

    assert not [r for r in caplog.records if "did not stop" in r.message], "a worker had to be cancelled"
    engine = make_engine(island.settings.effective_database_url)  # the island's own is closed now
    try:
        async with engine.connect() as connection:
            waiting = (await connection.execute(select(IncomingActivity.activity_uri, IncomingActivity.next_try_at)
                                                .where(IncomingActivity.state == "received"))).all()
    finally:
        await engine.dispose()
    assert waiting, "everything was handled before the stop: the test proves nothing"
    leased = [uri for uri, next_try in waiting if next_try is not None and next_try > utcnow()]
    assert leased == [], "claims kept their lease: they would wait two minutes after a restart"

    await island.restart()
    await wait_for(lambda: _all_settled(island), timeout=30, message="the rest handled after the restart")
    assert await _count(island, Interaction) == len(likes)
    async with island.sessions() as session:
        states = dict((await session.execute(select(IncomingActivity.state, func.count())
                                             .group_by(IncomingActivity.state))).all())
    assert states == {"processed": len(likes)}


async def _count(island, model) -> int:
    async with island.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def _all_settled(island) -> bool:
    async with island.sessions() as session:
        return not await session.scalar(select(func.count()).select_from(IncomingActivity)
                                        .where(IncomingActivity.state == "received"))
