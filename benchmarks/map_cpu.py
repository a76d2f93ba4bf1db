"""The map's data URLs on a filled island, as CPU per GET in process (wall times on a shared
machine are noise; the CPU this process spends answering is not, or much less).

    .venv/bin/python -m benchmarks.map_cpu DIR [--save FILE] [--compare FILE] [--explain] [--only WORD ...]
    .venv/bin/python -m benchmarks.map_cpu --writes 600 [--database-url postgresql+asyncpg://…/NEW]

DIR is an island a `benchmarks.listings --keep` run left (its archipel.toml; copy it first: this
runs its migrations). Each URL is answered by the application in this process (aiohttp test
client, no background workers): two warm-up GETs, then five; the minimum of `time.process_time()`
per GET (which counts the database driver's thread), and the minimum wall time beside it.
`--save` writes every answer's body, `--compare` checks them against a saved run (the GeoJSON
as parsed, /carte's total and first view); `--explain` prints the query plan of every statement
one GET runs.

`--writes N`: what keeping the map's cells adds to writing an item. A new island (SQLite in a
temporary folder, or the PostgreSQL database named, created and dropped); N positioned fiches,
one transaction each, as the inbox stores a replica (the ORM, whose flush indexes it), in blocks
of 50 with the kept cells and 50 without (map_cells.apply made a no-op), alternately; CPU and
wall time per item, minimum over the blocks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event

from archipel import map_cells
from archipel.settings import load_settings
from archipel.storage import migrate
from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage.tables import MapCell, StoredObject, utcnow
from benchmarks.common import create_database, drop_database, header, line
from web import appkeys, provision
from web.app import create_app

FRANCE = "-5.5,41,10,51.5"
BRETAGNE = "-5.2,47,-1,49"
BREST = "-4.56,48.36,-4.41,48.42"


def urls(archipelago: dict) -> list[tuple[str, str]]:
    theme = archipelago["themes"][3]
    island = archipelago["islands"][0]
    return [
        ("/carte", "/carte"),
        ("/carte?theme=", f"/carte?theme={theme}"),
        ("/carte?region=Bretagne", "/carte?region=Bretagne"),
        ("/carte?island=", f"/carte?island={island}"),
        ("/carte?q=compost", "/carte?q=compost"),
        ("geojson world, zoom 2", "/carte.geojson?bbox=-180,-85,180,85&zoom=2"),
        ("geojson France, zoom 5", f"/carte.geojson?bbox={FRANCE}&zoom=5"),
        ("geojson France, zoom 6", f"/carte.geojson?bbox={FRANCE}&zoom=6"),
        ("geojson France, zoom 7", f"/carte.geojson?bbox={FRANCE}&zoom=7"),
        ("geojson Bretagne, zoom 8", f"/carte.geojson?bbox={BRETAGNE}&zoom=8"),
        ("geojson Paris, zoom 10", "/carte.geojson?bbox=1.6,48.5,3.2,49.2&zoom=10"),
        ("geojson Brest, zoom 13", f"/carte.geojson?bbox={BREST}&zoom=13"),
        ("geojson a street, zoom 16", "/carte.geojson?bbox=-4.50,48.385,-4.48,48.395&zoom=16"),
        ("geojson France z6, a theme", f"/carte.geojson?bbox={FRANCE}&zoom=6&theme={theme}"),
        ("geojson France z6, region", f"/carte.geojson?bbox={FRANCE}&zoom=6&region=Bretagne"),
        ("geojson France z6, an island", f"/carte.geojson?bbox={FRANCE}&zoom=6&island={island}"),
        ("geojson France z6, words", f"/carte.geojson?bbox={FRANCE}&zoom=6&q=compost"),
        ("geojson France z6, kind", f"/carte.geojson?bbox={FRANCE}&zoom=6&kind=resource"),
        ("geojson no bbox", "/carte.geojson"),
    ]


def comparable(path: str, body: str):
    """What must stay the same: the GeoJSON as parsed; of a page, the total and the first view."""
    if ".geojson" in path:
        return json.loads(body)
    total = re.search(r'id="map-list-title">(\d[\d\u00a0\u202f ,.]*)', body)
    extent = re.search(r'data-extent="([^"]*)"', body)
    return {"total": total and total.group(1), "extent": extent and extent.group(1)}


async def measure(client: TestClient, path: str, warmup: int, count: int) -> tuple[float, float, str]:
    for _ in range(warmup):
        async with client.get(path) as response:
            assert response.status == 200, (path, response.status)
            body = await response.text()
    cpu, wall = [], []
    for _ in range(count):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        async with client.get(path) as response:
            body = await response.text()
        cpu.append((time.process_time() - cpu0) * 1000)
        wall.append((time.perf_counter() - wall0) * 1000)
    return min(cpu), min(wall), body


async def explain(client: TestClient, app, path: str) -> None:
    """Every statement one GET runs, with its plan."""
    engine = app[appkeys.SESSIONS].kw["bind"].sync_engine
    seen: list[tuple[str, object]] = []

    def note(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        async with client.get(path) as response:
            await response.read()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    sqlite = engine.dialect.name == "sqlite"
    async with app[appkeys.SESSIONS]() as session:
        connection = await session.connection()
        for statement, parameters in seen:
            print("     " + " ".join(statement.split())[:300])
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            raw = await connection.exec_driver_sql(prefix + statement, parameters)
            for row in raw:
                print("        " + " | ".join(str(value) for value in row[-1:] if value is not None))


async def run(args) -> None:
    directory = Path(args.directory)
    settings = load_settings(directory)
    await migrate.upgrade(settings.effective_database_url)
    archipelago = json.loads((directory / "archipelago.json").read_text())["archipelago"]
    app = create_app(settings, run_workers=False)
    saved = json.loads(Path(args.compare).read_text()) if args.compare else {}
    answers, different = {}, []
    async with TestClient(TestServer(app)) as client:
        for label, path in urls(archipelago):
            if args.only and not any(word in label for word in args.only):
                continue
            cpu, wall, body = await measure(client, path, args.warmup, args.requests)
            answers[path] = comparable(path, body)
            size = len(answers[path]["features"]) if ".geojson" in path else answers[path]["total"]
            note = f"wall {wall:,.1f} ms; {size} {'features' if '.geojson' in path else 'items'}"
            if path in saved and saved[path] != answers[path]:
                different.append(path)
                note += "; DIFFERENT from the saved run"
            line(label, f"{cpu:,.1f} ms", note)
            if args.explain:
                await explain(client, app, path)
    if args.save:
        Path(args.save).write_text(json.dumps(answers, ensure_ascii=False, indent=1))
    if args.compare:
        print(f"   {len(different)} of {len(answers)} answers differ from {args.compare}")


async def writes(args) -> None:
    import random
    import shutil
    import tempfile

    from sqlalchemy import func, select

    workdir = Path(tempfile.mkdtemp(prefix="archipel-map-writes-"))
    if args.database_url:
        await create_database(args.database_url)
    engine = None
    kept_apply = map_cells.apply
    try:
        settings = await provision.create_island(workdir, url="http://127.0.0.1:1", name="Carte",
                                                 database_url=args.database_url)
        engine = make_engine(settings.effective_database_url)
        sessions = make_sessionmaker(engine)
        rng = random.Random(3)
        timings: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        block = 50
        for n in range(0, args.writes, block):
            keep = (n // block) % 2 == 0
            map_cells.apply = kept_apply if keep else (lambda *_: None)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for i in range(n, n + block):
                async with sessions() as session:
                    session.add(StoredObject(
                        uri=f"http://ile-{i % 50}.example/o/{i}", is_local=False, type="Article",
                        author_uri=f"http://ile-{i % 50}.example/users/a", kind="fiche", name=f"Fiche {i}",
                        summary="Une initiative.", content="<p>Un atelier de quartier.</p>", language="fr",
                        latitude=rng.uniform(42.5, 51.0), longitude=rng.uniform(-4.8, 8.2),
                        published=utcnow(), tags=["Vélo"], fields={}, extra={}))
                    await session.commit()
            timings[keep].append(((time.process_time() - cpu0) * 1000 / block,
                                  (time.perf_counter() - wall0) * 1000 / block))
        async with sessions() as session:
            rows = await session.scalar(select(func.count()).select_from(MapCell))
        for keep, label in ((False, "an item, without the kept cells"), (True, "an item, with the kept cells")):
            line(label, f"{min(cpu for cpu, _ in timings[keep]):,.2f} ms",
                 f"CPU per item (min of {len(timings[keep])} blocks of {block}); "
                 f"wall {min(wall for _, wall in timings[keep]):,.2f} ms")
        kept_items = len(timings[True]) * block
        line("map_cells rows written", f"{rows:,}", f"for {kept_items:,} items ({rows / max(kept_items, 1):.1f} each)")
    finally:
        map_cells.apply = kept_apply
        if engine is not None:
            await engine.dispose()
        if args.database_url:
            await drop_database(args.database_url)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", metavar="DIR", nargs="?")
    parser.add_argument("--writes", type=int, metavar="N", help="measure writing N items instead (see above)")
    parser.add_argument("--database-url", help="with --writes: a PostgreSQL database to create (and drop)")
    parser.add_argument("--requests", type=int, default=5, help="measured GETs per URL (5)")
    parser.add_argument("--warmup", type=int, default=2, help="GETs before them (2)")
    parser.add_argument("--save", metavar="FILE", help="write every answer to FILE")
    parser.add_argument("--compare", metavar="FILE", help="compare every answer with FILE")
    parser.add_argument("--explain", action="store_true", help="print every statement's plan")
    parser.add_argument("--only", nargs="*", help="only the URLs whose label holds one of these")
    args = parser.parse_args()
    if args.writes:
        header("writing positioned items, with and without the map's kept cells", "map_cpu")
        asyncio.run(writes(args))
        return
    if not args.directory:
        parser.error("DIR is needed (or --writes)")
    header("the map's data URLs, CPU per GET in process", "map_cpu")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
