"""Fan-out: one article delivered to 1,000 followers on 100 loopback hosts, against the ceiling.

    .venv/bin/python -m benchmarks.fanout [--hosts 100] [--per-host 10] [--rounds 3] [--postgres]

Receivers: 100 hosts (addresses 127.0.0.2 ... 127.0.0.101, one port each), served here, each
with 10 follower actors. Two modes, each with its own author on the island:
  personal  followers without a shared inbox (GoToSocial style): 1,000 deliveries per article;
  shared    followers whose servers announce a shared inbox: 100 deliveries per article.
  slow      the personal mode's 1,000 fast inboxes (another author, other followers) plus one
            more host (the address after the last) with 50 followers whose inbox takes every
            request and answers none until the run ends: a hanging server. Its rounds time
            publish -> every fast inbox served, to set next to the personal mode's (the same
            1,000 fast inboxes without the slow host) and to the ceiling's time for 1,000 POSTs.
The followers are written straight into the island's database (remote_actors, follows accepted)
before `archipel serve` starts in a child process; each round runs `archipel publish` and waits
until every inbox has the Create (each delivery's signature is checked on arrival).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import func, insert, select

from archipel.storage.engine import make_engine
from archipel.storage.tables import Delivery, Follow, RemoteActor, utcnow
from benchmarks import ceilings
from benchmarks.common import (
    PYTHON,
    ROOT,
    ISLAND_ENV,
    CpuMeter,
    Island,
    add_database_arguments,
    backend_name,
    cpu_seconds,
    create_database,
    database_url_of,
    drop_database,
    header,
    line,
    per_second,
    percentile,
)
from federation import signatures
from federation.keys import load_public_key
from tests.nodes import bound_socket

MODES = {"personal": "perso", "shared": "partage", "slow": "lent"}  # mode -> island username of its author
ACTOR_PREFIX = {"personal": "p", "shared": "s", "slow": "l"}  # of the followers' usernames


@dataclass
class Receipt:
    at: float
    inbox: str
    object_uri: str | None
    verified: bool
    size: int


@dataclass
class Receivers:
    """100 loopback hosts recording what reaches their inboxes."""

    hosts: int
    verify: bool
    receipts: list[Receipt] = field(default_factory=list)
    keys: dict = field(default_factory=dict)  # keyId -> public key
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> Receivers:
        self.sockets = [bound_socket(f"127.0.0.{2 + n}") for n in range(self.hosts)]
        self.bases = [f"http://127.0.0.{2 + n}:{sock.getsockname()[1]}"
                      for n, sock in enumerate(self.sockets)]
        app = web.Application(client_max_size=2_000_000)
        app.router.add_post("/{tail:.*}", self._receive)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        for sock in self.sockets:
            await web.SockSite(self.runner, sock, backlog=1024).start()
        self.slow = await SlowHost(f"127.0.0.{2 + self.hosts}").start()
        return self

    async def stop(self) -> None:
        if hasattr(self, "slow"):
            await self.slow.stop()
        await self.runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        at = time.perf_counter()
        verified = False
        if self.verify:
            try:
                signed = signatures.parse_signed_request(
                    request.method, f"http://{request.host}{request.path_qs}", request.headers, body)
                key = self.keys.get(signed.key_id)
                verified = key is not None and signed.verify(key)
            except signatures.SignatureError:
                verified = False
        try:
            activity = json.loads(body)
            obj = activity.get("object")
            object_uri = obj.get("id") if isinstance(obj, dict) else obj
        except (ValueError, AttributeError):
            object_uri = None
        self.receipts.append(Receipt(at, f"{request.host}{request.path}", object_uri, verified, len(body)))
        self.arrived.set()
        return web.Response(status=202)

    def of(self, object_uri: str) -> list[Receipt]:
        return [r for r in self.receipts if r.object_uri == object_uri]


@dataclass
class SlowHost:
    """One host whose inbox holds every request until `release` (the end of the run)."""

    address: str
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: int = 0
    active: int = 0
    peak: int = 0

    async def start(self) -> SlowHost:
        sock = bound_socket(self.address)
        self.base = f"http://{self.address}:{sock.getsockname()[1]}"
        app = web.Application(client_max_size=2_000_000)
        app.router.add_post("/{tail:.*}", self._hold)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1, handler_cancellation=True)
        await self.runner.setup()
        await web.SockSite(self.runner, sock).start()
        return self

    async def _hold(self, request: web.Request) -> web.Response:
        await request.read()
        self.arrived += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            # Held until the run ends or the island gives up (its request timeout: the handler
            # is cancelled when the connection closes), so `active` counts requests really held.
            await self.release.wait()
        finally:
            self.active -= 1
        return web.Response(status=202)

    async def stop(self) -> None:
        self.release.set()
        await self.runner.cleanup()


async def add_followers(island: Island, receivers: Receivers, per_host: int,
                        slow_followers: int) -> dict[str, int]:
    """remote_actors + accepted follows, written before the island starts: expected inboxes per mode."""
    engine = make_engine(island.effective_database_url)
    expected = {}
    now = utcnow()
    try:
        async with engine.begin() as connection:
            for mode, username in MODES.items():
                followed = f"{island.url}/users/{username}"
                actors, follows, inboxes = [], [], set()
                bases = [(base, per_host) for base in receivers.bases]
                if mode == "slow":
                    bases.append((receivers.slow.base, slow_followers))
                for base, count in bases:
                    for number in range(count):
                        name = f"{ACTOR_PREFIX[mode]}{number}"
                        uri = f"{base}/users/{name}"
                        shared = f"{base}/inbox" if mode == "shared" else None
                        inboxes.add(shared or f"{uri}/inbox")
                        actors.append(dict(
                            uri=uri, host=base.split("//")[1], type="Person", username=name,
                            display_name="", inbox=f"{uri}/inbox", shared_inbox=shared,
                            followers_uri=f"{uri}/followers", key_id=f"{uri}#main-key",
                            public_key_pem=None, document={"id": uri, "type": "Person"}, fetched_at=now))
                        follows.append(dict(follower_uri=uri, followed_uri=followed,
                                            activity_uri=f"{base}/follows/{uuid.uuid4().hex}",
                                            state="accepted", created_at=now, accepted_at=now))
                await connection.execute(insert(RemoteActor), actors)
                await connection.execute(insert(Follow), follows)
                # The slow host's inboxes are not waited for: they never answer.
                expected[mode] = len([i for i in inboxes if not i.startswith(receivers.slow.base)])
    finally:
        await engine.dispose()
    return expected


async def delivery_states(island: Island, except_host: str = "") -> dict[str, int]:
    engine = make_engine(island.effective_database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(select(Delivery.state, func.count())
                                            .where(Delivery.host != except_host).group_by(Delivery.state))
            return {state: count for state, count in rows}
    finally:
        await engine.dispose()


async def fetch_keys(island: Island, receivers: Receivers) -> None:
    async with aiohttp.ClientSession() as session:
        for username in MODES.values():
            async with session.get(f"{island.url}/users/{username}",
                                   headers={"Accept": "application/activity+json"}) as response:
                actor = await response.json(content_type=None)
            key = actor["publicKey"]
            receivers.keys[key["id"]] = load_public_key(key["publicKeyPem"])


ARTICLE = ("Une fiche pour animer un atelier d'échange de pratiques entre formateurs : "
           "objectifs, déroulé, matériel, variantes et points de vigilance. ") * 2


async def publish(island: Island, username: str, title: str) -> tuple[str, float, float]:
    """`archipel publish` in its own process; returns the object id, the moment it was printed
    (after the commit of the article and its delivery rows) and the island's CPU time then."""
    path = island.directory / f"{uuid.uuid4().hex}.md"
    path.write_text(f"---\ntitle: {title}\n---\n{ARTICLE}\n", "utf-8")
    process = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "web.cli", "publish", str(island.directory), str(path), "--as", username,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **ISLAND_ENV})
    uri = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
    published = time.perf_counter()
    island_cpu = cpu_seconds(island.pid)
    _, errors = await asyncio.wait_for(process.communicate(), 60)
    if process.returncode != 0 or not uri:
        raise RuntimeError(f"archipel publish failed: {errors.decode()}")
    return uri, published, island_cpu


