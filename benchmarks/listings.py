"""Every listing page of an island holding 100,000 fiches, one visitor and ten at once.

    .venv/bin/python -m benchmarks.listings [--items 100000] [--database sqlite|postgresql|both]
                                            [--requests 30] [--only LABEL ...] [--keep DIR]
                                            [--reuse DIR] [--web-processes N]

The island is made as `archipel init` makes it, then filled by `benchmarks.archipelago_fill`
(Core bulk INSERTs: mostly replicas from 50 islands it follows, some re-shared by a hub, a few
stored outside the archipelago, 5 % written by its members), its kept counts folded (and on
PostgreSQL `VACUUM ANALYZE`, as autovacuum would: see `settle`), then served by `archipel serve`
in a child process (on PostgreSQL, `--web-processes N` serves it as production does: N web
processes, the ten visitors spread over them, and a worker process). Each URL of `urls()` is
fetched over loopback with one aiohttp client session: two warm-up GETs, then `--requests` GETs one at a time (1 visitor) and ten tasks of `--requests`
GETs each sending the next as soon as the previous one is answered (10 visitors); p50 / p95 /
p99 of the wall time per GET. The ceiling is a bare aiohttp handler answering a ready-made 20 KB
page (`benchmarks.servers page`, a child process too), measured the same way in the same run.
Target: p95 under 50 ms with one visitor and under 200 ms with ten, on both databases.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
from sqlalchemy import func, select, text

from archipel import content, map_cells, search_totals
from archipel.settings import load_settings
from archipel.storage import migrate
from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage.tables import LocalActor, OutgoingActivity, StoredObject
from benchmarks.archipelago_fill import Archipelago, fill
from benchmarks.common import (
    ChildServer,
    CpuMeter,
    Island,
    create_database,
    default_postgres_url,
    drop_database,
    header,
    line,
    percentile,
    wait_until_idle,
)
from web import provision

AS2 = {"Accept": "application/activity+json"}


def urls(archipelago: Archipelago, positions: dict) -> list[tuple[str, str, dict]]:
    """(label, path, headers) of every page measured: extend here."""
    island = archipelago.island_username
    host = archipelago.islands[0]
    theme = archipelago.themes[3]
    return [
        ("home /", "/", {}),
        ("/federated", "/federated", {}),
        ("/federated?island=", f"/federated?island={host}", {}),
        ("/federated?theme=", f"/federated?theme={theme}", {}),
        ("/federated?type=resource", "/federated?type=resource", {}),
        ("/federated?territory=", "/federated?territory=bretagne", {}),
        ("/federated?language=en", "/federated?language=en", {}),
        ("/federated?before= (deep page)", f"/federated?before={positions['federated']}", {}),
        ("theme page /tags/", f"/tags/{theme}", {}),
        ("author page /@member", f"/@{archipelago.members[0]}", {}),
        ("island state /federated/islands/", f"/federated/islands/{host}", {}),
        ("catalog (collection)", f"/users/{island}/catalog", AS2),
        ("catalog first page", f"/users/{island}/catalog?after=", AS2),
        ("catalog deep page", f"/users/{island}/catalog?after={positions['catalog']}", AS2),
        ("outbox (collection)", f"/users/{island}/outbox", AS2),
        ("outbox page 1", f"/users/{island}/outbox?page=1", AS2),
        ("outbox deep page", f"/users/{island}/outbox?page=1&max_id={positions['outbox']}", AS2),
        ("member's outbox page 1", f"/users/{archipelago.members[0]}/outbox?page=1", AS2),
        ("/recherche (no words)", "/recherche", {}),
        ("/recherche?q=réemploi (a theme's word)", "/recherche?q=r%C3%A9emploi", {}),
        ("/recherche?q=atelier (in every item)", "/recherche?q=atelier", {}),
        ("/recherche?q=réemploi&region=", "/recherche?q=r%C3%A9emploi&region=Bretagne", {}),
        ("/recherche?region= (no words)", "/recherche?region=Bretagne", {}),
        ("/recherche?theme= (no words)", f"/recherche?theme={theme}", {}),
        ("/recherche.json?q=réemploi", "/recherche.json?q=r%C3%A9emploi", {}),
        ("/themes", "/themes", {}),
        ("/carte", "/carte", {}),
        ("/carte.geojson France, zoom 6", "/carte.geojson?bbox=-5.5,41,10,51.5&zoom=6", {}),
        ("/carte.geojson Brest, zoom 13", "/carte.geojson?bbox=-4.56,48.36,-4.41,48.42&zoom=13", {}),
        ("for scale: a fiche page /r/", f"/r/{positions['replica']}", {}),
    ]


async def positions_of(sessions, archipelago: Archipelago) -> dict:
    """Cursors half-way down each listing (plain queries, so that they cost the same before and
    after any change to the listings' own)."""
    async with sessions() as session:
        middle = archipelago.items // 2
        published, ident = (await session.execute(
            select(StoredObject.published, StoredObject.id).where(StoredObject.in_reply_to.is_(None))
            .order_by(StoredObject.published.desc(), StoredObject.id.desc()).offset(middle).limit(1))).one()
        changed = func.coalesce(StoredObject.updated, StoredObject.published)
        moment, local_id = (await session.execute(
            select(changed, StoredObject.id).where(StoredObject.is_local.is_(True))
            .order_by(changed, StoredObject.id).offset(archipelago.local_items // 2).limit(1))).one()
        island_id = await session.scalar(select(LocalActor.id).where(LocalActor.kind == "island"))
        outgoing = list(await session.scalars(select(OutgoingActivity.id).where(
            OutgoingActivity.actor_id == island_id).order_by(OutgoingActivity.id)))
        replica = await session.scalar(select(StoredObject.id).where(
            StoredObject.is_local.is_(False), StoredObject.kind == "fiche").limit(1))
    if isinstance(moment, str):  # SQLite gives coalesce() back as text
        from datetime import datetime, timezone
        moment = datetime.fromisoformat(moment).replace(tzinfo=timezone.utc)
    return {"federated": content.encode_position(published, ident),
            "catalog": content.encode_position(moment, local_id),
            "outbox": outgoing[len(outgoing) // 2] + 1, "replica": replica}


async def visitors(http: aiohttp.ClientSession, url: str, headers: dict, *, concurrency: int,
                   requests: int, budget: float | None = None,
                   servers: list[tuple[str, dict]] | None = None) -> tuple[list[float], Counter]:
    """`concurrency` tasks, each sending `requests` GETs one after the other (none started after
    `budget` seconds, but each task sends at least one): ms per GET. `servers`: (base URL,
    headers) of several web processes of one island, `url` being a path; each visitor keeps to
    one of them, in turn (as a proxy pinning each client to one process)."""
    times, statuses = [], Counter()
    deadline = time.perf_counter() + budget if budget else None

    async def visitor(number: int) -> None:
        url_, headers_ = url, headers
        if servers:
            base, extra = servers[number % len(servers)]
            url_, headers_ = base + url, {**headers, **extra}
        for n in range(requests):
            if n and deadline and time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            try:
                async with http.get(url_, headers=headers_) as response:
                    await response.read()
                    statuses[response.status] += 1
            except (aiohttp.ClientError, TimeoutError) as error:  # counted at the time it took
                statuses[type(error).__name__] += 1
            times.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(visitor(number) for number in range(concurrency)))
    return times, statuses


def figures(times: list[float]) -> str:
    if not times:
        return "-"
    return "/".join(f"{percentile(times, p):,.0f}" if percentile(times, p) >= 10 else f"{percentile(times, p):.1f}"
                    for p in (50, 95, 99))


async def measure(base: str, label: str, path: str, headers: dict, requests: int, results: dict,
                  ceiling: dict | None = None, ten_visitors: bool = True, timeout: float = 60,
                  warmup: int = 2, budget: float | None = None,
                  servers: list[tuple[str, dict]] | None = None) -> None:
    """One visitor on the island's first process; ten spread over `servers` when given."""
    connector = aiohttp.TCPConnector(limit=10, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        await visitors(http, path, headers, concurrency=len(servers or [None]), requests=warmup,
                       servers=servers or [(base, {})])
        one, statuses = await visitors(http, base + path, headers, concurrency=1, requests=requests,
                                       budget=budget)
        ten = []
        if ten_visitors:
            ten, more = await visitors(http, path, headers, concurrency=10, requests=requests,
                                       budget=budget, servers=servers or [(base, {})])
            statuses.update(more)
    results[label] = (percentile(one, 95), percentile(ten, 95) if ten else 0.0)
    bad = {status: n for status, n in statuses.items() if status != 200}
    note = f"statuses {dict(bad)}" if bad else ""
    if ceiling:
        ratio = f"{percentile(ten, 95) / ceiling['ten']:,.0f}x" if ten else "-"
        note = f"p95 {percentile(one, 95) / ceiling['one']:,.0f}x / {ratio} the ceiling's " + note
    counts = f"n={len(one)}|{len(ten)}"
    line(label, f"{figures(one)} | {figures(ten) if ten else 'not run'}", f"{counts} {note}".rstrip())


def progress(done: int, total: int) -> None:
    if done % 20_000 == 0 or done == total:
        print(f"   … {done:,} / {total:,} items", flush=True)


async def filled(backend: str, args, root: Path) -> tuple[Island, Archipelago, dict]:
    """A new island filled with `--items` items, or with `--reuse` the one a `--keep` run left
    (brought to the current schema first): filling takes minutes, measuring a page seconds."""
    directory = root / backend
    saved = directory / "archipelago.json"
    if args.reuse:
        kept = json.loads(saved.read_text())
        island = Island(directory, database_url=kept["database_url"], handle="ile")
        await migrate.upgrade(load_settings(directory).effective_database_url)
        print(f"   {backend}: reusing the {kept['archipelago']['items']:,} items of {directory}")
        return island, Archipelago(**kept["archipelago"]), kept["positions"]
    database_url = default_postgres_url() if backend == "postgresql" else None
    directory.mkdir(parents=True)
    island = Island(directory, database_url=database_url, handle="ile")
    if database_url:
        await create_database(database_url)
    settings = await provision.create_island(directory, url=island.url, name="Île du banc",
                                             handle="ile", database_url=database_url,
                                             allow_private_networks=True)
    engine = make_engine(settings.effective_database_url)
    sessions = make_sessionmaker(engine)
    try:
        archipelago = await fill(sessions, island.url, items=args.items, progress=progress)
        positions = await positions_of(sessions, archipelago)
    finally:
        await engine.dispose()
    print(f"   {backend}: {archipelago.items:,} items ({archipelago.local_items:,} local, the rest from "
          f"{len(archipelago.islands)} followed islands, a hub and strangers) written in "
          f"{archipelago.seconds:.0f} s")
    if args.keep:
        saved.write_text(json.dumps({"database_url": database_url, "positions": positions,
                                     "archipelago": dataclasses.asdict(archipelago)}))
    return island, archipelago, positions


async def settle(database_url: str) -> None:
    """The state a running island reaches in its first minutes: the kept counts and cells folded
    by their compactors and, on PostgreSQL, the tables vacuumed and analysed, as autovacuum does
    (this machine's server runs with autovacuum off: the folds' dead rows stayed, and with them
    sequential scans of tables ten times their size)."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            await search_totals.compact(session)
            await map_cells.compact(session)
            await session.commit()
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()


async def run_backend(backend: str, args, root: Path) -> dict:
    results: dict = {}
    island, archipelago, positions = await filled(backend, args, root)
    database_url = island.database_url
    await settle(load_settings(island.directory).effective_database_url)
    try:
        with ChildServer("page") as bare:
            ceiling_one, ceiling_ten = [], []
            connector = aiohttp.TCPConnector(limit=10, limit_per_host=0)
            async with aiohttp.ClientSession(connector=connector) as http:
                await visitors(http, bare.url + "/", {}, concurrency=1, requests=5)
                ceiling_one, _ = await visitors(http, bare.url + "/", {}, concurrency=1, requests=max(args.requests, 50))
                ceiling_ten, _ = await visitors(http, bare.url + "/", {}, concurrency=10, requests=max(args.requests, 50))
        ceiling = {"one": percentile(ceiling_one, 95), "ten": percentile(ceiling_ten, 95)}
        several = backend == "postgresql" and args.web_processes > 1
        layout = (f"{args.web_processes} `archipel serve --role web` processes, ten visitors spread over them, "
                  "and one `--role worker`" if several else "`archipel serve`, one process")
        print(f"   ms per GET, p50/p95/p99: 1 visitor | 10 visitors ({backend}; {layout})")
        line("ceiling: bare aiohttp, a 20 KB page", f"{figures(ceiling_one)} | {figures(ceiling_ten)}")
        island.start(role="web" if several else "all")
        others: list = []
        try:
            if several:
                others = [island.start_web(f"web{n}") for n in range(2, args.web_processes + 1)]
                others.append(island.start_worker("worker"))
            servers = [(island.url, {})] + [(web.url, web.headers) for web in others if web.ROLE == "web"]
            settled = wait_until_idle(island.pid, *(process.pid for process in others))
            print(f"   the island's first passes of its periodic jobs done {settled:.1f} s after it answered")
            with CpuMeter(island.pid, *(process.pid for process in others)) as meter:
                for label, path, headers in urls(archipelago, positions):
                    if args.only and not any(word in label for word in args.only):
                        continue
                    await measure(island.url, label, path, headers, args.requests, results, ceiling,
                                  ten_visitors=not args.one_visitor, timeout=args.timeout,
                                  warmup=args.warmup, budget=args.budget, servers=servers)
            names = ["island"] if not several else ["web1", *(process.name for process in others)]
            print(f"   {meter.describe(*names)} (whole {meter.wall:.0f} s of measures)")
        finally:
            for process in others:
                process.stop()
            island.stop()
        over = [label for label, (one, ten) in results.items() if one >= 50 or ten >= 200]
        print(f"   {backend}: {len(results) - len(over)} of {len(results)} pages within the target "
              f"(p95 < 50 ms with 1 visitor, < 200 ms with 10)" + (f"; over: {', '.join(over)}" if over else ""))
    finally:
        if database_url and not (args.keep or args.reuse):
            await drop_database(database_url)
        elif database_url:
            print(f"   kept the database {database_url}")
    return results


async def run(args) -> None:
    kept = args.keep or args.reuse
    root = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="archipel-bench-listings-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        backends = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
        for backend in backends:
            await run_backend(backend, args, root)
    finally:
        if not kept:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="items in the island (100,000)")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both",
                        help="PostgreSQL: a fresh database on postgres@127.0.0.1:5432, dropped after")
    parser.add_argument("--requests", type=int, default=30,
                        help="GETs per visitor and URL (30: 30 with one visitor, 300 with ten)")
    parser.add_argument("--one-visitor", action="store_true", help="skip the ten visitors (for a slow "
                        "island: each GET of ten visitors waits for the nine others')")
    parser.add_argument("--warmup", type=int, default=2, help="GETs of each URL before the timed ones (2)")
    parser.add_argument("--budget", type=float, default=20, help="seconds per URL and number of visitors after "
                        "which no GET is started (20: a slow page is measured on fewer GETs, n= says how many)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds before a GET counts as failed (60)")
    parser.add_argument("--web-processes", type=int, default=1, metavar="N",
                        help="PostgreSQL: N `archipel serve --role web` processes and one `--role worker` "
                        "(the production layout) instead of one process; the ten visitors are spread over them")
    parser.add_argument("--only", nargs="*", help="only the URLs whose label contains one of these words")
    parser.add_argument("--keep", metavar="DIR", help="make the islands in DIR and keep them (and the "
                        "PostgreSQL database) after the run")
    parser.add_argument("--reuse", metavar="DIR", help="measure the islands a `--keep DIR` run left in DIR "
                        "instead of filling new ones (migrated to the current schema first)")
    args = parser.parse_args()
    if args.keep and args.reuse:
        parser.error("--keep and --reuse are exclusive")
    header(f"listings with {args.items:,} items", "listings")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
