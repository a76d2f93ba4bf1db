"""Replication between islands: publish -> visible latency, backfill speed, against ceilings.

    .venv/bin/python -m benchmarks.replication [--islands 3 10] [--fiches 10] [--fast-poll 0.05]
                                               [--backfill 1000]

Every island is a real `archipel serve` process (one per island: the cores are shared as in a
real deployment), made with `archipel init` (+ `archipel user add` for the author) and meshed with
`archipel follow`: every island actor follows every other one (following an island is enough:
the island re-shares what its members publish with an Announce). Fiches are published one at a
time on island 1 with `archipel publish` (its own process); the clock starts when the command
prints the fiche's id (after its commit) and each other island's SQLite file is polled read-only
(`file:...?mode=ro`) every 20 ms for the fiche's id. Each archipelago is then restarted with
ARCHIPEL_POLL_INTERVAL=0.05 and measured again: the pick-up of work written by another process
gets shorter, the idle polling of every island costs more CPU.

Backfill: island A gets N fiches written in one process with the project's own API (as
tests/flows/test_backfill.py does), then serves; island B follows A (`archipel follow`) and its
SQLite file is polled until the N fiches are there. Ceilings, same run: the signed GET of a
catalog page from A as B's walker does it, and the same documents stored in process
(`replicas.store`, one transaction per page) and as raw SQLite inserts.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import datetime
import io
import os
import resource
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import aiohttp

from archipel.settings import Settings
from benchmarks.common import (
    ISLAND_ENV,
    PYTHON,
    ROOT,
    Island,
    cpu_seconds,
    header,
    line,
    machine_busy_seconds,
    per_second,
    percentile,
    run_cli,
)

DEFAULT_POLL = Settings.__dataclass_fields__["poll_interval"].default  # 0.25 s
IDLE_SECONDS = 2.0
POLL = 0.020  # seconds between two looks at the islands' SQLite files
FICHE = (ROOT / "web" / "demo_content" / "papi.md").read_text("utf-8")  # a real fiche, ~2.5 KB


# ---- helpers -------------------------------------------------------------------------------------

class ReadOnly:
    """An island's SQLite file opened read-only (the island keeps writing it)."""

    def __init__(self, island: Island):
        path = (island.directory / "archipel.db").resolve()
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                  check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout=2000")

    def value(self, sql: str, *params):
        row = self.db.execute(sql, params).fetchone()
        return row[0] if row else None

    def rows(self, sql: str, *params) -> list[tuple]:
        return self.db.execute(sql, params).fetchall()

    def close(self) -> None:
        self.db.close()


def epoch(text: str | None) -> float | None:
    """A UTCDateTime column as SQLite stores it (naive UTC text) -> seconds since 1970."""
    if not text:
        return None
    moment = datetime.datetime.fromisoformat(str(text))
    return moment.replace(tzinfo=datetime.UTC).timestamp()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def spread(values: list[float]) -> str:
    """p50 / p95 / max in ms."""
    return (f"{ms(percentile(values, 50))} / {ms(percentile(values, 95))} / "
            f"{ms(max(values)) if values else 'nan'} ms")


def island_actor_uri(island: Island) -> str:
    return f"{island.url}/users/{island.handle}"


