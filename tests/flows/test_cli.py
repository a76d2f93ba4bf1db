"""The operator's commands, run as real processes next to a running `archipel serve`."""

import sqlite3

from tests.nodes import bound_socket, wait_for
from tests.processes import ServeProcess, cli


def _free_url() -> str:
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


async def test_commands_work_while_serve_runs_and_their_effects_leave_within_seconds(tmp_path, remote):
    url = _free_url()
    island = tmp_path / "ile"
    cli("init", island, "--url", url, "--name", "Île de Brest", "--allow-private-networks")
    assert "user @alice@" in cli("user", "add", island, "alice", "--display-name", "Alice").stdout
    server = await ServeProcess(island, url, tmp_path / "serve.log").start()
    try:
        # A Mastodon-like follower of alice, through the real inbox.
        status, _ = await remote.post(f"{url}/users/alice/inbox", {
            "@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.url}/follows/1",
            "type": "Follow", "actor": remote.actor_uri("rosa"), "object": f"{url}/users/alice"})
        assert status == 202
        await wait_for(lambda: remote.received_of_type("Accept"), message="Accept")

        note = tmp_path / "fiche.md"
        note.write_text("---\ntitle: Les PAPI\ntags: [Médiation numérique]\n---\nDes *ateliers*.\n")
        item_id = cli("publish", island, "--as", "alice", note).stdout.strip()
        assert item_id.startswith(f"{url}/o/")
        creates = await wait_for(lambda: remote.received_of_type("Create"), message="Create")
        assert creates[0]["object"]["id"] == item_id
        assert creates[0]["object"]["tag"][0]["name"] == "#MediationNumerique"

        note.write_text("---\ntitle: Les 105 PAPI\n---\nDes *ateliers*.\n")
        assert cli("publish", island, "--as", "alice", note, "--update", item_id).stdout.strip() == item_id
        updates = await wait_for(lambda: remote.received_of_type("Update"), message="Update")
        assert updates[0]["object"]["nameMap"] == {"fr": "Les 105 PAPI"} and "updated" in updates[0]["object"]

        cli("unpublish", island, item_id)
        deletes = await wait_for(lambda: remote.received_of_type("Delete"), message="Delete")
        assert deletes[0]["object"]["id"] == item_id

        cli("follow", island, remote.actor_uri("rosa"))
        follows = await wait_for(lambda: remote.received_of_type("Follow"), message="Follow")
        assert follows[0]["actor"] == f"{url}/users/ile-de-brest"
        assert all(entry["verified"] for entry in remote.received)
    finally:
        await server.stop()


async def test_serve_refuses_an_out_of_date_database_and_names_the_upgrade(tmp_path):
    url = _free_url()
    island = tmp_path / "ile"
    cli("init", island, "--url", url, "--name", "Île")
    with sqlite3.connect(island / "archipel.db") as db:
        db.execute("UPDATE alembic_version SET version_num = 'old'")
    result = cli("serve", island, check=False)
    assert result.returncode == 1
    assert f"archipel migrate {island}" in result.stderr


def test_clear_errors_for_operator_mistakes(tmp_path):
    assert "already holds an island" in (
        cli("init", tmp_path, "--url", "http://127.0.0.1:9", "--name", "A") and
        cli("init", tmp_path, "--url", "http://127.0.0.1:9", "--name", "A", check=False).stderr)
    bad_handle = cli("init", tmp_path / "b", "--url", "http://x.example", "--name", "B", "--handle", "Île",
                     check=False)
    assert bad_handle.returncode == 1 and "invalid username" in bad_handle.stderr
    assert "not found" in cli("serve", tmp_path / "nothing", check=False).stderr
    for command in (["--help"], ["init", "--help"], ["serve", "--help"], ["user", "add", "--help"],
                    ["publish", "--help"], ["unpublish", "--help"], ["requests", "--help"], ["follow", "--help"], ["migrate", "--help"]):
        assert cli(*command).stdout.startswith("usage: archipel")


async def test_init_prints_a_one_time_link_that_creates_the_first_admin(tmp_path):
    import re

    from tests.web.test_auth import browser_like, hidden_csrf

    url = _free_url()
    island = tmp_path / "ile"
    printed = cli("init", island, "--url", url, "--name", "Île de Brest", "--allow-private-networks").stdout
    assert "archipel serve" in printed  # what it printed before stays
    link = re.search(rf"({re.escape(url)}/invitation/[A-Za-z0-9_-]+)", printed).group(1)
    password_file = tmp_path / "password"
    password_file.write_text("another long password\n")
    server = await ServeProcess(island, url, tmp_path / "serve.log").start()
    try:
        async with browser_like() as http:
            async with http.get(link) as response:
                assert response.status == 200
                token = hidden_csrf(await response.text())
            form = {"csrf_token": token, "username": "gwen", "display_name": "Gwen",
                    "password": "correct horse battery", "again": "correct horse battery"}
            async with http.post(link, data=form, allow_redirects=False) as response:
                assert response.status == 303
            async with http.get(f"{url}/espace/comptes", allow_redirects=False) as response:
                assert response.status == 200 and "@gwen" in await response.text()  # an admin
            async with http.get(link) as response:
                assert response.status == 410  # once only

            # `archipel user password` sets another password and ends the open sessions.
            assert "password of gwen changed" in cli("user", "password", island, "gwen",
                                                     "--password-file", password_file).stdout
            async with http.get(f"{url}/espace", allow_redirects=False) as response:
                assert response.status == 302
            async with http.get(f"{url}/login") as response:
                token = hidden_csrf(await response.text())
            async with http.post(f"{url}/login", allow_redirects=False, data={
                    "csrf_token": token, "username": "gwen", "password": "another long password"}) as response:
                assert response.status == 303
        assert cli("user", "password", island, "nobody", check=False).returncode == 1
    finally:
        await server.stop()
