"""kill -9 in the middle of a fan-out loses no delivery; only those in flight are sent twice."""

import sqlite3
from collections import Counter

from tests.flows.test_cli import _free_url
from tests.nodes import wait_for
from tests.processes import ServeProcess, cli

FOLLOWERS = 120


def _add_followers(database, url: str, remote) -> None:
    """Followers without shared inboxes (GoToSocial-style): one delivery each."""
    with sqlite3.connect(database) as db:
        for n in range(FOLLOWERS):
            uri = remote.add_actor(f"f{n}", shared_inbox=False)
            db.execute(
                "INSERT INTO remote_actors (uri, host, type, username, display_name, inbox, document, "
                "fetched_at) VALUES (?, ?, 'Person', ?, '', ?, '{}', '2026-01-01 00:00:00')",
                (uri, remote.url.split("//")[1], f"f{n}", f"{uri}/inbox"))
            db.execute(
                "INSERT INTO follows (follower_uri, followed_uri, activity_uri, state, created_at) "
                "VALUES (?, ?, ?, 'accepted', '2026-01-01 00:00:00')",
                (uri, f"{url}/users/alice", f"{uri}#follow"))


def _states(database) -> Counter:
    with sqlite3.connect(database) as db:
        return Counter(state for (state,) in db.execute("SELECT state FROM deliveries"))


async def test_kill_9_during_fan_out_then_restart_delivers_everything(tmp_path, remote):
    url = _free_url()
    island = tmp_path / "ile"
    cli("init", island, "--url", url, "--name", "Île", "--allow-private-networks")
    cli("user", "add", island, "alice")
    _add_followers(island / "archipel.db", url, remote)
    remote.inbox_delay = 0.3  # slow inboxes keep deliveries in flight when the kill comes
    remote.verify_signatures = False

    note = tmp_path / "fiche.md"
    note.write_text("---\ntitle: Fiche\n---\nTexte.\n")
    server = await ServeProcess(island, url, tmp_path / "serve.log").start()
    cli("publish", island, "--as", "alice", note)
    await wait_for(lambda: len(remote.received) >= 20, timeout=30, message="the fan-out to start")
    server.kill()

    states = _states(island / "archipel.db")
    assert states["sent"] < FOLLOWERS, "the kill came too late to test anything"
    in_flight_at_kill = states["in_flight"]
    received_before_restart = len(remote.received)

    server = await ServeProcess(island, url, tmp_path / "serve.log").start()
    try:
        await wait_for(lambda: len({r["path"] for r in remote.received}) == FOLLOWERS, timeout=60,
                       message="every follower inbox to receive the Create")
        await wait_for(lambda: _states(island / "archipel.db") == Counter(sent=FOLLOWERS), timeout=30,
                       message="every delivery marked sent")
    finally:
        await server.stop()

    per_inbox = Counter(r["path"] for r in remote.received)
    repeated = sum(count - 1 for count in per_inbox.values())
    # Requests the receivers had already answered or were holding when the process died are the
    # only ones that may come twice.
    assert repeated <= in_flight_at_kill
    assert {r["activity"]["id"] for r in remote.received} == {remote.received[0]["activity"]["id"]}
    assert received_before_restart < len(remote.received)
