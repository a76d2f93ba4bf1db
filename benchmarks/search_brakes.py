"""What the costliest searches do to the other pages, with and without the brakes on searching.

    .venv/bin/python -m benchmarks.search_brakes --reuse DIR [--database sqlite|postgresql]
                                                 [--attackers 8] [--seconds 30]

DIR is an island a `benchmarks.listings --keep DIR` run filled (100,000 items). The costliest
query a search box keeps: ten quoted phrases (as many as 200 characters hold) of common words,
taken in order from one item's text so that the item matches them all. `--attackers` clients,
each from its own address (X-Forwarded-For, the island trusting the loopback as its proxy), send
it in a loop, each the next as soon as the previous one is answered, for `--seconds`; meanwhile
three readers, each from an address of its own, loop on the home page, a fiche's page and the
search « réemploi ». p50 / p95 of the wall time of their GETs, and the answers' statuses, for:

- the pages alone (no attacker): the ceiling, measured in the same run;
- the attackers, no brake (searches at once unbounded, no budget, no share per address);
- the attackers, the brakes at their defaults (web/search_guard.py).

The island is served by `archipel serve` in a child process, started again for each run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import aiohttp
from sqlalchemy import select
from yarl import URL

from archipel.search_terms import MAX_QUERY_LENGTH, words
from archipel.settings import load_settings
from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage.tables import StoredObject
from benchmarks.common import header, line, percentile
from benchmarks.listings import filled, settle
from web.pages import page_url

NO_BRAKES = {"ARCHIPEL_CONCURRENT_SEARCHES": "100000", "ARCHIPEL_WAITING_SEARCHES": "100000",
             "ARCHIPEL_SEARCH_SECONDS_PER_MINUTE": "0", "ARCHIPEL_SEARCHES_PER_ADDRESS": "0"}
# The defaults, written out: benchmarks.common's ISLAND_ENV switches the per-address brakes off.
DEFAULT_BRAKES = {"ARCHIPEL_CONCURRENT_SEARCHES": "2", "ARCHIPEL_WAITING_SEARCHES": "32",
                  "ARCHIPEL_SEARCH_SECONDS_PER_MINUTE": "30", "ARCHIPEL_SEARCHES_PER_ADDRESS": "4"}


async def costliest_query(database_url: str) -> tuple[str, str]:
    """Quoted pairs of consecutive words of one French item's pitch, as many as the query's
    length allows, and the item's path."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            items = (await session.scalars(select(StoredObject).where(StoredObject.language == "fr")
                                           .order_by(StoredObject.id).limit(50))).all()
    finally:
        await engine.dispose()
    item = max(items, key=lambda item: len(words(item.summary or "")))
    text = words(item.summary or "")
    phrases, query = [], ""
    for first, second in zip(text, text[1:]):
        longer = " ".join([*phrases, f'"{first} {second}"'])
        if len(longer) > MAX_QUERY_LENGTH:
            break
        phrases.append(f'"{first} {second}"')
        query = longer
    return query, URL(page_url(item)).path  # a local item's URL names the island's public address


async def loop(http, url: str, address: str, until: float, times: list, statuses: Counter) -> None:
    while time.monotonic() < until:
        started = time.perf_counter()
        async with http.get(url, headers={"X-Forwarded-For": address}) as response:
            await response.read()
            statuses[response.status] += 1
        times.append((time.perf_counter() - started) * 1000)


async def one_run(base: str, query: str, fiche: str, attackers: int, seconds: float) -> dict:
    until = time.monotonic() + seconds
    readers = {"home page": base + "/", "a fiche": base + fiche,
               "search « réemploi »": base + "/recherche?q=r%C3%A9emploi"}
    results = {name: ([], Counter()) for name in ["the costliest search", *readers]}
    timeout = aiohttp.ClientTimeout(total=seconds * 4)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as http:
        costliest = str(URL(base + "/recherche").with_query(q=query))
        tasks = [loop(http, costliest, f"203.0.113.{n + 1}", until, *results["the costliest search"])
                 for n in range(attackers)]
        tasks += [loop(http, url, f"198.51.100.{n + 1}", until, *results[name])
                  for n, (name, url) in enumerate(readers.items())]
        await asyncio.gather(*tasks)
    return results


def show(label: str, results: dict) -> None:
    print(f"   {label}")
    for name, (times, statuses) in results.items():
        if not times:
            continue
        answers = ", ".join(f"{count} × {status}" for status, count in sorted(statuses.items()))
        line(f"  {name}", f"{percentile(times, 50):6.0f} / {percentile(times, 95):6.0f} ms  ({answers})")


async def run(args) -> None:
    root = Path(args.reuse)
    island, _, _ = await filled(args.database, SimpleNamespace(reuse=True), root)
    database_url = load_settings(island.directory).effective_database_url
    await settle(database_url)
    query, fiche = await costliest_query(database_url)
    print(f"   the costliest search: {query}")
    print(f"   p50 / p95 per GET over {args.seconds:.0f} s, each client sending the next GET when answered")
    trusted = {"ARCHIPEL_TRUSTED_PROXIES": "127.0.0.1"}
    for label, attackers, env in (("the pages alone (ceiling)", 0, {**trusted, **DEFAULT_BRAKES}),
                                  (f"{args.attackers} attackers, no brake", args.attackers, {**trusted, **NO_BRAKES}),
                                  (f"{args.attackers} attackers, the brakes at their defaults", args.attackers,
                                   {**trusted, **DEFAULT_BRAKES})):
        island.start(env=env)
        try:
            show(label, await one_run(island.url, query, fiche, attackers, args.seconds))
        finally:
            island.stop()
    print("   (a search « réemploi » waits behind the attackers' searches with the brakes: searching slows "
          "down, the other pages do not)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", metavar="DIR", required=True,
                        help="the islands a `benchmarks.listings --keep DIR` run left in DIR")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--attackers", type=int, default=8, help="clients sending the costliest search (8)")
    parser.add_argument("--seconds", type=float, default=30, help="seconds of each run (30)")
    args = parser.parse_args()
    header("brakes on searching: the other pages while the costliest searches arrive", "search_brakes")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
