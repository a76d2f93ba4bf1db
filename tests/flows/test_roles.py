"""`archipel serve --role`: on PostgreSQL, web and worker processes share one island; a SQLite
island is served by one process and says so.

The PostgreSQL test runs the real command: two web processes receive signed activities, two
worker processes process them, and each activity is processed exactly once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections import Counter

import aiohttp
import pytest
from sqlalchemy import func, select

from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage.tables import Delivery, Follow, IncomingActivity, RemoteActor, StoredObject, utcnow
from archipel.storage.wakeups import BLOCKS, INBOX, Wakeups
from tests.flows.test_cli import _free_url
from tests.nodes import wait_for
from tests.processes import ServeProcess, cli
from tests.remote import RemoteServer
from tests.web.test_auth import browser_like, hidden_csrf

ACTORS = 50
# With each actor's Follow and Like: 5,000 activities (about 80 s in the PostgreSQL pass);
# ARCHIPEL_TEST_ROLES_ACTIVITIES gives another number while working on this file.
NOTES_PER_ACTOR = int(os.environ.get("ARCHIPEL_TEST_ROLES_ACTIVITIES", 5000)) // ACTORS - 2


def test_a_sqlite_island_refuses_the_web_and_worker_roles(tmp_path):
    island = tmp_path / "ile"
    cli("init", island, "--url", _free_url(), "--name", "Île")
    for role in ("web", "worker"):
        result = cli("serve", island, "--role", role, check=False)
        assert result.returncode != 0
        assert "PostgreSQL" in result.stderr and len(result.stderr.strip().splitlines()) == 1


async def test_a_second_process_on_a_sqlite_island_is_refused(tmp_path):
    url = _free_url()
    island = tmp_path / "ile"
    cli("init", island, "--url", url, "--name", "Île", "--allow-private-networks")
    server = await ServeProcess(island, url, tmp_path / "serve.log").start()
    try:
        second = cli("serve", island, "--listen", _free_url().split("//")[1], check=False)
        assert second.returncode != 0
        assert "another `archipel serve`" in second.stderr and "Traceback" not in second.stderr
    finally:
        await server.stop()
    # The lock goes with the process: the island starts again.
    server = await ServeProcess(island, url, tmp_path / "serve.log").start()
    await server.stop()


@pytest.fixture
async def postgres_url(databases):
    if databases.backend != "postgresql":
        pytest.skip("several processes share an island on PostgreSQL only (ARCHIPEL_TEST_POSTGRES)")
    return await databases.new("roles")


async def test_notices_reach_the_other_processes(postgres_url):
    first, second = Wakeups(), Wakeups()
    heard, reloads = asyncio.Event(), []

    async def reload() -> None:
        reloads.append("second")
    second.subscribe(INBOX, heard)
    second.on(BLOCKS, reload)
    first.on(BLOCKS, lambda: _never())
    await first.start(postgres_url)
    await second.start(postgres_url)
    try:
        first.notify(INBOX)
        await asyncio.wait_for(heard.wait(), 5)
        first.notify(BLOCKS)
        await wait_for(lambda: reloads == ["second"], timeout=5, message="the other process to reload its blocks")
        await asyncio.sleep(0.2)  # the notifying process does not react to its own notice
    finally:
        await first.stop()
        await second.stop()


async def _never() -> None:
    raise AssertionError("a process reacted to its own notice")


async def test_two_web_and_two_worker_processes_process_each_activity_once(tmp_path, postgres_url, remote):
    url = _free_url()
    island = tmp_path / "ile"
    cli("init", island, "--url", url, "--name", "Île", "--allow-private-networks", "--database-url", postgres_url)
    cli("user", "add", island, "alice")
    note = tmp_path / "fiche.md"
    note.write_text("---\ntitle: Fiche\n---\nTexte.\n")
    cli("publish", island, "--as", "alice", note)
    second_url = _free_url()
    processes = [ServeProcess(island, url, tmp_path / "web1.log", "--role", "web"),
                 ServeProcess(island, second_url, tmp_path / "web2.log", "--role", "web",
                              "--listen", second_url.split("//")[1])]
    processes += [ServeProcess(island, url, tmp_path / f"worker{n}.log", "--role", "worker",
                               "--listen", _free_url().split("//")[1]) for n in (1, 2)]
    for process in processes:
        await process.start()
    try:
        engine = make_engine(postgres_url)
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            article = await session.scalar(select(StoredObject.uri).where(StoredObject.is_local.is_(True)))
        alice = f"{url}/users/alice"
        activities = []
        for n in range(ACTORS):
            actor = remote.add_actor(f"a{n}")
            activities.append((f"a{n}", {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{actor}#follow",
                                          "type": "Follow", "actor": actor, "object": alice}))
            activities.append((f"a{n}", {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{actor}#like",
                                          "type": "Like", "actor": actor, "object": article}))
            for m in range(NOTES_PER_ACTOR):
                activities.append((f"a{n}", _reply(actor, m, article, alice)))
        inboxes = itertools.cycle([f"{url}/inbox", f"{second_url}/inbox"])  # both web processes
        sending = asyncio.Semaphore(32)

        async def send(name: str, activity: dict, inbox: str) -> int:
            async with sending:
                status, _ = await remote.post(inbox, activity, name=name)
                return status
        statuses = await asyncio.gather(*(send(name, activity, inbox)
                                          for (name, activity), inbox in zip(activities, inboxes)))
        assert set(statuses) == {202}

        async def settled():
            async with sessions() as session:
                rows = (await session.execute(select(IncomingActivity.state, IncomingActivity.attempts,
                                                     func.count()).group_by(IncomingActivity.state,
                                                                            IncomingActivity.attempts))).all()
            return rows if sum(n for state, _a, n in rows if state != "received") == len(activities) else None
        rows = await wait_for(settled, timeout=240, message="every activity processed")
        # Claimed once each (a second claim would count a second attempt), none failed.
        assert {(state, attempts) for state, attempts, _n in rows} <= {("processed", 1), ("ignored", 1)}
        async with sessions() as session:
            replies = await session.scalar(select(func.count()).select_from(StoredObject)
                                           .where(StoredObject.is_local.is_(False)))
        assert replies == ACTORS * NOTES_PER_ACTOR
        # Each Follow answered by one Accept, sent by the worker processes.
        await wait_for(lambda: len(remote.received_of_type("Accept")) >= ACTORS, timeout=60,
                       message="an Accept for every Follow")
        await asyncio.sleep(1)
        accepted = sorted(a["object"]["actor"] if isinstance(a["object"], dict) else a["object"]
                          for a in remote.received_of_type("Accept"))
        assert len(accepted) == ACTORS and len(set(accepted)) == ACTORS
        await engine.dispose()
    finally:
        for process in processes:
            await process.stop()
    for process in processes:
        with open(process.log_path) as log:
            assert "Traceback" not in log.read()


def _reply(actor: str, n: int, article: str, alice: str) -> dict:
    note = {"id": f"{actor}/notes/{n}", "type": "Note", "attributedTo": actor, "inReplyTo": article,
            "content": f"<p>Réponse {n}</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [alice], "published": "2026-12-06T10:00:00Z"}
    return {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{actor}/notes/{n}/create",
            "type": "Create", "actor": actor, "object": note, "to": note["to"], "cc": note["cc"]}


HOSTS = 100
FOLLOWERS_PER_HOST = 20  # personal inboxes: 2,000 deliveries


async def test_a_worker_killed_during_a_fan_out_loses_nothing(tmp_path, postgres_url):
    """2,000 inboxes on 100 loopback hosts, two worker processes, one killed with kill -9 in the
    middle: every inbox receives the fiche; only rows in flight at the kill may arrive twice
    (the killed worker's come back when their lease ends)."""
    url = _free_url()
    island = tmp_path / "ile"
    cli("init", island, "--url", url, "--name", "Île", "--allow-private-networks", "--database-url", postgres_url)
    cli("user", "add", island, "alice")
    with open(island / "archipel.toml", "a") as settings:
        # Sends bounded to 20 s: leases of 40 s. Shorter, a loaded machine made an answer late
        # (the 100 receivers share the test's event loop): a retry minutes later, a second copy.
        settings.write("fetch_timeout = 5.0\n")
    receivers = [RemoteServer(host=f"127.0.0.{n + 2}") for n in range(HOSTS)]
    for receiver in receivers:
        receiver.verify_signatures = False
        receiver.inbox_delay = 0.02  # deliveries stay in flight long enough for the kill to meet some
        await receiver.start()
    engine = make_engine(postgres_url)
    sessions = make_sessionmaker(engine)
    processes = [ServeProcess(island, url, tmp_path / "web.log", "--role", "web")]
    processes += [ServeProcess(island, url, tmp_path / f"worker{n}.log", "--role", "worker",
                               "--listen", _free_url().split("//")[1]) for n in (1, 2)]
    try:
        async with sessions() as session:
            for receiver in receivers:
                for m in range(FOLLOWERS_PER_HOST):
                    uri = receiver.add_actor(f"f{m}", shared_inbox=False)
                    session.add(RemoteActor(uri=uri, host=receiver.url.split("//")[1], type="Person",
                                            username=f"f{m}", display_name="", inbox=f"{uri}/inbox",
                                            document={}, fetched_at=utcnow()))
                    session.add(Follow(follower_uri=uri, followed_uri=f"{url}/users/alice",
                                       activity_uri=f"{uri}#follow", state="accepted"))
            await session.commit()
        for process in processes:
            await process.start()
        note = tmp_path / "fiche.md"
        note.write_text("---\ntitle: Fiche\n---\nTexte.\n")
        cli("publish", island, "--as", "alice", note)
        await wait_for(lambda: sum(len(r.received) for r in receivers) >= 300, timeout=60,
                       message="the fan-out to be under way")
        processes[1].kill()
        async with sessions() as session:
            in_flight_at_kill = set(await session.scalars(
                select(Delivery.inbox_url).where(Delivery.state == "in_flight")))
        assert in_flight_at_kill, "the kill came when nothing was in flight: it tests nothing"

        def every_inbox_served() -> bool:
            return sum(len({r["path"] for r in receiver.received}) for receiver in receivers) == \
                HOSTS * FOLLOWERS_PER_HOST
        await wait_for(every_inbox_served, timeout=120, message="every inbox to receive the fiche")

        async def all_sent() -> bool:
            async with sessions() as session:
                return set(await session.scalars(select(Delivery.state).distinct())) == {"sent"}
        try:
            await wait_for(all_sent, timeout=90, message="every delivery recorded as sent")
        except AssertionError as timed_out:  # say which rows, and what the workers logged
            async with sessions() as session:
                left = (await session.execute(
                    select(Delivery.inbox_url, Delivery.state, Delivery.attempts, Delivery.next_try_at,
                           Delivery.last_error).where(Delivery.state != "sent").limit(10))).all()
            logged = [line for n in (1, 2) for line in (tmp_path / f"worker{n}.log").read_text().splitlines()
                      if "WARNING" in line or "ERROR" in line or "failed" in line][-20:]
            raise AssertionError(f"{timed_out} (now {utcnow()}); not sent: {left}; logged: {logged}") from None
    finally:
        for process in processes:
            if process.process is not None and process.process.poll() is None:
                await process.stop()
        for receiver in receivers:
            await receiver.stop()
        await engine.dispose()
    arrivals = Counter(receiver.url + r["path"] for receiver in receivers for r in receiver.received)
    repeated = {inbox for inbox, count in arrivals.items() if count > 1}
    assert repeated <= in_flight_at_kill
    assert all(count <= 2 for count in arrivals.values())


async def test_a_block_made_through_one_web_process_holds_in_the_other_at_once(tmp_path, postgres_url, remote):
    url, second_url = _free_url(), _free_url()
    island = tmp_path / "ile"
    cli("init", island, "--url", url, "--name", "Île", "--allow-private-networks", "--database-url", postgres_url)
    password = tmp_path / "password"
    password.write_text("correct horse battery")
    cli("user", "add", island, "mia", "--role", "moderator", "--password-file", password)
    cli("user", "add", island, "alice")
    processes = [ServeProcess(island, url, tmp_path / "web1.log", "--role", "web"),
                 ServeProcess(island, second_url, tmp_path / "web2.log", "--role", "web",
                              "--listen", second_url.split("//")[1])]
    engine = make_engine(postgres_url)
    sessions = make_sessionmaker(engine)
    try:
        for process in processes:
            await process.start()
        remote.add_actor("rosa")
        remote_host = remote.url.split("//")[1]
        first_note = _reply(remote.actor_uri("rosa"), 1, f"{url}/users/alice", f"{url}/users/alice")
        assert (await remote.post(f"{second_url}/inbox", first_note))[0] == 202
        async with browser_like() as http:
            async with http.get(f"{url}/login") as response:
                token = hidden_csrf(await response.text())
            async with http.post(f"{url}/login", data={"csrf_token": token, "username": "mia",
                                                       "password": "correct horse battery"}) as response:
                token = hidden_csrf(await response.text())
            async with http.post(f"{url}/espace/moderation/blocages", allow_redirects=False,
                                 data={"csrf_token": token, "kind": "domain", "target": remote_host,
                                       "severity": "block", "reason": "spam"}) as response:
                assert response.status == 303
        await asyncio.sleep(0.5)  # a notice between processes takes milliseconds; polling is not involved
        second_note = _reply(remote.actor_uri("rosa"), 2, f"{url}/users/alice", f"{url}/users/alice")
        await remote.post(f"{second_url}/inbox", second_note)
        await asyncio.sleep(0.5)
        async with sessions() as session:
            stored = set(await session.scalars(select(IncomingActivity.activity_uri)))
        assert first_note["id"] in stored and second_note["id"] not in stored
    finally:
        for process in processes:
            await process.stop()
        await engine.dispose()


async def test_the_live_timeline_of_one_web_process_shows_what_another_process_stored(tmp_path, postgres_url):
    url, second_url = _free_url(), _free_url()
    island = tmp_path / "ile"
    cli("init", island, "--url", url, "--name", "Île", "--allow-private-networks", "--database-url", postgres_url)
    cli("user", "add", island, "alice")
    processes = [ServeProcess(island, url, tmp_path / "web1.log", "--role", "web"),
                 ServeProcess(island, second_url, tmp_path / "web2.log", "--role", "web",
                              "--listen", second_url.split("//")[1])]
    try:
        for process in processes:
            await process.start()
        events: list[str] = []

        async def listen() -> None:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{second_url}/federated/stream?after=0") as response:
                    async for line in response.content:
                        events.append(line.decode())
        listening = asyncio.create_task(listen())
        try:
            await asyncio.sleep(1)
            note = tmp_path / "fiche.md"
            note.write_text("---\ntitle: Atelier vélo partagé\n---\nTexte.\n")
            # Written by another process (a command beside the servers), shown by the second web process.
            await asyncio.to_thread(cli, "publish", island, "--as", "alice", note)
            await wait_for(lambda: any("Atelier vélo partagé" in json.loads(event[5:])["html"]
                                       for event in events if event.startswith("data:")),
                           timeout=20, message="the new fiche in the second process's live timeline")
        finally:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
    finally:
        for process in processes:
            await process.stop()
