"""`archipel backup` while the island writes, `archipel restore` into a new folder: the restored
island serves the same pages under the same URL and keys, and the island following it receives
its next fiche. Errors are one line."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from datetime import timedelta

import aiohttp
from sqlalchemy import select

from archipel.queue_states import DeliveryStates
from archipel.settings import load_settings
from archipel.storage.tables import Delivery, OutgoingActivity, utcnow
from tests.flows.test_fiches import publish_file, snapshot_of
from tests.nodes import island_follows, wait_for
from web import cli

AS2 = "application/activity+json"


async def archipel(*args: str) -> tuple[int, str, str]:
    """The `archipel` command in its own process, as an operator runs it."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "web.cli", *args,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


async def page(url: str, accept: str = "text/html") -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Accept": accept}, allow_redirects=False) as response:
            text = await response.text()
    # What changes at every answer of a page (a CSP nonce, a form's token) is not the page.
    return response.status, re.sub(r'(nonce|csrf_token" value)="[^"]*"', "", text)


async def sends_in_progress(brest, nantes) -> None:
    """As a backup can catch them: deliveries to nantes in flight, every slot of its host taken,
    their leases minutes away (sends that no process of the restored island is making)."""
    async with brest.sessions() as session:
        outgoing = await session.scalar(select(OutgoingActivity.id).order_by(OutgoingActivity.id).limit(1))
        host = nantes.settings.host
        session.add_all(Delivery(outgoing_id=outgoing, inbox_url=f"{nantes.url}/busy/{number}", host=host,
                                 state=DeliveryStates.IN_FLIGHT, next_try_at=utcnow() + timedelta(minutes=10))
                        for number in range(brest.settings.delivery_per_host))
        await session.commit()


async def test_a_backup_of_a_running_island_restores_it_serving_and_federating(make_island, databases, tmp_path):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await island_follows(nantes, brest)
    first = await publish_file(brest, "papi-brest.md", "alice")
    await wait_for(lambda: snapshot_of(nantes, first), message="the first fiche on nantes")
    picture = brest.settings.effective_media_directory / "ab" / "picture.png"
    picture.parent.mkdir(parents=True, exist_ok=True)
    picture.write_bytes(b"\x89PNG not really")
    await sends_in_progress(brest, nantes)

    stop, written = asyncio.Event(), []

    async def keep_writing():
        while not stop.is_set():
            written.append(await brest.publish("alice", f"Article {len(written)}"))
            await asyncio.sleep(0.005)

    writer = asyncio.create_task(keep_writing())
    await asyncio.sleep(0.1)
    backup = tmp_path / "backup"
    status, out, err = await archipel("backup", str(brest.directory), str(backup))
    stop.set()
    await writer
    assert status == 0, err
    assert out.startswith(f"backed up into {backup}: {databases.backend} database at schema ")
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["url"] == brest.url and manifest["schema"] and manifest["created_at"]
    assert manifest["database"] == databases.backend

    island = brest.actor_uri(brest.island_username)
    # (Not listings: they show the articles written after the backup's snapshot.)
    paths = [(first, "text/html"), (first, AS2), (island, AS2), (brest.actor_uri("alice"), AS2),
             (brest.url + "/.well-known/webfinger?resource=acct:alice@" + brest.settings.host, "*/*")]
    before = [await page(url, accept) for url, accept in paths]
    assert all(status == 200 for status, _ in before)
    await brest.stop()

    restored = tmp_path / "brest-restored"
    extra = ["--database-url", await databases.new("restored")] if databases.backend == "postgresql" else []
    status, out, err = await archipel("restore", str(backup), str(restored), *extra)
    assert status == 0, err
    assert (restored / "media" / "ab" / "picture.png").read_bytes() == b"\x89PNG not really"
    brest.directory, brest.settings = restored, load_settings(restored)
    assert brest.settings.url == brest.url
    await brest.restart()  # the same address: the same island for everyone

    assert [await page(url, accept) for url, accept in paths] == before
    # What was written during the backup: a prefix of it was caught, whole, with nothing after.
    kept = [uri for uri in written if await brest.object(uri) is not None]
    assert kept == written[:len(kept)]

    # Its follower still hears from it: same URL, same keys.
    after = await publish_file(brest, "atelier-wiki.md", "alice")
    await wait_for(lambda: snapshot_of(nantes, after), message="the fiche published after the restore on nantes")


async def test_restore_never_overwrites_and_every_error_is_one_line(make_island, tmp_path, capsys):
    brest = await make_island("brest", start=False)
    brest.sock.close()  # never served
    backup = tmp_path / "backup"
    status, _, err = await archipel("backup", str(brest.directory), str(backup))
    assert status == 0, err

    def run(*args: str) -> str:
        assert cli.main(list(args)) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("archipel: ")
        return err

    # The CLI runs its own event loop: from a thread, beside this test's.
    async def refused(*args: str) -> str:
        return await asyncio.to_thread(run, *args)

    assert "refuses to overwrite" in await refused("restore", str(backup), str(brest.directory))
    assert "refuses to overwrite" in await refused("backup", str(brest.directory), str(backup))
    assert "not a backup folder" in await refused("restore", str(brest.directory), str(tmp_path / "new"))
    assert not (tmp_path / "new").exists()
    if brest.settings.database_url:
        assert "--database-url" in await refused("restore", str(backup), str(tmp_path / "other"))
        assert "already holds tables" in await refused("restore", str(backup), str(tmp_path / "other"),
                                                       "--database-url", brest.settings.database_url)
    else:
        assert "no --database-url" in await refused("restore", str(backup), str(tmp_path / "other"),
                                                    "--database-url", "postgresql+asyncpg://u@127.0.0.1/x")
    (backup / "manifest.json").unlink()  # as an interrupted backup leaves it
    assert "interrupted backup" in await refused("restore", str(backup), str(tmp_path / "other"))