def parallel(function, items, workers: int | None = None) -> list:
    """Run a blocking function (CLI calls, island starts) on several items at once."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers or len(items) or 1) as pool:
        return list(pool.map(function, items))


def children_cpu() -> float:
    """CPU seconds of the child processes that have ended and were waited for (the CLI calls)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Shares:
    """Wall time and CPU shares over a span: islands, CLI children, this process, unrelated work."""

    def __init__(self, pids: list[int]):
        self.pids = pids

    def __enter__(self) -> Self:
        self.wall0, self.own0, self.cli0 = time.perf_counter(), time.process_time(), children_cpu()
        self.islands0, self.machine0 = sum(cpu_seconds(p) for p in self.pids), machine_busy_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.islands_cpu = sum(cpu_seconds(p) for p in self.pids) - self.islands0
        self.own = (time.process_time() - self.own0) / self.wall
        self.cli = (children_cpu() - self.cli0) / self.wall
        self.islands = self.islands_cpu / self.wall
        machine = (machine_busy_seconds() - self.machine0) / self.wall
        self.unrelated = max(0.0, machine - self.own - self.cli - self.islands)

    def describe(self, islands: str = "islands") -> str:
        return (f"CPU: {islands} {self.islands:.0%}, CLI processes {self.cli:.0%}, "
                f"benchmark {self.own:.0%}, unrelated {self.unrelated:.0%}")


async def follow_in_process(follower: Island, target: Island) -> None:
    """`archipel follow DIR URL`: the command line's own parser and command, run in this process
    (N x (N-1) follows would otherwise cost as many ~1 s interpreter start-ups)."""
    from web.cli import build_parser

    args = build_parser().parse_args(["follow", str(follower.directory), island_actor_uri(target)])
    await args.run(args)  # prints "follow request sent to ...": the caller silences stdout


async def wait_until(predicate, timeout: float, what: str, interval: float = POLL) -> float:
    """Poll a plain predicate; returns the perf_counter moment it first held."""
    deadline = time.perf_counter() + timeout
    while True:
        if predicate():
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


def pending_deliveries(db: ReadOnly) -> int:
    return db.value("SELECT count(*) FROM deliveries WHERE state IN ('pending', 'in_flight')") or 0


# ---- an archipelago of N `archipel serve` processes ------------------------------------------------

@dataclass
class Archipelago:
    islands: list[Island]
    dbs: list[ReadOnly] = field(default_factory=list)
    author: str = "autrice"

    @property
    def pids(self) -> list[int]:
        return [island.pid for island in self.islands]

    def start(self, env: dict | None = None) -> None:
        parallel(lambda island: island.start(env=env, timeout=90), self.islands)

    def stop(self) -> None:
        for db in self.dbs:
            db.close()
        self.dbs = []
        parallel(lambda island: island.stop(), self.islands)

    def open_dbs(self) -> None:
        self.dbs = [ReadOnly(island) for island in self.islands]


async def build_archipelago(workdir: Path, count: int, poll_interval: float | None) -> tuple[Archipelago, dict]:
    islands = [Island(workdir / f"ile{n + 1}", handle=f"ile{n + 1}") for n in range(count)]
    archipelago = Archipelago(islands)
    steps = {}
    started = time.perf_counter()
    parallel(lambda island: island.init(), islands, workers=os.cpu_count())
    islands[0].add_user(archipelago.author)
    steps[f"archipel init x{count} + user add"] = time.perf_counter() - started
    started = time.perf_counter()
    archipelago.start(env=_poll_env(poll_interval))
    archipelago.open_dbs()
    steps[f"archipel serve x{count} answering"] = time.perf_counter() - started

    started = time.perf_counter()

    async def follow_all(follower: Island) -> None:
        for target in islands:
            if target is not follower:
                await follow_in_process(follower, target)

    with contextlib.redirect_stdout(io.StringIO()):  # once around all: the follows run concurrently
        await asyncio.gather(*(follow_all(island) for island in islands))
    steps[f"archipel follow x{count * (count - 1)} (in process)"] = time.perf_counter() - started

    def all_accepted() -> bool:
        return all(db.value("SELECT count(*) FROM follows WHERE follower_uri = ? AND state = 'accepted'",
                            island_actor_uri(island)) == count - 1
                   for island, db in zip(islands, archipelago.dbs))

    await wait_until(all_accepted, 60, "every follow to be accepted")
    steps["until every follow is accepted"] = time.perf_counter() - started
    # The same, as the islands publish it: /users/HANDLE/following?page=1.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        for island in islands:
            async with http.get(f"{island_actor_uri(island)}/following?page=1",
                                headers={"Accept": "application/activity+json"}) as answer:
                following = (await answer.json(content_type=None)).get("orderedItems", [])
            if len(following) != count - 1:
                raise RuntimeError(f"{island.url} follows {len(following)} islands, not {count - 1}")

    # Each Accept starts a (here empty) catalog walk; let that and every delivery finish.
    def settled() -> bool:
        return all(pending_deliveries(db) == 0 and
                   db.value("SELECT count(*) FROM catalog_syncs WHERE backfilled = 1") == count - 1
                   for db in archipelago.dbs)

    await wait_until(settled, 60, "the first catalog walks and deliveries to finish", interval=0.1)
    await asyncio.sleep(0.5)
    steps["until catalog walks and deliveries are done"] = time.perf_counter() - started
    return archipelago, steps


