"""Fixtures: real islands and a scriptable remote server, all on loopback."""

from __future__ import annotations

import os

import pytest

from tests.images import ImageHost
from tests.databases import DatabaseFactory, postgres_admin_url, postgres_available
from tests.nodes import Node
from tests.remote import RemoteServer


def pytest_report_header(config):
    return f"archipel test database: {'PostgreSQL' if postgres_admin_url() else 'SQLite'}"


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
        node = Node(tmp_path / name, f"Île {name}", await databases.new(name), host=host, **settings)
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
