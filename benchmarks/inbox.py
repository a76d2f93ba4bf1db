"""Inbox: signed activities accepted durably (202) by a real island, against the ceilings.

    .venv/bin/python -m benchmarks.inbox [--count 5000] [--concurrency 64] [--postgres]

An island made with `archipel init` runs with `archipel serve` in a child process. A remote
actor served here holds the key the island fetches once (before the clock starts). Activities
(Likes of an article of the island and 2 KB Creates of Notes addressed to one of its users,
alternately, all distinct) are built and signed before the clock starts, then POSTed to the
island's shared inbox from one aiohttp session with `--concurrency` requests in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from archipel.storage.engine import make_engine
from archipel.storage.tables import IncomingActivity
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
from federation import signatures
from tests.remote import RemoteServer

CONTENT_TYPE = "application/activity+json"


async def stored_counts(database_url: str, actor_uri: str) -> tuple[int, int]:
    """(rows stored from this actor, rows the inbox worker has finished with)."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            stored = await connection.scalar(
                select(func.count()).select_from(IncomingActivity)
                .where(IncomingActivity.actor_uri == actor_uri))
            done = await connection.scalar(
                select(func.count()).select_from(IncomingActivity)
                .where(IncomingActivity.actor_uri == actor_uri, IncomingActivity.state != "received"))
    finally:
        await engine.dispose()
    return stored, done


def build_requests(remote: RemoteServer, inbox_url: str, count: int, *, article_uri: str,
                   user_uri: str, size: int) -> list[tuple[str, bytes, dict]]:
    actor = remote.actor_uri("rosa")
    requests = []
    for number in range(count):
        if number % 2 == 0:
            activity = ceilings.sample_activity(actor, number, kind="Like", object_uri=article_uri)
        else:
            activity = ceilings.sample_activity(actor, number, size, to=[user_uri])
        body = ceilings.body_of(activity)
        headers = signatures.sign_request("POST", inbox_url, f"{actor}#main-key", remote.private_key,
                                          body=body, content_type=CONTENT_TYPE)
        requests.append((inbox_url, body, headers))
    return requests