def _poll_env(poll_interval: float | None) -> dict:
    return {"ARCHIPEL_POLL_INTERVAL": str(poll_interval)} if poll_interval is not None else {}


# ---- latency: publish on island 1, visible on every other island -------------------------------

@dataclass
class Sample:
    island: int
    latency: float  # publish printed -> seen in the island's SQLite file
    to_inbox: float | None  # publish -> the Announce stored in the island's inbox (received_at)
    in_worker: float | None  # received_at -> processed_at (fetch the fiche from island 1, store)
    to_seen: float | None  # processed_at -> seen by the poller


@dataclass
class Fiche:
    uri: str
    samples: list[Sample]
    missing: int
    pickup: float | None  # publish -> first Announce stored on any island


async def publish(archipelago: Archipelago, number: int, workdir: Path) -> tuple[str, float, float, asyncio.subprocess.Process]:
    """`archipel publish` in its own process: the fiche's id and the moments it was printed
    (perf_counter and wall clock): the command prints after its commit."""
    island = archipelago.islands[0]
    path = workdir / f"fiche-{uuid.uuid4().hex}.md"
    path.write_text(FICHE.replace("title: Les Points d'Accès Public à Internet (PAPI)",
                                  f"title: Mesure {number} {uuid.uuid4().hex[:8]}", 1), "utf-8")
    process = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "web.cli", "publish", str(island.directory), str(path), "--as", archipelago.author,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **ISLAND_ENV})
    uri = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
    at, wall = time.perf_counter(), time.time()
    if not uri.startswith("http"):
        _, errors = await process.communicate()
        raise RuntimeError(f"archipel publish failed: {errors.decode()}")
    return uri, at, wall, process


async def one_fiche(archipelago: Archipelago, number: int, workdir: Path, timeout: float) -> Fiche:
    uri, at, wall, process = await publish(archipelago, number, workdir)
    seen: dict[int, float] = {}
    others = range(1, len(archipelago.islands))
    deadline = at + timeout
    while len(seen) < len(others) and time.perf_counter() < deadline:
        for index in others:
            if index not in seen and archipelago.dbs[index].value(
                    "SELECT 1 FROM objects WHERE uri = ?", uri):
                seen[index] = time.perf_counter()
        await asyncio.sleep(POLL)
    await asyncio.wait_for(process.communicate(), 30)
    samples, arrivals = [], []
    for index, moment in seen.items():
        row = archipelago.dbs[index].rows(
            "SELECT received_at, processed_at FROM incoming_activities WHERE activity_type = 'Announce' "
            "AND json_extract(payload, '$.object') = ?", uri)
        received, processed = (epoch(row[0][0]), epoch(row[0][1])) if row else (None, None)
        latency = moment - at
        if received is not None:
            arrivals.append(received - wall)
        samples.append(Sample(
            index, latency,
            to_inbox=received - wall if received is not None else None,
            in_worker=processed - received if processed is not None and received is not None else None,
            to_seen=latency - (processed - wall) if processed is not None else None))
    return Fiche(uri, samples, len(others) - len(seen), min(arrivals) if arrivals else None)


