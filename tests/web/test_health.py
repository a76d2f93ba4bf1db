"""`/livez` answers while the process does; `/readyz` turns 503 when the database is gone or a
background worker has stopped, and says which."""

from __future__ import annotations

import aiohttp
import asyncpg
from sqlalchemy import text

from archipel.storage.migrate import head_revision

from tests.databases import postgres_admin_url
from tests.nodes import wait_for
from web import appkeys


async def probe(island, path: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(island.url + path) as response:
            return response.status, await response.json()


async def test_a_running_island_is_live_and_ready(island):
    assert await probe(island, "/livez") == (200, {"status": "live"})
    status, body = await probe(island, "/readyz")
    assert status == 200, body
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["workers"] == f"{len(island.app[appkeys.RUNNER].alive())} running"


async def test_without_workers_the_process_is_ready_on_the_database_alone(make_island):
    island = await make_island("brest", workers=False)
    status, body = await probe(island, "/readyz")
    assert status == 200 and body["checks"]["workers"] == "none in this process"


async def test_a_stopped_worker_makes_the_island_unready(island):
    task = island.app[appkeys.RUNNER]._tasks["catalog-sync"]  # as if its loop had died
    task.cancel()
    await wait_for(task.done, message="the worker to end")
    status, body = await probe(island, "/readyz")
    assert status == 503
    assert body["status"] == "unready"
    assert body["checks"]["workers"] == "catalog-sync stopped"
    assert body["checks"]["database"] == "ok"
    assert (await probe(island, "/livez"))[0] == 200  # alive: a restart is the supervisor's call


async def test_a_lost_database_makes_the_island_unready(island):
    admin = postgres_admin_url()
    if admin:
        database = island.settings.database_url.rsplit("/", 1)[1]
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        finally:
            await connection.close()
    else:
        path = island.directory / "archipel.db"
        path.rename(path.with_name("moved-away.db"))
    status, body = await probe(island, "/readyz")
    assert status == 503, body
    assert body["status"] == "unready"
    expected = "database unreachable" if admin else "cannot be read or written"
    assert expected in body["checks"]["database"]
    assert (await probe(island, "/livez"))[0] == 200
    if not admin:  # put it back so that the island stops cleanly
        island.directory.joinpath("moved-away.db").rename(path)
        status, _ = await probe(island, "/readyz")
        assert status == 200


async def test_a_database_behind_the_code_makes_the_island_unready(island):
    async with island.app[appkeys.ENGINE].begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '0012'"))
    status, body = await probe(island, "/readyz")
    assert status == 503
    assert body["checks"]["database"].startswith("database schema is 0012, this version needs")
    async with island.app[appkeys.ENGINE].begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})
    assert (await probe(island, "/readyz"))[0] == 200


async def test_a_worker_process_answers_its_probes_too(make_island):
    from web import server
    from web.app import create_app

    island = await make_island("brest", start=False)
    runner = server.make_runner(create_app(island.settings, role="worker"), island.settings)
    await runner.setup()
    try:
        await server.GuardedSite(runner, max_connections=10, sock=island.sock).start()
        assert (await probe(island, "/livez"))[0] == 200
        status, body = await probe(island, "/readyz")
        assert status == 200 and body["checks"]["workers"].endswith(" running")
    finally:
        await runner.cleanup()
