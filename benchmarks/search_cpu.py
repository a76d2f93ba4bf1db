"""CPU per GET of the search pages, in process, on an island a `benchmarks.listings --keep` run left.

    .venv/bin/python -m benchmarks.search_cpu DIR [--database sqlite|postgresql] [--gets 5]
                                              [--only WORD ...] [--explain] [--save FILE] [--compare FILE]
                                              [--write-cost]

Wall times on a shared machine say more about the neighbours than about the code: this runs the
application in this process (aiohttp test client, no background workers) and takes, for each
search page, the `time.process_time()` of a GET (which counts the database driver's thread too),
the minimum of `--gets` GETs after two warm-ups; and the wall time, which on PostgreSQL is the
only figure that holds the server's work. `--explain` prints each SQL statement of the
page with its time and its plan (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN). `--save`
writes the JSON of a set of searches (choices, themes, words and their combinations, built from
the island's own most frequent values); `--compare` checks the same searches against such a file:
results and counts must not change when only the speed should. `--write-cost` times what indexing
one new item costs (search_index._write, one item at a time as the inbox does, in a transaction
rolled back after), with and without the pairs of search_pair_totals: wall and CPU of this process
(on PostgreSQL the server's CPU is not in it).

DIR is the folder given to `--keep` (its `sqlite/` or `postgresql/` island is used as it is: use a
copy, the schema is brought to the current one first).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, select

from archipel import search_index
from archipel.storage.tables import SearchDocument, StoredObject

from archipel.settings import load_settings
from archipel.storage import migrate
from benchmarks.common import header, line, load_average
from web import appkeys
from web.app import create_app

SEARCH_FACETS = ("island", "theme", "kind", "region", "place", "language", "licence", "audience", "year")


def pages(kept: dict) -> list[tuple[str, str]]:
    """(label, path) of the search pages benchmarks.listings measures, and two choices at once."""
    theme = quote(kept["archipelago"]["themes"][3])
    return [
        ("/recherche (no words)", "/recherche"),
        ("/recherche?region= (no words)", "/recherche?region=Bretagne"),
        ("/recherche?theme= (no words)", f"/recherche?theme={theme}"),
        ("/recherche?region=&kind= (no words)", "/recherche?region=Bretagne&kind=fiche"),
        ("/recherche?theme=&region= (no words)", f"/recherche?theme={theme}&region=Bretagne"),
        ("/recherche?q=réemploi", "/recherche?q=r%C3%A9emploi"),
        ("/recherche?q=réemploi&region=", "/recherche?q=r%C3%A9emploi&region=Bretagne"),
        ("/recherche?q=atelier (every item)", "/recherche?q=atelier"),
        ("/recherche.json?q=réemploi", "/recherche.json?q=r%C3%A9emploi"),
    ]


async def searches(client: TestClient, kept: dict) -> list[str]:
    """The addresses of /recherche.json compared by --save and --compare: each facet's most
    frequent value alone, pairs of facets, a theme with a facet, two themes, words alone and with
    choices, a second page and the newest first."""
    everything = await (await client.get("/recherche.json")).json()
    top = {facet: list(values)[:2] for facet, values in everything["facets"].items() if values}
    wanted: list[list[tuple[str, str]]] = [[]]
    wanted += [[(facet, values[0])] for facet, values in top.items()]
    present = [facet for facet in SEARCH_FACETS if facet in top]
    wanted += [[(a, top[a][0]), (b, top[b][0])] for a, b in zip(present, present[1:])]
    wanted += [[("theme", top["theme"][0]), ("theme", top["theme"][1])],
               [("region", top["region"][0]), ("region", top["region"][1])],
               [("theme", kept["archipelago"]["themes"][3])], [("region", "Bretagne")]]
    for words in ("réemploi", "atelier", "atelier -réemploi", '"économie circulaire"', "inexistantissime"):
        wanted += [[("q", words)], [("q", words), ("region", "Bretagne")],
                   [("q", words), ("theme", top["theme"][0])], [("q", words), ("kind", top["kind"][0])]]
    wanted += [[("q", "atelier"), ("page", "3")], [("q", "réemploi"), ("tri", "date")], [("page", "2")],
               [("region", "Bretagne"), ("page", "2")]]
    return ["/recherche.json" + ("?" + urlencode(params) if params else "") for params in wanted]


class Statements:
    """The SQL statements run while `recording`, with their time."""

    def __init__(self, engine):
        self.recording = False
        self.seen: list[tuple[str, object, float]] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.recording:
            self.seen.append((statement, parameters, (time.perf_counter() - conn.info["started"]) * 1000))


async def cpu_per_get(client: TestClient, path: str, gets: int, warmup: int = 2) -> tuple[list, list, int]:
    """ms of CPU and of wall time per GET (each sorted), and the status."""
    status = 0
    for _ in range(warmup):
        async with client.get(path) as response:
            await response.read()
    cpu, wall = [], []
    for _ in range(gets):
        started, started_wall = time.process_time(), time.perf_counter()
        async with client.get(path) as response:
            await response.read()
            status = response.status
        cpu.append((time.process_time() - started) * 1000)
        wall.append((time.perf_counter() - started_wall) * 1000)
    return sorted(cpu), sorted(wall), status


async def explain(engine, statements: Statements, client: TestClient, path: str) -> None:
    statements.seen.clear()
    statements.recording = True
    async with client.get(path) as response:
        await response.read()
    statements.recording = False
    sqlite = engine.dialect.name == "sqlite"
    for statement, parameters, ms in statements.seen:
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        print(f"      {ms:7.1f} ms  {' '.join(statement.split())[:300]}")
        async with engine.connect() as connection:
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = (await connection.exec_driver_sql(prefix + statement, parameters)).all()
        for row in rows:
            print("                 " + (str(row[-1]) if sqlite else str(row[0])))


async def write_cost(sessions, count: int = 300) -> None:
    """ms per new item indexed, with and without the pairs, each on its own items (removed from
    the index first, in the same transaction, which is rolled back)."""
    async with sessions() as session:
        items = list(await session.scalars(select(StoredObject).join(
            SearchDocument, SearchDocument.object_id == StoredObject.id).order_by(StoredObject.id.desc())
            .limit(4 * count)))

        def measure(sync) -> dict:
            connection = sync.connection()
            figures: dict[str, list] = {"with the pairs": [], "without": []}
            for round_items, order in ((items[:2 * count], (True, False)), (items[2 * count:], (False, True))):
                for pairs, batch in zip(order, (round_items[:count], round_items[count:])):
                    search_index._write(connection, {item.id for item in batch}, [], pairs=pairs)
                    wall, cpu = time.perf_counter(), time.process_time()
                    for item in batch:
                        search_index._write(connection, set(), [item], {item.id}, pairs=pairs)
                    figures["with the pairs" if pairs else "without"].append(
                        ((time.perf_counter() - wall) * 1000 / len(batch), (time.process_time() - cpu) * 1000 / len(batch)))
            return figures

        figures = await session.run_sync(measure)
        await session.rollback()
    for label, runs in figures.items():
        line(f"indexing one new item, {label}", f"{min(w for w, _ in runs):.2f} ms",
             f"CPU {min(c for _, c in runs):.2f} ms (min of {len(runs)} runs of {count} items)")


async def run(args) -> None:
    directory = Path(args.directory) / args.database
    kept = json.loads((directory / "archipelago.json").read_text())
    # Every GET comes from one address: the brakes per address off (web/search_guard.py).
    settings = dataclasses.replace(load_settings(directory), search_seconds_per_minute=0, searches_per_address=0)
    await migrate.upgrade(settings.effective_database_url)
    app = create_app(settings, run_workers=False)
    async with TestClient(TestServer(app)) as client:
        engine = app[appkeys.ENGINE]
        statements = Statements(engine)
        print(f"   {args.database}, {kept['archipelago']['items']:,} items; load average {load_average()}")
        if args.write_cost:
            await write_cost(app[appkeys.SESSIONS])
        print(f"   ms of CPU per GET in process (and wall time, which on PostgreSQL holds the server's work): "
              f"min / median of {args.gets} after 2 warm-ups")
        for label, path in pages(kept):
            if args.only and not any(word in label for word in args.only):
                continue
            cpu, wall, status = await cpu_per_get(client, path, args.gets)
            line(label, f"{cpu[0]:,.1f} / {cpu[len(cpu) // 2]:,.1f}",
                 f"wall {wall[0]:,.1f} / {wall[len(wall) // 2]:,.1f}" + ("" if status == 200 else f" status {status}"))
            if args.explain:
                await explain(engine, statements, client, path)
        if args.save or args.compare:
            addresses = await searches(client, kept)
            answers = {}
            for address in addresses:
                async with client.get(address) as response:
                    answers[address] = await response.json()
            if args.save:
                Path(args.save).write_text(json.dumps(answers, ensure_ascii=False, indent=1, sort_keys=True))
                print(f"   the JSON of {len(answers)} searches written to {args.save}")
            if args.compare:
                before = json.loads(Path(args.compare).read_text())
                differ = [address for address in addresses if before.get(address) != answers[address]]
                missing = [address for address in addresses if address not in before]
                print(f"   {len(addresses) - len(differ)} of {len(addresses)} searches give the same JSON as "
                      f"{args.compare}" + (f"; different: {', '.join(differ)}" if differ else "")
                      + (f" (not in the file: {len(missing)})" if missing else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="the folder a `benchmarks.listings --keep DIR` run left (a copy)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--gets", type=int, default=5, help="timed GETs per page (5; the minimum is reported)")
    parser.add_argument("--only", nargs="*", help="only the pages whose label contains one of these words")
    parser.add_argument("--explain", action="store_true", help="each page's statements, times and plans")
    parser.add_argument("--save", metavar="FILE", help="write the JSON of a set of searches to FILE")
    parser.add_argument("--compare", metavar="FILE", help="compare the same searches with a --save FILE")
    parser.add_argument("--write-cost", action="store_true", help="time the indexing of one new item, "
                        "with and without the pairs")
    args = parser.parse_args()
    header("search pages, CPU per GET in process", "search_cpu")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
