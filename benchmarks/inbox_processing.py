"""Inbox processing against accepting, in one run: does the inbox worker keep up, and is it fair?

    .venv/bin/python -m benchmarks.inbox_processing [--count 2000] [--flood 1000] [--postgres]

An island made with `archipel init` (user `alice`, three articles) runs with `archipel serve` in
a child process. A remote server served here has `--actors` actors, written into the island's
`remote_actors` before it starts (so that no key is fetched while the clock runs); they all
share one key (tests/data/fediverse/keys).

1. Mix: `--count` distinct activities, a third each Likes of an article, Follows of alice (each
   answered with an Accept the island delivers back here) and replies (a Create of a Note
   replying to an article), built and signed before the clock starts, are POSTed to the shared
   inbox with `--concurrency` in flight. The island's `incoming_activities` is polled every
   0.2 s: accepted/s (202) over the POSTs, processed/s from the first POST until the last row is
   settled, what was settled while the POSTs ran (the pace of the worker beside the inbox,
   without the lag of the last round), and the backlog left when the POSTs end.
2. Fairness: a flood of `--flood` Likes from one actor (all of one article: what a hostile
   sender does), then one reply from a second server; the time from the reply's 202 to its row
   being processed, and how much of the flood was still waiting then. The same again with the
   flood spread over all the actors of the first server (distinct likes, real work each). Each
   twice: POSTed (a backlog builds only if the worker falls behind), then written straight into
   the queue (a backlog of the whole flood when the reply arrives).
3. The fair pick with a large queue: `--queued` rows (half from one host, the rest over 100
   hosts) inserted into the island's database after it stops; the time of one round's pick.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import func, insert, select

from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage.tables import IncomingActivity, RemoteActor, utcnow
from benchmarks import ceilings
from benchmarks.common import (
    Island,
    add_database_arguments,
    backend_name,
    create_database,
    database_url_of,
    drop_database,
    header,
    line,
    per_second,
    percentile,
    post_load,
)
from federation import fair_queue, signatures
from federation.vocabulary import PUBLIC
from tests.remote import RemoteServer

CONTENT_TYPE = "application/activity+json"
AS = "https://www.w3.org/ns/activitystreams"


def like(actor: str, number: int, target: str) -> dict:
    return {"@context": AS, "id": f"{actor}/likes/{number}", "type": "Like", "actor": actor, "object": target}


def follow(actor: str, target: str) -> dict:
    return {"@context": AS, "id": f"{actor}/follows/1", "type": "Follow", "actor": actor, "object": target}


def reply(actor: str, number: int, target: str) -> dict:
    note = {"id": f"{actor}/notes/{number}", "type": "Note", "attributedTo": actor, "inReplyTo": target,
            "content": "<p>Merci pour cette fiche, nous l'avons essayée avec un groupe.</p>",
            "to": [PUBLIC], "cc": [f"{actor}/followers"], "published": "2026-12-01T10:00:00Z"}
    return {"@context": AS, "id": f"{note['id']}/activity", "type": "Create", "actor": actor,
            "object": note, "to": [PUBLIC], "cc": [f"{actor}/followers"]}


def signed(remote: RemoteServer, inbox_url: str, activity: dict) -> tuple[str, bytes, dict]:
    body = ceilings.body_of(activity)
    headers = signatures.sign_request("POST", inbox_url, f"{activity['actor']}#main-key", remote.private_key,
                                      body=body, content_type=CONTENT_TYPE)
    return inbox_url, body, headers


async def add_actors(island: Island, servers: list[tuple[RemoteServer, list[str]]]) -> None:
    """remote_actors rows (fresh, with their key), written before the island starts."""
    engine = make_engine(island.effective_database_url)
    now = utcnow()
    try:
        async with engine.begin() as connection:
            rows = []
            for remote, names in servers:
                for name in names:
                    uri = remote.actor_uri(name)
                    rows.append(dict(
                        uri=uri, host=remote.url.split("//")[1], type="Person", username=name,
                        display_name=name, inbox=f"{uri}/inbox", shared_inbox=f"{remote.url}/inbox",
                        followers_uri=f"{uri}/followers", key_id=f"{uri}#main-key",
                        public_key_pem=remote.public_pem, document={"id": uri, "type": "Person"},
                        fetched_at=now))
            await connection.execute(insert(RemoteActor), rows)
    finally:
        await engine.dispose()


class Queue:
    """Read-only look at the island's incoming_activities."""

    def __init__(self, database_url: str):
        self.engine = make_engine(database_url)

    async def counts(self) -> tuple[int, int]:
        """(rows, rows settled)."""
        async with self.engine.connect() as connection:
            total = await connection.scalar(select(func.count()).select_from(IncomingActivity))
            settled = await connection.scalar(select(func.count()).select_from(IncomingActivity)
                                              .where(IncomingActivity.state != "received"))
        return total, settled

    async def states(self) -> dict[str, int]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(IncomingActivity.state, func.count())
                                            .group_by(IncomingActivity.state))
            return dict(rows.all())

    async def state_of(self, activity_uri: str) -> str | None:
        async with self.engine.connect() as connection:
            return await connection.scalar(select(IncomingActivity.state)
                                           .where(IncomingActivity.activity_uri == activity_uri))

    async def close(self) -> None:
        await self.engine.dispose()