async def measure_latency(archipelago: Archipelago, fiches: int, workdir: Path, label: str,
                          poll_interval: float) -> dict:
    with Shares(archipelago.pids) as idle:  # nothing to do: what the workers' polling costs
        await asyncio.sleep(IDLE_SECONDS)
    results = []
    with Shares(archipelago.pids) as shares:
        for number in range(fiches):
            results.append(await one_fiche(archipelago, number, workdir, timeout=15))
    samples = [s for f in results for s in f.samples]
    latencies = [s.latency for s in samples]
    missing = sum(f.missing for f in results)
    count = len(archipelago.islands)
    print(f"   {label}: {fiches} fiches published one at a time on island 1, "
          f"{count - 1} other islands polled every {POLL * 1000:.0f} ms:")
    line("publish -> visible, p50 / p95 / max", spread(latencies),
         f"{len(latencies)} (fiche, island) pairs, {missing} missing after 15 s; target p95 < 1 s: "
         + ("met" if latencies and not missing and percentile(latencies, 95) < 1 else "NOT met"))
    pickups = [f.pickup for f in results if f.pickup is not None]
    line("  publish -> first Announce in any inbox", spread(pickups),
         f"pick-up by island 1's delivery worker (polls every {poll_interval * 1000:.0f} ms for work "
         f"written by `archipel publish`) + 1 signed POST")
    to_inbox = [s.to_inbox for s in samples if s.to_inbox is not None]
    in_worker = [s.in_worker for s in samples if s.in_worker is not None]
    to_seen = [s.to_seen for s in samples if s.to_seen is not None]
    line("  publish -> Announce stored in each inbox", spread(to_inbox),
         f"pick-up + {count - 1} signed POSTs from island 1")
    line("  inbox stored -> replica committed", spread(in_worker),
         "inbox worker: signed GET of the fiche on island 1, replicas.store, commit")
    line("  committed -> seen by the poller", spread(to_seen), f"poll every {POLL * 1000:.0f} ms")
    share = percentile(pickups, 50) / percentile(latencies, 50) if pickups and latencies else float("nan")
    line("  pick-up share of the median latency", f"{share:.0%}",
         f"expected wait {poll_interval / 2 * 1000:.0f} ms on average (half the poll interval)")
    line("  span", f"{shares.wall:.1f} s", shares.describe(f"{count} islands"))
    line(f"  idle CPU of the {count} islands (polling)", f"{idle.islands:.0%}",
         f"of one core, over {IDLE_SECONDS:g} s before publishing; {idle.describe(f'{count} islands')}")
    net = (shares.islands_cpu - idle.islands * shares.wall) / fiches
    line("  islands' CPU per fiche, idle polling deducted", f"{net * 1000:,.0f} ms",
         f"island 1 and the {count - 1} replicas: {net / (count - 1) * 1000:,.0f} ms per receiving island "
         "(rough: a busy island polls less than an idle one)")
    return {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "max": max(latencies) if latencies else float("nan"), "missing": missing,
            "pickup": percentile(pickups, 50), "idle": idle.islands, "net_cpu": net}


async def latency_runs(args, workdir: Path) -> list[tuple[str, dict]]:
    summary = []
    for count in args.islands:
        archipelago, steps = await build_archipelago(workdir / f"n{count}", count, None)
        try:
            print(f"   archipelago of {count} islands (one `archipel serve` each, SQLite), every island "
                  f"actor following the {count - 1} others; setup:")
            for name, seconds in steps.items():
                line(f"  {name}", f"{seconds:.1f} s")
            label = f"{count} islands, poll_interval {DEFAULT_POLL:g} s (default)"
            summary.append((label, await measure_latency(archipelago, args.fiches, workdir, label,
                                                         DEFAULT_POLL)))
            if args.fast_poll:
                archipelago.stop()
                archipelago.start(env=_poll_env(args.fast_poll))  # ARCHIPEL_POLL_INTERVAL
                archipelago.open_dbs()
                await asyncio.sleep(0.5)
                print(f"   the {count} islands restarted with ARCHIPEL_POLL_INTERVAL={args.fast_poll:g}")
                label = f"{count} islands, poll_interval {args.fast_poll:g} s (restarted)"
                summary.append((label, await measure_latency(archipelago, args.fiches, workdir, label,
                                                             args.fast_poll)))
        finally:
            archipelago.stop()
    return summary