@dataclass
class Round:
    mode: str
    expected: int
    received: int
    verified: int
    duplicates: int
    pickup: float  # publish -> first receipt
    spread: float  # first -> last receipt
    total: float  # publish -> last receipt
    latencies: list[float]
    island_cpu: float  # share of one core over the round (from the start of `archipel publish`)
    island_cpu_seconds: float  # CPU time of the island from the publish commit to the last arrival
    receivers_cpu: float
    unrelated_cpu: float
    body_size: int

    @property
    def rate(self) -> float:
        return (self.received - 1) / self.spread if self.spread > 0 else float("nan")

    @property
    def end_to_end(self) -> float:
        return self.received / self.total


async def one_round(island: Island, receivers: Receivers, mode: str, expected: int, number: int,
                    timeout: float) -> Round:
    with CpuMeter(island.pid) as meter:
        uri, published, island_cpu0 = await publish(island, MODES[mode], f"Fiche {mode} {number}")
        deadline = time.monotonic() + timeout
        while len({r.inbox for r in receivers.of(uri)}) < expected and time.monotonic() < deadline:
            receivers.arrived.clear()
            try:
                await asyncio.wait_for(receivers.arrived.wait(), 1)
            except TimeoutError:
                pass
        island_cpu_seconds = cpu_seconds(island.pid) - island_cpu0
    receipts = sorted(receivers.of(uri), key=lambda r: r.at)
    if not receipts:
        raise RuntimeError(f"nothing arrived within {timeout}s; island log:\n{island.log_tail()}")
    first = {}
    for receipt in receipts:
        first.setdefault(receipt.inbox, receipt)
    return Round(
        mode=mode, expected=expected, received=len(first),
        verified=sum(r.verified for r in first.values()), duplicates=len(receipts) - len(first),
        pickup=receipts[0].at - published, spread=receipts[-1].at - receipts[0].at,
        total=receipts[-1].at - published, latencies=[r.at - published for r in first.values()],
        island_cpu=meter.others[0], island_cpu_seconds=island_cpu_seconds,
        receivers_cpu=meter.own, unrelated_cpu=max(0.0, meter.machine - meter.own - meter.others[0]),
        body_size=receipts[0].size,
    )