async def wait_settled(queue: Queue, expected: int, timeout: float, interval: float = 0.2) -> float | None:
    """Seconds until `expected` rows are settled (from now), or None after `timeout`."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        _, settled = await queue.counts()
        if settled >= expected:
            return time.perf_counter() - start
        await asyncio.sleep(interval)
    return None


async def mix(args, island: Island, remote: RemoteServer, queue: Queue, articles: list[str],
              alice: str, names: list[str]) -> None:
    inbox = f"{island.url}/inbox"
    activities = []
    for number in range(args.count):
        actor = remote.actor_uri(names[number // 3 % len(names)])
        kind = number % 3
        activities.append(like(actor, 0, articles[0]) if kind == 0 else
                          follow(actor, alice) if kind == 1 else reply(actor, number, articles[0]))
    requests = [signed(remote, inbox, activity) for activity in activities]
    before_total, before_settled = await queue.counts()
    start = time.perf_counter()
    backlogs: list[tuple[float, int]] = []  # (seconds since the first POST, rows waiting)

    async def watch() -> None:
        while True:
            waiting_total, waiting_settled = await queue.counts()
            backlogs.append((time.perf_counter() - start, waiting_total - waiting_settled))
            await asyncio.sleep(0.2)
    watcher = asyncio.create_task(watch())
    try:
        result = await post_load(lambda i: requests[i], concurrency=args.concurrency, count=len(requests),
                                 server_pid=island.pid)
    finally:
        watcher.cancel()
    total, settled = await queue.counts()
    expected = before_settled + (total - before_total)
    remaining = await wait_settled(queue, expected, args.drain_timeout)
    finished = time.perf_counter() - start if remaining is not None else None
    accepted = result.count(202)
    accepted_rate = accepted / result.elapsed
    print(f"   1. mix: {args.count:,} activities ({args.count // 3:,} likes, follows, replies each; "
          f"{len(names):,} actors), {args.concurrency} in flight, shared inbox:")
    line("accepted (202) per second", per_second(accepted_rate),
         f"{accepted:,} in {result.elapsed:.2f} s; {result.cpu()}")
    line("latency per POST p50 / p95",
         f"{percentile(result.latencies, 50) * 1000:.0f} / {percentile(result.latencies, 95) * 1000:.0f} ms")
    line("settled while the POSTs ran", f"{settled - before_settled:,}",
         f"backlog when they ended: {total - settled:,}")
    # A worker that keeps up holds the backlog steady (a batch or so in flight); one that
    # falls behind lets it grow with the length of the flood.
    halves = ([waiting for moment, waiting in backlogs if moment < result.elapsed / 2],
              [waiting for moment, waiting in backlogs if moment >= result.elapsed / 2])
    if all(halves):
        line("largest backlog, first / second half of the POSTs", f"{max(halves[0]):,} / {max(halves[1]):,}",
             "steady when processing keeps pace; growing when it falls behind")
    if finished is None:
        line("processed per second (first POST -> last settled)", "n/a",
             f"not all settled within {args.drain_timeout:.0f} s after the POSTs")
        processed_rate = (await queue.counts())[1] - before_settled
        processed_rate /= result.elapsed + args.drain_timeout
    else:
        processed_rate = (total - before_total) / finished
        line("processed per second (first POST -> last settled)", per_second(processed_rate),
             f"{total - before_total:,} in {finished:.2f} s (drained {remaining:.2f} s after the POSTs)")
    line("rows by state", str(await queue.states()))
    line("processed / accepted", f"{processed_rate / accepted_rate:.0%}",
         "target >= 100 %; the last POST's activity is settled a round after its 202")
    # While both ran: the rate at which the worker kept up, without the last round's lag.
    meanwhile = (settled - before_settled) / result.elapsed
    line("processed / accepted while the POSTs ran", f"{meanwhile / accepted_rate:.0%}",
         f"{per_second(meanwhile)} settled against {per_second(accepted_rate)} accepted")


async def fairness(args, island: Island, remote: RemoteServer, other: RemoteServer, queue: Queue,
                   flood: list[dict], label: str, number: int, article: str) -> None:
    inbox = f"{island.url}/inbox"
    requests = [signed(remote, inbox, activity) for activity in flood]
    answer = reply(other.actor_uri("zoe"), number, article)
    answer_request = signed(other, inbox, answer)
    _, before_settled = await queue.counts()
    result = await post_load(lambda i: requests[i], concurrency=args.concurrency, count=len(requests),
                             server_pid=island.pid)
    posted = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        url, body, headers = answer_request
        async with session.post(url, data=body, headers=headers) as response:
            assert response.status == 202, await response.text()
    sent = time.perf_counter()
    waited = None
    while time.perf_counter() - sent < args.drain_timeout:
        if await queue.state_of(answer["id"]) not in (None, "received"):
            waited = time.perf_counter() - sent
            break
        await asyncio.sleep(0.02)
    total, settled = await queue.counts()
    flood_left = total - settled
    drained = await wait_settled(queue, before_settled + len(flood) + 1, args.drain_timeout)
    print(f"   2. fairness: {label}, then one reply from another server:")
    line("flood accepted", per_second(result.count(202) / result.elapsed),
         f"{result.count(202):,} in {result.elapsed:.2f} s; latency per POST p50 / p95 "
         f"{percentile(result.latencies, 50) * 1000:.0f} / {percentile(result.latencies, 95) * 1000:.0f} ms")
    line("reply's POST -> 202", f"{(sent - posted) * 1000:,.0f} ms")
    line("reply's 202 -> reply processed", f"{waited * 1000:,.0f} ms" if waited is not None else "n/a",
         f"flood still waiting then: {flood_left:,} of {len(flood):,}")
    line("reply's 202 -> whole flood settled", f"{drained:.2f} s" if drained is not None else "n/a")


async def queue_directly(database_url: str, activities: list[dict]) -> None:
    """Rows as the inbox stores them (trusted, signed by their actor), written straight into the
    island's queue: a backlog the worker has not started on, whatever the accepting speed."""
    engine = make_engine(database_url)
    now = utcnow()
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(IncomingActivity), [dict(
                activity_uri=activity["id"], activity_type=activity["type"], actor_uri=activity["actor"],
                actor_host=activity["actor"].split("/")[2], signer_uri=activity["actor"], body_trusted=True,
                payload=activity, state="received", attempts=0, received_at=now) for activity in activities])
    finally:
        await engine.dispose()


