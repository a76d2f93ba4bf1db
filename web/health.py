"""Probes for a supervisor or a load balancer: `/livez` and `/readyz`.

`/livez` says the process answers (nothing else is looked at: a restart would not help a
database that is down). `/readyz` says this process can do its work: the database answers, its
schema is the one this code needs (archipel/storage/migrate.py), its file is still there (SQLite),
and the background workers this process started (web/app.py's Runner) are all running. Each answer is 200 or 503,
JSON with one line per check; both are cheap enough to be asked every few seconds.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url

from archipel.storage.migrate import head_revision
from web import appkeys

DATABASE_TIMEOUT = 3.0  # seconds the readiness query may take before the database counts as down

routes = web.RouteTableDef()


def worker_problems(alive: dict[str, bool]) -> list[str]:
    """The workers that are no longer running: a loop that ended (an error it did not catch, a
    cancellation) while the process is still serving (federation/workers.py Runner.alive)."""
    return sorted(f"{name} stopped" for name, running in alive.items() if not running)


def sqlite_file(database_url: str) -> Path | None:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


async def database_problem(app: web.Application) -> str | None:
    """None when the database answers at the expected schema, else what is wrong."""
    settings = app[appkeys.SETTINGS]
    path = sqlite_file(settings.effective_database_url)
    # An open SQLite connection keeps reading a file that was removed or replaced: look at the
    # file itself, which a restarted process would have to open.
    if path is not None and not os.access(path, os.R_OK | os.W_OK):
        return f"database file {path} cannot be read or written"
    if appkeys.ENGINE not in app:
        return "database not set up"
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            async with app[appkeys.ENGINE].connect() as connection:
                revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    except TimeoutError:
        return f"database did not answer within {DATABASE_TIMEOUT:.0f} s"
    except Exception as error:  # any failure of the driver means: not ready
        return "database unreachable: " + " ".join(str(error).split())[:200]
    if revision != head_revision():
        return f"database schema is {revision or 'none'}, this version needs {head_revision()}"
    return None


@routes.get("/livez")
async def livez(request: web.Request) -> web.Response:
    return web.json_response({"status": "live"}, headers={"Cache-Control": "no-store"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    started = time.monotonic()
    checks: dict[str, str] = {}
    problem = await database_problem(request.app)
    checks["database"] = problem or "ok"
    runner = request.app.get(appkeys.RUNNER)
    stopped: list[str] = []
    if runner is None:  # `serve --role web`, or tests stepping the workers themselves
        checks["workers"] = "none in this process"
    else:
        alive = runner.alive()
        stopped = worker_problems(alive)
        checks["workers"] = "; ".join(stopped) if stopped else f"{len(alive)} running"
    ready = problem is None and not stopped
    body = {"status": "ready" if ready else "unready", "checks": checks,
            "seconds": round(time.monotonic() - started, 4)}
    return web.json_response(body, status=200 if ready else 503, headers={"Cache-Control": "no-store"})