# ---- backfill ------------------------------------------------------------------------------------

async def populate(island: Island, count: int, username: str) -> float:
    """N fiches written in one process with the project's API (tests/flows/test_backfill.py's way)."""
    from archipel import accounts
    from archipel.settings import load_settings
    from archipel.storage.engine import make_engine, make_sessionmaker
    from federation import actions

    settings = load_settings(island.directory)
    engine = make_engine(settings.effective_database_url)
    started = time.perf_counter()
    try:
        sessions = make_sessionmaker(engine)
        for first in range(0, count, 100):
            async with sessions() as session:
                author = await accounts.get_actor(session, username)
                for n in range(first, min(count, first + 100)):
                    await actions.publish_item(
                        session, settings.url, [author], kind="fiche", title=f"Fiche {n:04d}",
                        source=f"Texte de la fiche {n}. " * 20, summary=f"Résumé {n}",
                        tags=["Médiation numérique", "Inclusion"],
                        data={"pitch": f"Accroche {n}", "territory": {"place": "Brest", "region": "Bretagne"},
                              "steps": ["Repérer les lieux", "Former un relais", "Ouvrir"],
                              "audience": "Habitant·es"})
                await session.commit()
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def backfill_run(args, workdir: Path) -> dict:
    a = Island(workdir / "a", handle="ile-a")
    b = Island(workdir / "b", handle="ile-b")
    parallel(lambda island: island.init(), [a, b])
    a.add_user("alice")
    written = await populate(a, args.backfill, "alice")
    print(f"   backfill: island A ({args.backfill:,} fiches), island B (empty), one `archipel serve` each, SQLite:")
    line(f"  {args.backfill:,} fiches written on A in one process (setup)", per_second(args.backfill / written),
         f"{written:.1f} s, actions.publish_item, a commit per 100")
    try:
        parallel(lambda island: island.start(timeout=60), [a, b])
        db = ReadOnly(b)
        origin = f"{a.url}/%"
        run_cli("follow", str(b.directory), island_actor_uri(a), env=ISLAND_ENV)
        followed = time.perf_counter()
        accepted = await wait_until(lambda: db.value(
            "SELECT state FROM follows WHERE follower_uri = ? AND followed_uri = ?",
            island_actor_uri(b), island_actor_uri(a)) == "accepted", 30, "B's follow of A to be accepted")
        cpu0 = cpu_seconds(a.pid), cpu_seconds(b.pid)
        with Shares([a.pid, b.pid]) as shares:
            first = await wait_until(lambda: (db.value("SELECT count(*) FROM objects WHERE uri LIKE ?", origin)
                                              or 0) > 0, 30, "the first backfilled fiche")
            done = await wait_until(lambda: db.value("SELECT count(*) FROM objects WHERE uri LIKE ?", origin)
                                    == args.backfill, 120, f"{args.backfill} fiches on B")
        cpu_a, cpu_b = cpu_seconds(a.pid) - cpu0[0], cpu_seconds(b.pid) - cpu0[1]
        walk = db.rows("SELECT items_applied, backfilled, last_error FROM catalog_syncs")
        rate = args.backfill / (done - accepted)
        line("  `archipel follow` returned -> Accept seen on B", f"{ms(accepted - followed)} ms",
             "the Follow waits for B's delivery worker poll, A's inbox worker, the Accept's delivery")
        line("  Accept -> first fiche on B", f"{ms(first - accepted)} ms",
             "catalog worker poll (max(poll_interval, 0.5 s); start_sync does not wake it) "
             "+ the first page fetched and its 50 fiches stored in one transaction")
        line(f"  Accept -> all {args.backfill:,} fiches on B", per_second(rate),
             f"{done - accepted:.2f} s; first -> last fiche {per_second(args.backfill / (done - first))}")
        line("  CPU per fiche, A (catalog pages) / B (walk + store)",
             f"{cpu_a / args.backfill * 1000:.2f} / {cpu_b / args.backfill * 1000:.2f} ms",
             shares.describe("A+B"))
        line("  catalog_syncs on B (applied, backfilled, error)", str(walk[0] if walk else None))
        ceil = await ceilings(a, b, args)
        return {"rate": rate, "seconds": done - accepted, "first": first - accepted,
                "cpu_a": cpu_a / args.backfill, "cpu_b": cpu_b / args.backfill, **ceil}
    finally:
        parallel(lambda island: island.stop(), [a, b])


