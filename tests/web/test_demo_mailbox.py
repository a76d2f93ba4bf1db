"""`mail_folder`: mail written as .eml files instead of sent, and the demo's mailbox that shows
them (web/demo_mailbox.py) — how a password reset or an invitation is tried without a mail server."""

from __future__ import annotations

import re

from aiohttp import web
from sqlalchemy import select

from archipel import accounts
from archipel.storage.tables import OutgoingMail
from tests.nodes import bound_socket, wait_for
from tests.web.test_accounts import LINK, forgotten
from tests.web.test_auth import browser_like
from web import demo_mailbox


async def test_a_reset_is_written_to_the_folder_and_read_in_the_mailbox(make_island, tmp_path):
    node = await make_island("ile", mail_folder="courrier", mail_from="ile@ile.example")
    await node.add_user("alice")
    async with node.sessions() as session:
        await accounts.set_email(session, await accounts.user_by_username(session, "alice"), "alice@example.org")
        await session.commit()
    folder = node.settings.directory / "courrier"
    async with browser_like() as http:
        async with http.get(f"{node.url}/motdepasse-oublie") as response:
            assert "pas d&#39;e-mails" not in await response.text()  # the page offers the reset by mail
        status, _ = await forgotten(http, node, "alice")
        assert status == 200
    [written] = await wait_for(lambda: sorted(folder.glob("*.eml")), message="the reset mail in the folder")
    assert not list(folder.glob(".*"))  # no partial file left behind

    async def sent_and_erased():
        async with node.sessions() as session:
            return [(row.state, row.to_address, row.body) for row in await session.scalars(select(OutgoingMail))] \
                == [("sent", "", "")]
    await wait_for(sent_and_erased, message="the mail counted as sent, its address and text erased")

    app = demo_mailbox.make_app({"ile": folder}, {"ile": "Île de test"})
    runner = web.AppRunner(app)
    await runner.setup()
    listening = bound_socket()
    port = listening.getsockname()[1]
    listening.close()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    mailbox = f"http://127.0.0.1:{port}"
    try:
        async with browser_like() as http:
            async with http.get(f"{mailbox}/", headers={"Accept-Language": "fr"}) as response:
                listing = await response.text()
                assert response.status == 200
                assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
            assert "alice@example.org" in listing and "Île de test" in listing
            [href] = re.findall(r'href="(/ile/[^"]+\.eml)"', listing)
            assert href == f"/ile/{written.name}"
            async with http.get(mailbox + href) as response:
                shown = await response.text()
            link = LINK.search(written.read_text()).group(1)
            assert f'<a href="{link}">' in shown  # the reset link can be followed from the page
            async with http.get(link) as response:
                assert response.status == 200
            async with http.get(f"{mailbox}/", headers={"Accept-Language": "en"}) as response:
                assert "Demo mailbox" in await response.text()
            # Only the messages the folder lists: nothing else can be read through it.
            (tmp_path / "secret.eml").write_text("Subject: secret\n\nnot for you\n")
            for asked in ("/ile/..%2F..%2Fsecret.eml", "/ile/%2E%2E/secret.eml", "/autre/" + written.name,
                          f"/ile/.{written.name}.part", "/ile/archipel.toml"):
                async with http.get(mailbox + asked) as response:
                    assert response.status == 404, asked
    finally:
        await runner.cleanup()