async def run(args) -> None:
    database_url = database_url_of(args)
    duration = args.ceiling_duration

    print(f"   ceilings (same run; server in a child process, {args.concurrency} in flight):")
    keys = ceilings.new_keys()
    verify = ceilings.cavage_verify_rate(duration, keys)
    line("draft-cavage parse + verify (one core)", per_second(verify))
    plain = await ceilings.aiohttp_post_rate(duration, args.concurrency)
    ceilings.print_load("aiohttp server, POST 2 KB -> 202", plain)
    signed = await ceilings.signed_verify_parse_rate(duration, args.concurrency, keys)
    ceilings.print_load("aiohttp server, signed POST: verify + parse", signed)

    workdir = Path(tempfile.mkdtemp(prefix="archipel-bench-inbox-"))
    island = Island(workdir / "island", database_url=database_url)
    remote = RemoteServer("127.0.0.1")
    if database_url:
        await create_database(database_url)
    try:
        island.init()
        user_uri = island.add_user("alice")
        article_uri = island.publish("alice", "Une fiche", "Une fiche que l'on aime.")
        remote.add_actor("rosa", shared_inbox=False)
        await remote.start()
        island.start(profile=args.profile)
        inbox_url = f"{island.url}/inbox" if args.inbox == "shared" else f"{user_uri}/inbox"

        requests = build_requests(remote, inbox_url, args.count + 1, article_uri=article_uri,
                                  user_uri=user_uri, size=args.size)
        sizes = sorted(len(body) for _, body, _ in requests)
        # Not timed: the island fetches the remote actor's key on this first activity.
        url, body, headers = requests.pop()
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body, headers=headers) as response:
                if response.status != 202:
                    raise SystemExit(f"warm-up activity refused: {response.status} {await response.text()}\n"
                                     + island.log_tail())

        result = await post_load(lambda i: requests[i], concurrency=args.concurrency,
                                 count=len(requests), server_pid=island.pid)
        stored, processed = await stored_counts(island.effective_database_url, remote.actor_uri("rosa"))
        stored -= 1  # the warm-up activity
        accepted = result.count(202)
        accepted_rate = accepted / result.elapsed

        print(f"   island ({backend_name(database_url)}, `archipel serve` in a child process), "
              f"{len(requests):,} pre-signed activities to the {args.inbox} inbox "
              f"(bodies {sizes[0]}-{sizes[-1]} B), {args.concurrency} in flight:")
        line("accepted (202) and stored, per second", per_second(accepted_rate),
             f"{accepted:,} in {result.elapsed:.2f} s; {result.cpu()}")
        others = {k: v for k, v in result.statuses.items() if k != 202}
        line("share of 202", f"{accepted / len(requests):.1%}",
             f"other answers {others or 'none'}, errors {dict(result.errors) or 'none'}")
        line("rows in incoming_activities after the run", f"{stored:,}",
             "OK: every 202 is durable" if stored >= accepted else "MISSING ROWS")
        line("latency per POST p50 / p95",
             f"{percentile(result.latencies, 50) * 1000:.0f} / {percentile(result.latencies, 95) * 1000:.0f} ms")
        line("rows the inbox worker finished meanwhile", f"{processed:,}",
             f"of {stored + 1:,} (with the warm-up); the worker shares the island's core")
        print("   ratios:")
        line("accepted / verify+parse server ceiling", f"{accepted_rate / signed.rate:.0%}",
             "target >= 50 %")
        line("accepted / plain aiohttp POST ceiling", f"{accepted_rate / plain.rate:.0%}")
        if result.server_cpu and signed.server_cpu:
            island_eff = accepted_rate / result.server_cpu
            ceiling_eff = signed.rate / signed.server_cpu
            line("same, per CPU-second of the server", f"{island_eff / ceiling_eff:.0%}",
                 f"island {island_eff:,.0f} vs ceiling {ceiling_eff:,.0f} per server CPU-s")
        if args.drain_timeout > 0:
            await drain(island, remote, stored, args.drain_timeout)
    finally:
        if remote.runner is not None:
            await remote.stop()
        island.stop()
        if database_url:
            await drop_database(database_url)
        if args.profile:
            print_profile(args.profile)
        if args.keep:
            print(f"   kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


async def drain(island: Island, remote: RemoteServer, stored: int, timeout: float) -> None:
    """How long the inbox worker takes to finish the backlog (bounded wait)."""
    start = time.perf_counter()
    _, done0 = await stored_counts(island.effective_database_url, remote.actor_uri("rosa"))
    done = done0
    while time.perf_counter() - start < timeout:
        await asyncio.sleep(0.5)
        _, done = await stored_counts(island.effective_database_url, remote.actor_uri("rosa"))
        if done >= stored + 1:
            break
    elapsed = time.perf_counter() - start
    failures = (island.directory / "serve.log").read_text().count("inbox round failed")
    line("inbox worker, backlog processed per second", per_second((done - done0) / elapsed),
         f"{done - done0:,} in {elapsed:.1f} s after the run, {stored + 1 - done:,} left; "
         f"'inbox round failed' {failures} times in serve.log")


def print_profile(path: str) -> None:
    import pstats

    if Path(path).exists():
        print(f"   profile of the island written to {path}; top by own time:")
        pstats.Stats(path).sort_stats("tottime").print_stats(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="activities POSTed (5000)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (64)")
    parser.add_argument("--size", type=int, default=2048, help="bytes of each Create (2048)")
    parser.add_argument("--inbox", choices=("shared", "personal"), default="shared",
                        help="POST to /inbox (shared, default) or /users/alice/inbox")
    parser.add_argument("--ceiling-duration", type=float, default=2.5, help="seconds per ceiling (2.5)")
    parser.add_argument("--drain-timeout", type=float, default=20,
                        help="seconds to wait for the inbox worker's backlog after the run (20; 0: skip)")
    parser.add_argument("--profile", metavar="FILE", help="run the island under cProfile, write FILE")
    parser.add_argument("--keep", action="store_true", help="keep the island's folder")
    add_database_arguments(parser)
    args = parser.parse_args()
    header("inbox: signed activities accepted durably", "inbox")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