# ---- ceilings ------------------------------------------------------------------------------------

async def ceilings(a: Island, b: Island, args) -> dict:
    """What the pieces of a backfill cost alone, on the same islands, A and B otherwise idle."""
    from archipel import content
    from archipel.storage.engine import make_engine, make_sessionmaker
    from federation import replicas
    from federation.as2 import as_list
    from federation.client import FederationClient, Signer
    from federation.documents import ActorUrls
    from federation.jsonld import normalize
    from web import provision

    print("   ceilings (same run, A and B idle; this process is the client):")
    keys = ReadOnly(b)
    key_pem = keys.value("SELECT private_key_pem FROM local_actors WHERE username = ?", b.handle)
    keys.close()
    signer = Signer(ActorUrls(b.url, b.handle).key_id, key_pem)
    client = FederationClient(allow_private=True, max_bytes=10_000_000, timeout=30)
    await client.start()
    documents: list[dict] = []
    try:
        catalog = f"{island_actor_uri(a)}/catalog"
        # 1. The walker's fetch: signed GET + normalize of each page, one after the other.
        times, cpu_a0 = [], cpu_seconds(a.pid)
        for walk in range(2):
            cursor, pages = "", 0
            while True:
                started = time.perf_counter()
                page = normalize(await client.fetch_json(f"{catalog}?after={cursor}", signer))
                times.append(time.perf_counter() - started)
                items = as_list(page.get("orderedItems"))
                if walk == 0:
                    documents += items
                if not page.get("next") or not items:
                    break
                cursor = page["next"].split("after=", 1)[1]
                pages += 1
        cpu_a = cpu_seconds(a.pid) - cpu_a0
        per_page = statistics.median(times)
        line("signed GET + normalize of a 50-fiche catalog page", f"{ms(per_page)} ms",
             f"p50 of {len(times)} sequential (2 walks); = {per_second(50 / per_page)} fiches; "
             f"A's CPU {cpu_a / len(times) * 1000:.0f} ms per page")
        # A single fiche document, as each island fetches it when an Announce arrives.
        one = []
        for uri in [d["id"] for d in documents[:40]]:
            started = time.perf_counter()
            await client.fetch_json(uri, signer)
            one.append(time.perf_counter() - started)
        line("signed GET of one fiche document", f"{ms(statistics.median(one))} ms",
             f"p50 of {len(one)} sequential (what an island does per Announce)")
    finally:
        await client.close()

    # 2. Store the same documents in process, one transaction per page of 50, as the walker does.
    scratch = Path(tempfile.mkdtemp(prefix="archipel-bench-store-"))
    try:
        settings = await provision.create_island(scratch, url="http://127.0.0.1:9", name="Ceiling",
                                                 handle="plafond", allow_private_networks=True)
        engine = make_engine(settings.effective_database_url)
        try:
            sessions = make_sessionmaker(engine)
            started, cpu0 = time.perf_counter(), time.process_time()
            for first in range(0, len(documents), 50):
                async with sessions() as session:
                    for document in documents[first:first + 50]:
                        if await content.find_object(session, document["id"]) is None:
                            await replicas.store(session, document, replicas.author_of(document))
                    await session.commit()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
        finally:
            await engine.dispose()
        store_rate = len(documents) / elapsed
        line("find_object + replicas.store, commit per 50, in process", per_second(store_rate),
             f"{len(documents):,} fiches in {elapsed:.2f} s; {cpu / len(documents) * 1000:.2f} ms CPU each")
        # 3. The raw rows of those fiches, inserted again with sqlite3 (WAL, synchronous=NORMAL).
        db = sqlite3.connect(scratch / "archipel.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE copy AS SELECT * FROM objects WHERE 0")
        rows = db.execute("SELECT * FROM objects").fetchall()
        marks = ",".join("?" * len(rows[0]))
        started = time.perf_counter()
        for first in range(0, len(rows), 50):
            db.execute("BEGIN")
            db.executemany(f"INSERT INTO copy VALUES ({marks})", rows[first:first + 50])
            db.execute("COMMIT")
        raw = len(rows) / (time.perf_counter() - started)
        db.close()
        line("raw sqlite3 INSERT of the objects rows, commit per 50", per_second(raw),
             "(objects table only; replicas.store also writes authors, themes, revisions)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"page": per_page, "fetch_rate": 50 / per_page, "store_rate": store_rate, "raw": raw,
            "one": statistics.median(one)}