async def fairness_queued(args, island: Island, other: RemoteServer, queue: Queue, flood: list[dict],
                          label: str, number: int, article: str) -> None:
    answer = reply(other.actor_uri("zoe"), number, article)
    url, body, headers = signed(other, f"{island.url}/inbox", answer)
    _, before_settled = await queue.counts()
    await queue_directly(island.effective_database_url, flood)
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers=headers) as response:
            assert response.status == 202, await response.text()
    sent = time.perf_counter()
    waited = None
    while time.perf_counter() - sent < args.drain_timeout:
        if await queue.state_of(answer["id"]) not in (None, "received"):
            waited = time.perf_counter() - sent
            break
        await asyncio.sleep(0.02)
    total, settled = await queue.counts()
    drained = await wait_settled(queue, before_settled + len(flood) + 1, args.drain_timeout)
    print(f"   2. fairness: {label} already queued (written into the queue), then one reply from "
          f"another server:")
    line("reply's 202 -> reply processed", f"{waited * 1000:,.0f} ms" if waited is not None else "n/a",
         f"flood still waiting then: {total - settled:,} of {len(flood):,}")
    line("reply's 202 -> whole flood settled", f"{drained:.2f} s" if drained is not None else "n/a",
         f"{len(flood) / drained:,.0f} flood activities/s" if drained else "")


