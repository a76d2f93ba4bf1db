"""kill -9 while one slow host holds requests: after the restart, only what was in flight then
is sent again. The fast hosts receive each activity exactly once; the slow host's deliveries
that waited behind its per-host limit were never claimed, so they are sent once too."""

import sqlite3
from collections import Counter

from tests.flows.test_cli import _free_url
from tests.flows.test_delivery_pipeline import HoldingServer, servers
from tests.nodes import wait_for
from tests.processes import ServeProcess, cli
from tests.remote import RemoteServer

PER_HOST = 4
FOLLOWERS = 12  # per host, each with its own inbox (GoToSocial-style): one delivery each


def _add_followers(database, url: str, server: RemoteServer, prefix: str) -> list[str]:
    inboxes = []
    with sqlite3.connect(database) as db:
        for n in range(FOLLOWERS):
            uri = server.add_actor(f"{prefix}{n}", shared_inbox=False)
            inboxes.append(f"{uri}/inbox")
            db.execute(
                "INSERT INTO remote_actors (uri, host, type, username, display_name, inbox, document, "
                "fetched_at) VALUES (?, ?, 'Person', ?, '', ?, '{}', '2026-01-01 00:00:00')",
                (uri, server.url.split("//")[1], f"{prefix}{n}", f"{uri}/inbox"))
            db.execute(
                "INSERT INTO follows (follower_uri, followed_uri, activity_uri, state, created_at) "
                "VALUES (?, ?, ?, 'accepted', '2026-01-01 00:00:00')",
                (uri, f"{url}/users/alice", f"{uri}#follow"))
    return inboxes


def _states(database) -> dict[str, Counter]:
    with sqlite3.connect(database) as db:
        result: dict[str, Counter] = {}
        for host, state in db.execute("SELECT host, state FROM deliveries"):
            result.setdefault(host, Counter())[state] += 1
        return result


async def test_kill_9_while_a_slow_host_holds_requests_repeats_only_those(tmp_path):
    url = _free_url()
    island = tmp_path / "ile"
    database = island / "archipel.db"
    cli("init", island, "--url", url, "--name", "Île", "--allow-private-networks")
    cli("user", "add", island, "alice")
    with open(island / "archipel.toml", "a") as settings:
        # Long enough that the held requests are still in flight when the kill comes.
        settings.write(f"fetch_timeout = 120.0\ndelivery_per_host = {PER_HOST}\n")
    fast = [RemoteServer() for _ in range(3)]
    slow = HoldingServer()
    async with servers(*fast, slow):
        for server in (*fast, slow):
            server.verify_signatures = False
        for n, server in enumerate(fast):
            _add_followers(database, url, server, f"f{n}x")
        _add_followers(database, url, slow, "s")
        fast_hosts = {server.url.split("//")[1] for server in fast}
        slow_host = slow.url.split("//")[1]

        note = tmp_path / "fiche.md"
        note.write_text("---\ntitle: Fiche\n---\nTexte.\n")
        server = await ServeProcess(island, url, tmp_path / "serve.log").start()
        cli("publish", island, "--as", "alice", note)

        def fast_done_and_slow_held():
            states = _states(database)
            return (all(states.get(host) == Counter(sent=FOLLOWERS) for host in fast_hosts)
                    and slow.active == PER_HOST and states.get(slow_host, {}).get("in_flight") == PER_HOST)

        await wait_for(fast_done_and_slow_held, timeout=60,
                       message="the fast hosts served and recorded, the slow one holding its limit")
        server.kill()

        states = _states(database)
        held_at_kill = Counter(slow.arrived)
        # The bound: in flight at the kill is exactly what the slow host holds; its other
        # deliveries were never claimed.
        assert states[slow_host] == Counter(in_flight=PER_HOST, pending=FOLLOWERS - PER_HOST)
        assert sum(held_at_kill.values()) == PER_HOST

        slow.release.set()
        server = await ServeProcess(island, url, tmp_path / "serve.log").start()
        try:
            await wait_for(lambda: len(set(slow.arrived)) == FOLLOWERS, timeout=60,
                           message="every slow inbox to receive the Create")
            await wait_for(lambda: _states(database) == {host: Counter(sent=FOLLOWERS)
                                                          for host in fast_hosts | {slow_host}},
                           timeout=60, message="every delivery marked sent")
        finally:
            await server.stop()

    for server in fast:
        assert Counter(r["path"] for r in server.received) == Counter(
            {f"/users/f{fast.index(server)}x{n}/inbox": 1 for n in range(FOLLOWERS)})
    repeated = Counter(slow.arrived) - Counter(set(slow.arrived))
    assert set(repeated) <= set(held_at_kill)  # only what was in flight came twice
    assert all(count == 1 for count in repeated.values())
    activity_ids = {r["activity"]["id"] for s in fast for r in s.received}
    assert len(activity_ids) == 1
