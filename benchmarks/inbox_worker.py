"""The inbox worker alone, in process: statements and CPU per activity, by kind.

    .venv/bin/python -m benchmarks.inbox_worker [--count 900] [--kinds like follow reply mix] [--postgres]

An island made with `archipel init` (user `alice`, one article) is opened in this process with
its background workers off. For each kind, `--count` activities of 1,000 remote actors of that
kind's own (written into `remote_actors` first, fresh, so that nothing is fetched) are written straight into the
queue as the inbox stores them, then `InboxWorker.run_once` is stepped until the queue is empty:
CPU per activity (`time.process_time()`, which counts the database thread too), wall time, and
statements per activity (an engine event). `mix` is a third of each. No network: the Accepts
that Follows cause stay queued for delivery. Where `benchmarks.inbox_processing` measures the
worker beside the accepting side, this isolates what handling an activity costs.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from aiohttp import web
from sqlalchemy import event, func, insert, select

from archipel.settings import load_settings
from archipel.storage.tables import IncomingActivity, Notification, RemoteActor, utcnow
from benchmarks.common import (
    Island,
    add_database_arguments,
    backend_name,
    create_database,
    database_url_of,
    drop_database,
    header,
    line,
)
from benchmarks.inbox_processing import follow, like, reply
from federation.processing import InboxWorker
from web import appkeys
from web.app import create_app

REMOTE = "https://remote.example"
ACTORS = 1000


def activities(kind: str, count: int, article: str, alice: str, offset: int) -> list[dict]:
    made = []
    for number in range(offset, offset + count):
        actor = f"{REMOTE}/users/{kind}{number % ACTORS}"  # actors of their own: nothing repeated
        chosen = kind if kind != "mix" else ("like", "follow", "reply")[number % 3]
        if chosen == "like":
            made.append(like(actor, number, article))
        elif chosen == "follow":  # one id per actor: a new follow each time
            made.append({**follow(actor, alice), "id": f"{actor}/follows/{number}"})
        else:
            made.append(reply(actor, number, article))
    return made


async def measure(app: web.Application, kind: str, rows: list[dict]) -> None:
    sessions = app[appkeys.SESSIONS]
    engine = sessions.kw["bind"]
    now = utcnow()
    async with engine.begin() as connection:
        await connection.execute(insert(IncomingActivity), [dict(
            activity_uri=activity["id"], activity_type=activity["type"], actor_uri=activity["actor"],
            actor_host="remote.example", signer_uri=activity["actor"], body_trusted=True, payload=activity,
            state="received", attempts=0, received_at=now) for activity in rows])
    worker = InboxWorker(sessions, app[appkeys.DIRECTORY], base_url=app[appkeys.SETTINGS].url)
    statements = 0

    def count(*_) -> None:
        nonlocal statements
        statements += 1
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    started_cpu, started = time.process_time(), time.perf_counter()
    handled = 0
    while n := await worker.run_once():
        handled += n
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
    event.remove(engine.sync_engine, "before_cursor_execute", count)
    async with sessions() as session:
        states = dict((await session.execute(select(IncomingActivity.state, func.count())
                                             .where(IncomingActivity.activity_uri.in_([r["id"] for r in rows]))
                                             .group_by(IncomingActivity.state))).all())
        notices = await session.scalar(select(func.count(Notification.id)))
    line(f"{kind}: CPU per activity", f"{cpu / handled * 1000:.2f} ms",
         f"wall {wall / handled * 1000:.2f} ms; {statements / handled:.2f} statements each; "
         f"{handled:,} handled {states}; notices so far {notices:,}")


async def run(args) -> None:
    header("the inbox worker alone, in process", "inbox_worker")
    database_url = database_url_of(args)
    workdir = Path(tempfile.mkdtemp(prefix="archipel-bench-worker-"))
    island = Island(workdir / "island", database_url=database_url)
    island.reserve.close()  # opened in this process: no port needed
    if database_url:
        await create_database(database_url)
    try:
        island.init()
        alice = island.add_user("alice")
        article = island.publish("alice", "Une fiche", "Une fiche que l'on aime.")
        app = create_app(load_settings(island.directory), run_workers=False)
        runner = web.AppRunner(app)
        await runner.setup()
        try:
            now = utcnow()
            names = [f"{kind}{n}" for kind in args.kinds for n in range(ACTORS)]
            async with app[appkeys.SESSIONS].kw["bind"].begin() as connection:
                await connection.execute(insert(RemoteActor), [dict(
                    uri=f"{REMOTE}/users/{name}", host="remote.example", type="Person", username=name,
                    display_name=name, inbox=f"{REMOTE}/users/{name}/inbox", shared_inbox=f"{REMOTE}/inbox",
                    followers_uri=f"{REMOTE}/users/{name}/followers", key_id=f"{REMOTE}/users/{name}#main-key",
                    public_key_pem="-", document={"id": f"{REMOTE}/users/{name}", "type": "Person"},
                    fetched_at=now) for name in names])
            print(f"   island ({backend_name(database_url)}, in this process, workers off); "
                  f"{args.count:,} activities per kind, {ACTORS:,} actors:")
            for number, kind in enumerate(args.kinds):
                await measure(app, kind, activities(kind, args.count, article, alice, number * args.count))
        finally:
            await runner.cleanup()
    finally:
        if database_url:
            await drop_database(database_url)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=900, help="activities per kind (900)")
    parser.add_argument("--kinds", nargs="+", choices=("like", "follow", "reply", "mix"),
                        default=["like", "follow", "reply", "mix"])
    add_database_arguments(parser)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