async def pick_cost(database_url: str, queued: int) -> None:
    """Time of one round's fair pick with `queued` rows waiting (half from one host)."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    now = utcnow()
    try:
        async with engine.begin() as connection:
            for start in range(0, queued, 5000):
                rows = []
                for number in range(start, min(queued, start + 5000)):
                    host = "flood.example" if number % 2 == 0 else f"h{number % 100}.example"
                    rows.append(dict(activity_uri=f"https://{host}/q/{number}", activity_type="Like",
                                     actor_uri=f"https://{host}/users/u{number % 7}", actor_host=host,
                                     signer_uri=f"https://{host}/users/u", body_trusted=True,
                                     payload={}, state="received", attempts=0, received_at=now))
                await connection.execute(insert(IncomingActivity), rows)
        turn = fair_queue.Turn()
        timings = []
        async with sessions() as session:
            for _ in range(20):
                begun = time.perf_counter()
                ids = await fair_queue.pick(session, turn, utcnow(), 100)
                timings.append(time.perf_counter() - begun)
        timings.sort()
        print(f"   3. the fair pick with {queued:,} activities waiting (half from one host, the rest "
              f"over 100 hosts):")
        line("one round's pick (median of 20)", f"{timings[10] * 1000:.1f} ms",
             f"max {timings[-1] * 1000:.1f} ms; {len(ids)} ids per round")
    finally:
        await engine.dispose()


async def run(args) -> None:
    database_url = database_url_of(args)
    keys = ceilings.new_keys()
    print(f"   ceilings (same run; server in a child process, {args.concurrency} in flight):")
    signed_ceiling = await ceilings.signed_verify_parse_rate(args.ceiling_duration, args.concurrency, keys)
    ceilings.print_load("aiohttp server, signed POST: verify + parse", signed_ceiling)

    workdir = Path(tempfile.mkdtemp(prefix="archipel-bench-processing-"))
    island = Island(workdir / "island", database_url=database_url)
    remote, other = RemoteServer("127.0.0.1"), RemoteServer("127.0.0.1")
    remote.verify_signatures = False  # the Accepts the island sends back are only counted
    names = [f"a{number}" for number in range(args.actors)]
    if database_url:
        await create_database(database_url)
    queue = None
    try:
        island.init()
        alice = island.add_user("alice")
        articles = [island.publish("alice", f"Fiche {n}", "Une fiche que l'on aime.") for n in range(3)]
        for name in names:
            remote.add_actor(name)
        other.add_actor("zoe")
        await add_actors(island, [(remote, names), (other, ["zoe"])])
        await remote.start()
        await other.start()
        island.start()
        queue = Queue(island.effective_database_url)
        print(f"   island ({backend_name(database_url)}, `archipel serve` in a child process):")

        await mix(args, island, remote, queue, articles, alice, names)
        one_actor = [like(remote.actor_uri(names[0]), number, articles[1]) for number in range(1, args.flood + 1)]
        await fairness(args, island, remote, other, queue, one_actor,
                       f"{args.flood:,} Likes from one actor (one article)", 1, articles[0])
        spread = [like(remote.actor_uri(name), 1000 + number, article)
                  for number, article in enumerate(articles[1:]) for name in names]
        spread = [activity for activity in spread if activity["actor"] != remote.actor_uri(names[0])][:args.flood]
        await fairness(args, island, remote, other, queue, spread,
                       f"{len(spread):,} distinct Likes from {len(names):,} actors of one server", 2, articles[0])
        queued = [like(remote.actor_uri(names[1]), 10_000 + number, articles[1]) for number in range(args.flood)]
        await fairness_queued(args, island, other, queue, queued,
                              f"{args.flood:,} Likes from one actor (one article)", 3, articles[0])
        queued = [like(remote.actor_uri(name), 3000 + number, article)
                  for number, article in enumerate(articles[1:]) for name in names][:args.flood]
        await fairness_queued(args, island, other, queue, queued,
                              f"{len(queued):,} distinct Likes from {len(names):,} actors of one server", 4,
                              articles[0])
        failures = (island.directory / "serve.log").read_text().count("inbox round failed")
        line("'inbox round failed' in serve.log", str(failures))
    finally:
        if queue is not None:
            await queue.close()
        for server in (remote, other):
            if server.runner is not None:
                await server.stop()
        island.stop()
    try:
        if args.queued:
            await pick_cost(island.effective_database_url, args.queued)
    finally:
        if database_url:
            await drop_database(database_url)
        if args.keep:
            print(f"   kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="activities of the mix (2000)")
    parser.add_argument("--actors", type=int, default=1000, help="actors of the remote server (1000)")
    parser.add_argument("--flood", type=int, default=1000, help="likes of each flood (1000)")
    parser.add_argument("--queued", type=int, default=100_000,
                        help="rows queued for the pick's cost (100000; 0: skip)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (64)")
    parser.add_argument("--ceiling-duration", type=float, default=2.5, help="seconds of the ceiling (2.5)")
    parser.add_argument("--drain-timeout", type=float, default=60,
                        help="seconds to wait for the worker after the POSTs (60)")
    parser.add_argument("--keep", action="store_true", help="keep the island's folder")
    add_database_arguments(parser)
    args = parser.parse_args()
    header("inbox processing against accepting, and fairness", "inbox_processing")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