def report(rounds: list[Round], ceiling: float, ceiling_per_cpu: float, verify: bool) -> None:
    for mode in MODES:
        mine = [r for r in rounds if r.mode == mode]
        if not mine or mode == "slow":
            continue
        expected = mine[0].expected
        print(f"   {mode} inboxes: {expected:,} deliveries per article "
              f"(Create of {mine[0].body_size:,} B), {len(mine)} rounds:")
        for r in mine:
            checked = f", {r.verified}/{r.received} signatures verified" if verify else ""
            line(f"  round: {r.received:,}/{r.expected:,} arrived{checked}", per_second(r.rate),
                 f"first->last {r.spread:.2f} s, publish->first {r.pickup:.2f} s, "
                 f"publish->last {r.total:.2f} s; CPU: island {r.island_cpu:.0%}, "
                 f"receivers {r.receivers_cpu:.0%}, unrelated {r.unrelated_cpu:.0%}" + (f"; {r.duplicates} duplicates" if r.duplicates else ""))
        rate = statistics.median(r.rate for r in mine)
        latencies = [value for r in mine for value in r.latencies]
        line("deliveries per second (median, first->last)", per_second(rate),
             f"{rate / ceiling:.0%} of the signed-POST ceiling (target >= 60 %)")
        line("deliveries per second (median, publish->last)",
             per_second(statistics.median(r.end_to_end for r in mine)),
             "includes the pick-up of work written by another process (poll_interval)")
        per_cpu = sum(r.received for r in mine) / sum(r.island_cpu_seconds for r in mine)
        line("deliveries per CPU-second of the island", f"{per_cpu:,.0f}",
             f"{per_cpu / ceiling_per_cpu:.0%} of the ceiling's {ceiling_per_cpu:,.0f} per client CPU-s "
             "(island CPU from publish to last arrival; less sensitive to other load)")
        line("per delivery, publish -> arrival p50 / p95",
             f"{percentile(latencies, 50) * 1000:,.0f} / {percentile(latencies, 95) * 1000:,.0f} ms")


