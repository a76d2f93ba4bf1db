"""Memory: resident size of an idle `archipel serve` after startup (target: under 100 MB).

    .venv/bin/python -m benchmarks.memory [--idle 3] [--postgres]

Reads VmRSS (and VmHWM, the peak) from /proc/PID/status of the serving process once it answers
HTTP and has been idle for `--idle` seconds, then again after a few hundred GETs of its pages
and documents. For scale it also shows a bare interpreter and one that only imports the app.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.common import (
    PYTHON,
    ROOT,
    Island,
    add_database_arguments,
    backend_name,
    create_database,
    database_url_of,
    drop_database,
    header,
    line,
    status_kb,
)

TARGET_MB = 100


def mb(kilobytes: int) -> str:
    return f"{kilobytes / 1024:.1f} MB"


def interpreter_rss(code: str) -> int:
    """VmRSS (kB) of a fresh interpreter after running `code`."""
    script = code + "\nimport pathlib\nprint([l for l in pathlib.Path('/proc/self/status').read_text()" \
                    ".splitlines() if l.startswith('VmRSS:')][0].split()[1])"
    output = subprocess.run([PYTHON, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=True).stdout
    return int(output.strip().splitlines()[-1])


async def touch(island: Island, requests: int) -> None:
    paths = ["/", "/@alice", "/users/alice", "/users/alice/outbox", "/users/alice/followers",
             "/.well-known/nodeinfo", "/.well-known/webfinger?resource=acct:alice@" + island.url.split("//")[1]]
    async with aiohttp.ClientSession() as session:
        for number in range(requests):
            path = paths[number % len(paths)]
            accept = "application/activity+json" if path.startswith("/users") else "text/html"
            async with session.get(island.url + path, headers={"Accept": accept}) as response:
                await response.read()


async def run(args) -> None:
    database_url = database_url_of(args)
    workdir = Path(tempfile.mkdtemp(prefix="archipel-bench-memory-"))
    island = Island(workdir / "island", database_url=database_url)
    if database_url:
        await create_database(database_url)
    try:
        island.init()
        island.add_user("alice")
        island.publish("alice", "Une fiche", "Du texte, *un peu* de Markdown.")
        started = time.perf_counter()
        island.start()
        ready = time.perf_counter() - started
        time.sleep(args.idle)
        idle_rss, idle_peak = status_kb(island.pid, "VmRSS"), status_kb(island.pid, "VmHWM")
        await touch(island, args.requests)
        time.sleep(0.5)
        busy_rss, busy_peak = status_kb(island.pid, "VmRSS"), status_kb(island.pid, "VmHWM")
        print(f"   `archipel serve` ({backend_name(database_url)}), answering after {ready:.1f} s:")
        verdict = "OK" if idle_rss < TARGET_MB * 1024 else "OVER"
        line(f"VmRSS idle ({args.idle:g} s after startup)", mb(idle_rss),
             f"{verdict}: target < {TARGET_MB} MB; peak so far (VmHWM) {mb(idle_peak)}")
        line(f"VmRSS after {args.requests} GETs", mb(busy_rss), f"VmHWM {mb(busy_peak)}")
    finally:
        island.stop()
        if database_url:
            await drop_database(database_url)
        shutil.rmtree(workdir, ignore_errors=True)
    print("   for scale, fresh interpreters:")
    line("python, nothing imported", mb(interpreter_rss("pass")))
    line("python, `import web.app` (the app's modules)", mb(interpreter_rss("import web.app")))
    line("  alone: `import pyld.jsonld` (pulls aiohttp, lxml)", mb(interpreter_rss("import pyld.jsonld")))
    line("  alone: `import sqlalchemy.ext.asyncio, sqlalchemy.orm`",
         mb(interpreter_rss("import sqlalchemy.ext.asyncio, sqlalchemy.orm")))
    line("  alone: `import aiohttp.web`", mb(interpreter_rss("import aiohttp.web")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=3, help="seconds idle before reading (3)")
    parser.add_argument("--requests", type=int, default=300, help="GETs before the second reading (300)")
    add_database_arguments(parser)
    args = parser.parse_args()
    header("memory: resident size of an idle island", "memory")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
