"""What the database half of `/metrics` costs on a full island: 100,000 items (archipelago_fill),
plus 100,000 finished deliveries and 100,000 processed incoming activities (the history every
island accumulates) and a backlog of 1,000 pending deliveries and 1,000 received activities.

    python -m benchmarks.metrics_scrape [--items N] [--postgresql URL_OF_AN_EMPTY_DATABASE] [--keep DIR]

--keep DIR fills the island in DIR once and measures it again on later runs.

Prints the fastest, the median and the slowest of 50 reads of web.metrics.database_families.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

from archipel.settings import load_settings
from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage.tables import Delivery, IncomingActivity, LocalActor, OutgoingActivity, utcnow
from benchmarks.archipelago_fill import fill
from web import provision
from web.metrics import database_families


async def history(sessions, rows: int, backlog: int) -> None:
    now = utcnow()
    async with sessions() as session:
        actor_id = await session.scalar(select(LocalActor.id).limit(1))
        outgoing = (await session.execute(insert(OutgoingActivity).values(
            activity_uri="https://bench.example/activities/1", activity_type="Create", actor_id=actor_id,
            payload={}, created_at=now).returning(OutgoingActivity.id))).scalar_one()
        for start in range(0, rows + backlog, 10_000):
            end = min(start + 10_000, rows + backlog)
            await session.execute(insert(Delivery), [
                {"outgoing_id": outgoing, "inbox_url": f"https://h{n % 500}.example/inbox/{n}",
                 "host": f"h{n % 500}.example", "state": "sent" if n < rows else "pending", "attempts": 1,
                 "next_try_at": now, "created_at": now - timedelta(seconds=n), "finished_at": now}
                for n in range(start, end)])
            await session.execute(insert(IncomingActivity), [
                {"activity_uri": f"https://h{n % 500}.example/a/{n}", "activity_type": "Like",
                 "actor_uri": f"https://h{n % 500}.example/u", "actor_host": f"h{n % 500}.example",
                 "signer_uri": f"https://h{n % 500}.example/u#key", "body_trusted": True, "payload": {},
                 "state": "processed" if n < rows else "received", "attempts": 0, "received_at": now}
                for n in range(start, end)])
        await session.commit()


def progress(done: int, total: int) -> None:
    if done % 20_000 == 0 or done == total:
        print(f"   … {done:,} / {total:,} items", flush=True)


async def run(items: int, database_url: str | None, keep: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(keep) if keep else Path(folder) / "ile"
        filled = directory.joinpath("archipel.toml").exists()
        if filled:
            settings = load_settings(directory)
        else:
            settings = await provision.create_island(directory, url="http://127.0.0.1:9", name="Île du banc",
                                                     handle="ile", database_url=database_url,
                                                     allow_private_networks=True)
        engine = make_engine(settings.effective_database_url)
        sessions = make_sessionmaker(engine)
        try:
            if not filled:
                started = time.monotonic()
                await fill(sessions, settings.url, items=items, progress=progress)
                await history(sessions, items, 1_000)
                print(f"filled in {time.monotonic() - started:.0f} s", flush=True)
            database_url = settings.database_url or None
            times = []
            for _ in range(50):
                started = time.perf_counter()
                async with sessions() as session:
                    await database_families(session)
                times.append(time.perf_counter() - started)
            backend = "postgresql" if database_url else "sqlite"
            print(f"{backend}: {items:,} items: scrape fastest {min(times) * 1000:.1f} ms, median "
                  f"{statistics.median(times) * 1000:.1f} ms, slowest {max(times) * 1000:.1f} ms")
        finally:
            await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--postgresql", metavar="URL")
    parser.add_argument("--keep", metavar="DIR")
    args = parser.parse_args()
    asyncio.run(run(args.items, args.postgresql, args.keep))


if __name__ == "__main__":
    main()
