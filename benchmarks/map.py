"""The map with 100,000 positioned fiches: /carte.geojson by bbox and zoom, and /carte.

    .venv/bin/python -m benchmarks.map [--items 100000] [--requests 20] [--postgres] [--without-index]

A real island (in this process, no background workers) holds `--items` public fiches, 80 % of
them spread over metropolitan France and 20 % in Brittany. Timed over real HTTP on loopback, one
request at a time (wall time, median and p95): the whole of France at zoom 5 and 6, Brittany at
zoom 8, a city at zoom 13 and 16, the world at zoom 2, and /carte (list and first view).
`--without-index` drops the index on (latitude, longitude) first (migration 0012), to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import socket
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import insert, text

from archipel.storage.tables import StoredObject, utcnow
from benchmarks.common import (
    add_database_arguments,
    backend_name,
    create_database,
    database_url_of,
    drop_database,
    header,
    line,
)
from web import appkeys, provision
from web.app import create_app

VIEWS = {
    "France, zoom 5": "-6,41,10,51.5&zoom=5",
    "France, zoom 6": "-6,41,10,51.5&zoom=6",
    "Bretagne, zoom 8": "-5.2,47,-1,49&zoom=8",
    "Brest, zoom 13": "-4.56,48.36,-4.42,48.42&zoom=13",
    "a street, zoom 16": "-4.50,48.385,-4.48,48.395&zoom=16",
    "the world, zoom 2": "-180,-85,180,85&zoom=2",
}


async def add_items(sessions, url: str, count: int) -> None:
    rng = random.Random(7)
    now = utcnow()
    rows = []
    for n in range(count):
        if n % 5 == 0:
            lat, lon = rng.uniform(47.3, 48.8), rng.uniform(-4.8, -1.2)
        else:
            lat, lon = rng.uniform(42.5, 51.0), rng.uniform(-4.8, 8.2)
        rows.append({"uri": f"{url}/o/bench{n}", "url": f"{url}/o/bench{n}", "is_local": True, "type": "Article",
                     "author_uri": f"{url}/users/alice", "kind": "fiche", "state": "published",
                     "name": f"Fiche {n}", "summary": "Une initiative.", "latitude": lat, "longitude": lon,
                     "published": now - timedelta(seconds=n), "language": "fr", "tags": [], "extra": {},
                     "fields": {}, "private_fields": {}, "public": True, "place": "", "region": "",
                     "content": "", "in_reply_to": None})
    async with sessions() as session:
        for start in range(0, count, 5000):
            await session.execute(insert(StoredObject), rows[start:start + 5000])
        await session.commit()


async def timed(http: aiohttp.ClientSession, url: str, count: int) -> tuple[list[float], int]:
    async with http.get(url) as response:  # warm-up
        assert response.status == 200, (url, response.status)
        body = await response.read()
    size = len(json.loads(body)["features"]) if url.split("?")[0].endswith(".geojson") else len(body)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        async with http.get(url) as response:
            await response.read()
        times.append((time.perf_counter() - start) * 1000)
    return times, size


async def run(args) -> None:
    database_url = database_url_of(args)
    workdir = Path(tempfile.mkdtemp(prefix="archipel-bench-map-"))
    if database_url:
        await create_database(database_url)
    runner = None
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = await provision.create_island(workdir, url=url, name="Carte", database_url=database_url,
                                                 allow_private_networks=True)
        app = create_app(settings, run_workers=False)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        sessions = app[appkeys.SESSIONS]
        await provision.add_user(sessions, username="alice", password="correct horse battery")
        started = time.perf_counter()
        await add_items(sessions, url, args.items)
        async with sessions() as session:
            if args.without_index:
                await session.execute(text("DROP INDEX ix_objects_position"))
            await session.execute(text("ANALYZE"))
            await session.commit()
        print(f"   {args.items} fiches inserted in {time.perf_counter() - started:.1f} s "
              f"({backend_name(database_url)}{', without the position index' if args.without_index else ''})")
        async with aiohttp.ClientSession() as http:
            for label, view in VIEWS.items():
                times, features = await timed(http, f"{url}/carte.geojson?bbox={view}", args.requests)
                p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
                line(label, f"{statistics.median(times):,.1f} ms", f"p95 {p95:,.1f} ms, {features} features")
            times, size = await timed(http, f"{url}/carte", args.requests)
            line("/carte (first 100 of the list)", f"{statistics.median(times):,.1f} ms", f"{size:,} bytes")
    finally:
        if runner is not None:
            await runner.cleanup()
        if database_url:
            await drop_database(database_url)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="positioned fiches (100000)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per view (20)")
    parser.add_argument("--without-index", action="store_true", help="drop the index on (latitude, longitude) first")
    add_database_arguments(parser)
    args = parser.parse_args()
    header("the map with many positioned items", "map")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
