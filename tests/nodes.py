"""Real islands on loopback for tests: the real application on a real socket, real signatures."""

from __future__ import annotations

import asyncio
import socket
import time

from aiohttp import web
from sqlalchemy import select

from archipel import accounts, content
from archipel.storage.tables import Delivery, IncomingActivity, LocalActor, StoredObject
from federation import actions
from federation.actors import ActorDirectory
from web.wake import deliveries_queued
from web import appkeys, provision, server
from web.app import create_app


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on a free port, bound before the island exists, so the URL is known."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    """Poll an async (or plain) predicate until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}")
        await asyncio.sleep(interval)


class Node:
    """One running island."""

    def __init__(self, directory, name: str, database_url: str | None, host: str = "127.0.0.1",
                 **settings):
        self.directory = directory
        self.name = name
        self.database_url = database_url
        self.host = host
        self.extra_settings = settings
        self.sock = bound_socket(host)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.runner: web.AppRunner | None = None

    async def create(self) -> Node:
        settings = {"allow_private_networks": True, "poll_interval": 0.1, **self.extra_settings}
        self.settings = await provision.create_island(
            self.directory, url=self.url, name=self.name, database_url=self.database_url, **settings)
        return self

    async def start(self, workers: bool = True) -> Node:
        """workers=False: no background workers, tests step them (run_once) themselves."""
        self.app = create_app(self.settings, run_workers=workers)
        self.runner = server.make_runner(self.app, self.settings)  # as `archipel serve` runs it
        await self.runner.setup()
        self.site = server.GuardedSite(self.runner, max_connections=self.settings.max_connections,
                                       sock=self.sock)
        await self.site.start()
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def restart(self, workers: bool = True) -> Node:
        """Start again on the same address, as after a reboot (the database is kept)."""
        await self.stop()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.host, self.port))
        return await self.start(workers=workers)

    @property
    def sessions(self):
        return self.app[appkeys.SESSIONS]

    @property
    def directory_service(self) -> ActorDirectory:
        return self.app[appkeys.DIRECTORY]

    def actor_uri(self, username: str) -> str:
        return f"{self.url}/users/{username}"

    @property
    def island_username(self) -> str:
        return self.settings.handle

    def wake(self) -> None:
        deliveries_queued(self.app)

    async def add_user(self, username: str, password: str = "correct horse battery") -> LocalActor:
        return await provision.add_user(self.sessions, username=username, password=password,
                                        display_name=username.capitalize())

    async def publish(self, username: str, title: str, text: str = "Texte.", **fields) -> str:
        async with self.sessions() as session:
            author = await accounts.get_actor(session, username)
            item = await actions.publish_article(session, self.url, author, title=title, source=text,
                                                 **fields)
            await session.commit()
        self.wake()
        return item.uri

    async def update(self, uri: str, **fields) -> None:
        async with self.sessions() as session:
            item = await content.get_local_object(session, uri)
            author = await session.get(LocalActor, item.local_author_id)
            await actions.update_article(session, self.url, author, item, **fields)
            await session.commit()
        self.wake()

    async def withdraw(self, uri: str) -> None:
        async with self.sessions() as session:
            item = await content.get_local_object(session, uri)
            author = await session.get(LocalActor, item.local_author_id)
            await actions.withdraw_article(session, self.url, author, item)
            await session.commit()
        self.wake()

    async def follow(self, username: str, remote_actor_uri: str) -> None:
        target = await self.directory_service.get(remote_actor_uri, refresh=True)
        async with self.sessions() as session:
            actor = await accounts.get_actor(session, username)
            await actions.follow(session, self.url, actor, target)
            await session.commit()
        self.wake()

    async def object(self, uri: str) -> StoredObject | None:
        async with self.sessions() as session:
            return await content.find_object(session, uri)

    async def incoming(self) -> list[IncomingActivity]:
        async with self.sessions() as session:
            return list(await session.scalars(select(IncomingActivity).order_by(IncomingActivity.id)))

    async def deliveries(self) -> list[Delivery]:
        async with self.sessions() as session:
            return list(await session.scalars(select(Delivery).order_by(Delivery.id)))


async def island_follows(follower: Node, followed: Node) -> None:
    """The follower island's actor follows the other island's actor; returns once accepted."""
    from archipel.social import find_follow

    await follower.follow(follower.island_username, followed.actor_uri(followed.island_username))

    async def accepted():
        async with follower.sessions() as session:
            follow = await find_follow(session, follower.actor_uri(follower.island_username),
                                       followed.actor_uri(followed.island_username))
            return follow is not None and follow.state == "accepted"

    await wait_for(accepted, message=f"{follower.name} follows {followed.name}")
