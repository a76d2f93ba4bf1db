"""Rendering a fiche page under a 1,000-reply conversation.

    .venv/bin/python -m benchmarks.threads [--replies 1000] [--requests 30] [--postgres]

A real island (in this process, no background workers) holds a fiche with `--replies` replies
from one remote actor: groups of four (a top-level reply and three replies nested under each
other). Timed over real HTTP on loopback, one request at a time (wall time per page):
  - the ceiling: the island's /about page (a template and two small queries);
  - the same fiche with no reply (the page without a conversation);
  - page 1, a middle page and the last page of the conversation (200 replies drawn each);
  - archipel.threads.load alone (the two thread queries and the tree), without HTTP or template.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from archipel import accounts, threads
from archipel.storage.tables import RemoteActor, StoredObject, utcnow
from benchmarks.common import (
    add_database_arguments,
    backend_name,
    create_database,
    database_url_of,
    drop_database,
    header,
    line,
)
from federation import actions
from web import appkeys, provision
from web.app import create_app

AUTHOR = "http://127.0.0.2:9/users/rosa"


async def add_fiche(sessions, url: str, title: str) -> StoredObject:
    async with sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        fiche = await actions.publish_item(session, url, [alice], kind="fiche", title=title,
                                           source="Un jardin.", data={"pitch": "Cultiver ensemble"})
        await session.commit()
    return fiche


async def add_replies(sessions, root: str, count: int) -> None:
    start = utcnow() - timedelta(days=1)
    async with sessions() as session:
        session.add(RemoteActor(uri=AUTHOR, host="127.0.0.2:9", type="Person", username="rosa",
                                display_name="Rosa", inbox=f"{AUTHOR}/inbox", url="http://127.0.0.2:9/@rosa",
                                icon_url="https://cdn.example/rosa.png", document={}))
        previous = root
        for n in range(count):
            parent = root if n % 4 == 0 else previous
            uri = f"{AUTHOR}/statuses/{n}"
            session.add(StoredObject(uri=uri, url=uri, is_local=False, type="Note", kind="note",
                                     author_uri=AUTHOR, in_reply_to=parent, published=start + timedelta(seconds=n),
                                     content=f"<p>Réponse {n} : un paragraphe de taille ordinaire, avec "
                                             f"<a href=\"https://example.org/{n}\">un lien</a>.</p>"))
            previous = uri
        await session.commit()


async def timed_gets(http: aiohttp.ClientSession, url: str, count: int) -> list[float]:
    async with http.get(url) as response:  # warm-up
        assert response.status == 200, response.status
        await response.read()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        async with http.get(url) as response:
            await response.read()
        times.append((time.perf_counter() - start) * 1000)
    return times


def show(label: str, times: list[float], ceiling: float | None = None) -> None:
    median = statistics.median(times)
    p95 = sorted(times)[int(len(times) * 0.95) - 1]
    note = f"p95 {p95:,.1f} ms" + (f"; {median / ceiling:,.1f}x the ceiling" if ceiling else "")
    line(label, f"{median:,.1f} ms", note)


async def run(args) -> None:
    database_url = database_url_of(args)
    workdir = Path(tempfile.mkdtemp(prefix="archipel-bench-threads-"))
    if database_url:
        await create_database(database_url)
    runner = None
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # bound first: the island knows its URL
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = await provision.create_island(workdir, url=url, name="Fils", database_url=database_url,
                                                 allow_private_networks=True)
        app = create_app(settings, run_workers=False)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        sessions = app[appkeys.SESSIONS]
        await provision.add_user(sessions, username="alice", password="correct horse battery")
        empty = await add_fiche(sessions, url, "Sans réponse")
        fiche = await add_fiche(sessions, url, "Jardin partagé")
        started = time.perf_counter()
        await add_replies(sessions, fiche.uri, args.replies)
        print(f"   {args.replies} replies inserted in {time.perf_counter() - started:.1f} s "
              f"({backend_name(database_url)})")
        async with sessions() as session:
            pages = (await threads.load(session, fiche, base_url=url)).pages
        async with aiohttp.ClientSession() as http:
            ceiling = await timed_gets(http, f"{url}/about", args.requests)
            show("ceiling: /about", ceiling)
            show("fiche without replies", await timed_gets(http, empty.uri, args.requests), statistics.median(ceiling))
            for number in (1, (pages + 1) // 2, pages):
                show(f"fiche, conversation page {number}/{pages}",
                     await timed_gets(http, f"{fiche.uri}?discussion={number}", args.requests),
                     statistics.median(ceiling))
        loads = []
        for _ in range(args.requests):
            async with sessions() as session:
                start = time.perf_counter()
                await threads.load(session, fiche, base_url=url, page=1)
                loads.append((time.perf_counter() - start) * 1000)
        show("threads.load alone (page 1)", loads)
    finally:
        if runner is not None:
            await runner.cleanup()
        if database_url:
            await drop_database(database_url)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=1000, help="replies in the conversation (1000)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (30)")
    add_database_arguments(parser)
    args = parser.parse_args()
    header("a fiche page under a large conversation", "threads")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