def report_slow(rounds: list[Round], slow: SlowHost, slow_followers: int, ceiling: float) -> None:
    """Time until every fast host has the fiche, with and without one hanging host."""
    with_slow = [r for r in rounds if r.mode == "slow"]
    without = [r for r in rounds if r.mode == "personal"]
    if not with_slow:
        return
    expected = with_slow[0].expected
    print(f"   one hanging host among fast ones: {expected:,} fast inboxes + {slow_followers} inboxes "
          f"on {slow.address} that never answer during the run, {len(with_slow)} rounds:")
    for r in with_slow:
        line(f"  round: {r.received:,}/{r.expected:,} fast inboxes served", f"{r.total:.2f} s",
             f"publish->first {r.pickup:.2f} s; CPU: island {r.island_cpu:.0%}, "
             f"unrelated {r.unrelated_cpu:.0%}")
    slow_total = statistics.median(r.total for r in with_slow)
    line("publish -> every fast inbox, with the hanging host (median)", f"{slow_total:.2f} s",
         f"{slow.arrived} requests reached it, at most {slow.peak} held at once")
    if without:
        alone = statistics.median(r.total for r in without)
        line("publish -> every fast inbox, without it (personal mode)", f"{alone:.2f} s",
             f"with / without: {slow_total / alone:.2f}")
    line(f"ceiling: {expected:,} signed POSTs at the client ceiling", f"{expected / ceiling:.2f} s",
         f"with the hanging host: {expected / ceiling / slow_total:.0%} of the ceiling's pace "
         "(publish->last includes the pick-up, poll_interval)")


async def run(args) -> None:
    database_url = database_url_of(args)
    print(f"   ceilings (same run; minimal server in a child process, client here, "
          f"{args.concurrency} in flight):")
    keys = ceilings.new_keys()
    sign = ceilings.cavage_sign_rate(args.ceiling_duration, keys)
    line("draft-cavage sign of a 2 KB POST (one core)", per_second(sign))
    client = await ceilings.signed_post_client_rate(args.ceiling_duration, args.concurrency, keys)
    ceilings.print_load("aiohttp client, signed POST 2 KB", client)

    workdir = Path(tempfile.mkdtemp(prefix="archipel-bench-fanout-"))
    island = Island(workdir / "island", database_url=database_url)
    receivers = await Receivers(args.hosts, verify=not args.no_verify).start()
    if database_url:
        await create_database(database_url)
    rounds: list[Round] = []
    try:
        island.init()
        for username in MODES.values():
            island.add_user(username)
        expected = await add_followers(island, receivers, args.per_host, args.slow_followers)
        island.start(profile=args.profile)
        await fetch_keys(island, receivers)
        print(f"   island ({backend_name(database_url)}, `archipel serve` in a child process), "
              f"{args.hosts} receiving hosts x {args.per_host} followers, per mode:")
        for mode in args.modes:
            for number in range(args.rounds):
                rounds.append(await one_round(island, receivers, mode, expected[mode], number,
                                              args.timeout))
        slow_host = receivers.slow.base.split("//")[1]
        states = await delivery_states(island, except_host=slow_host)
        deadline = time.monotonic() + 10
        while (states.get("pending") or states.get("in_flight")) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # the last round's outcomes are being recorded
            states = await delivery_states(island, except_host=slow_host)
        report(rounds, client.rate, client.rate / client.generator_cpu, verify=not args.no_verify)
        report_slow(rounds, receivers.slow, args.slow_followers, client.rate)
        line("deliveries table after the run (all but the hanging host)", str(states))
    finally:
        island.stop()
        await receivers.stop()
        if database_url:
            await drop_database(database_url)
        if args.profile and Path(args.profile).exists():
            import pstats

            print(f"   profile of the island written to {args.profile}; top by own time:")
            pstats.Stats(args.profile).sort_stats("tottime").print_stats(20)
        if args.keep:
            print(f"   kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100, help="receiving hosts, 127.0.0.2 on (100, max 250)")
    parser.add_argument("--per-host", type=int, default=10, help="followers per host (10)")
    parser.add_argument("--rounds", type=int, default=3, help="articles published per mode (3)")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--slow-followers", type=int, default=50,
                        help="followers on the hanging host of the slow mode (50, max 1000)")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="requests in flight for the ceiling (64, the island's delivery_concurrency)")
    parser.add_argument("--ceiling-duration", type=float, default=2.5, help="seconds per ceiling (2.5)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds allowed per round (60)")
    parser.add_argument("--no-verify", action="store_true", help="receivers skip signature checks")
    parser.add_argument("--profile", metavar="FILE", help="run the island under cProfile, write FILE")
    parser.add_argument("--keep", action="store_true", help="keep the island's folder")
    add_database_arguments(parser)
    args = parser.parse_args()
    if not 1 <= args.hosts <= 250:
        parser.error("--hosts must be between 1 and 250")
    if not 1 <= args.slow_followers <= 1000:
        parser.error("--slow-followers must be between 1 and 1000")
    header("fan-out: one article to every follower inbox", "fanout")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