# ---- main ----------------------------------------------------------------------------------------

async def run(args) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="archipel-bench-replication-"))
    try:
        backfill = await backfill_run(args, workdir) if args.backfill else None
        summary = await latency_runs(args, workdir)
        print("   summary:")
        for label, figures in summary:
            line(f"  {label}", f"p95 {ms(figures['p95'])} ms",
                 f"p50 {ms(figures['p50'])} ms, max {ms(figures['max'])} ms, pick-up p50 "
                 f"{ms(figures['pickup'])} ms, missing {figures['missing']}, idle islands' CPU "
                 f"{figures['idle']:.0%}; target p95 < 1,000 ms")
        if backfill:
            line(f"  backfill of {args.backfill:,} fiches, Accept -> all on B", per_second(backfill["rate"]),
                 f"{backfill['rate'] / backfill['fetch_rate']:.0%} of the signed-GET page ceiling "
                 f"({per_second(backfill['fetch_rate'])}), {backfill['rate'] / backfill['store_rate']:.0%} "
                 f"of the in-process store ceiling ({per_second(backfill['store_rate'])})")
    finally:
        if args.keep:
            print(f"   kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--islands", type=int, nargs="+", default=[3, 10],
                        help="archipelago sizes for the latency runs (3 10; 2 to 12)")
    parser.add_argument("--fiches", type=int, default=10, help="fiches published per run (10, max 50)")
    parser.add_argument("--fast-poll", type=float, default=0.05,
                        help="poll_interval of a second run on each archipelago, islands restarted (0.05; 0: none)")
    parser.add_argument("--backfill", type=int, default=1000,
                        help="fiches on island A for the backfill (1000, max 5000; 0: skip)")
    parser.add_argument("--keep", action="store_true", help="keep the islands' folders (serve.log)")
    args = parser.parse_args()
    if not all(2 <= n <= 12 for n in args.islands):
        parser.error("--islands: between 2 and 12")
    if not 1 <= args.fiches <= 50 or not 0 <= args.backfill <= 5000:
        parser.error("--fiches 1..50, --backfill 0..5000")
    header("replication between islands: publish -> visible, backfill", "replication")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
