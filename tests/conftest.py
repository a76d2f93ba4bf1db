"""Fixtures: real islands and a scriptable remote server, all on loopback."""

from __future__ import annotations

import asyncio
import os

import pytest
from aiohttp import web_app
from cryptography.hazmat.primitives.asymmetric import rsa

from archipel import passwords
from tests.images import ImageHost
from tests.databases import DatabaseFactory, drop_templates, postgres_admin_url, postgres_available
from tests.key_pool import KeyPool
from tests.nodes import Node
from tests.remote import RemoteServer

_KEY_POOL = pytest.StashKey[KeyPool]()


def pytest_sessionstart(session):
    session.config.stash[_KEY_POOL] = pool = KeyPool()
    rsa.generate_private_key = pool.generate_private_key
    # Users' passwords hashed at a lower cost in this process (the format keeps the cost, so
    # checking a password works the same): 60 ms of scrypt for every user and every login was a
    # sixth of the page tests' time. The islands run as child processes keep the real cost.
    passwords._N = 2**8


def pytest_sessionfinish(session, exitstatus):
    asyncio.run(drop_templates())
    session.config.stash[_KEY_POOL].close()


@pytest.fixture(autouse=True)
def _applications_forgotten_after_each_test():
    """aiohttp keeps the middleware chains it builds in a cache of 1,024 entries keyed by the
    application: every island a test started stayed alive with it (one application per island
    process in production). Over the PostgreSQL pass the test process grew past 1 GB, and its full
    garbage collections paused every island in it for seconds (2.95 s measured on a third of that
    pass), longer than some of the limits the tests check."""
    yield
    web_app._cached_build_middleware.cache_clear()


def pytest_report_header(config):
    return f"archipel test database: {'PostgreSQL' if postgres_admin_url() else 'SQLite'}"


def pytest_collection_modifyitems(config, items):
    """The suite runs twice, on SQLite then on PostgreSQL (scripts/test). The PostgreSQL pass runs
    what can turn out differently there: the tests that make a database (`databases`, through
    `make_island`, `island`...). A test that makes none (pure functions, or a command-line island
    on SQLite) would repeat the SQLite pass's run exactly; page tests in a browser check layout,
    scripts and accessibility, and the pages' queries run on PostgreSQL in tests/web."""
    if not postgres_admin_url():
        return
    same = pytest.mark.skip(reason="makes no database: the SQLite pass ran exactly this")
    browser = pytest.mark.skip(reason="layout, scripts and accessibility: checked in the SQLite pass "
                                      "(the pages' queries run on PostgreSQL in tests/web)")
    for item in items:
        if "databases" not in getattr(item, "fixturenames", ()):
            item.add_marker(same)
        elif "browser" in item.path.parts:
            item.add_marker(browser)


@pytest.fixture
async def databases(tmp_path):
    factory = DatabaseFactory(tmp_path)
    if factory.admin_url and not await postgres_available(factory.admin_url):
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {factory.admin_url} is not reachable (required in CI)")
        pytest.skip("PostgreSQL is not reachable")
    yield factory
    await factory.drop_all()


@pytest.fixture
async def make_island(tmp_path, databases):
    """Factory: `await make_island("brest")` creates and starts a real island."""
    nodes: list[Node] = []

    async def make(name: str = "ile", *, start: bool = True, workers: bool = True, host: str = "127.0.0.1",
                   **settings) -> Node:
        node = Node(tmp_path / name, f"Île {name}", await databases.migrated(name, tmp_path / name), host=host,
                    **settings)
        await node.create()
        nodes.append(node)
        if start:
            await node.start(workers=workers)
        return node

    yield make
    for node in nodes:
        await node.stop()


@pytest.fixture
async def island(make_island):
    node = await make_island("brest")
    await node.add_user("alice")
    return node


@pytest.fixture
async def remote():
    server = RemoteServer()
    server.add_actor("rosa")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def pictures():
    """A loopback server of images, for the remote pictures' tests."""
    host = ImageHost()
    await host.start()
    yield host
    await host.stop()
