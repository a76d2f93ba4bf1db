"""Accounts in the browser: invitations, roles and deactivation by admins, one's own password
and e-mail, forgotten passwords mailed through a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy import select

from archipel import account_links, accounts
from archipel.storage.tables import Invitation, LoginSession, OutgoingMail, PasswordReset, User, utcnow
from tests.archipel.test_mail import smtp  # noqa: F401 (fixture)
from tests.nodes import wait_for
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like, hidden_csrf
from web import provision

PASSWORD = "correct horse battery"
LINK = re.compile(r'(http://[^"\s]+/(?:invitation|motdepasse)/[A-Za-z0-9_-]+)')


async def add_admin(node, username="gwen"):
    return await provision.add_user(node.sessions, username=username, password=PASSWORD, role="admin")


async def account(node, username) -> User:
    async with node.sessions() as session:
        return await accounts.user_by_username(session, username)


async def csrf(http, url) -> str:
    async with http.get(url) as response:
        assert response.status == 200, url
        return hidden_csrf(await response.text())


async def invite(http, node, role="author", **extra) -> str:
    token = await csrf(http, f"{node.url}/espace/comptes")
    async with http.post(f"{node.url}/espace/comptes/invitations",
                         data={"csrf_token": token, "role": role, **extra}) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        return LINK.search(await response.text()).group(1)


async def accept(http, link, username, *, password=PASSWORD, again=None, email=""):
    token = await csrf(http, link)
    form = {"csrf_token": token, "username": username, "display_name": username.capitalize(),
            "password": password, "again": again or password, "email": email}
    async with http.post(link, data=form, allow_redirects=False) as response:
        return response.status, await response.text()


async def logged_in(http, node) -> bool:
    async with http.get(f"{node.url}/espace", allow_redirects=False) as response:
        return response.status == 200


async def login_status(node, username, password=PASSWORD) -> int:
    async with browser_like() as http:
        token = await csrf(http, f"{node.url}/login")
        form = {"csrf_token": token, "username": username, "password": password}
        async with http.post(f"{node.url}/login", data=form, allow_redirects=False) as response:
            return response.status


async def test_an_invitation_creates_an_account_with_its_role_and_only_once(make_island):
    node = await make_island("ile")
    await add_admin(node)
    await node.add_user("bob")
    async with browser_like() as http:
        await log_in(http, node, "bob")
        async with http.get(f"{node.url}/espace/comptes", allow_redirects=False) as response:
            assert response.status == 403  # authors do not manage accounts
        async with http.post(f"{node.url}/espace/comptes/invitations", allow_redirects=False,
                             data={"csrf_token": await csrf(http, f"{node.url}/espace"), "role": "admin"}) as response:
            assert response.status == 403
    async with browser_like() as http:
        await log_in(http, node, "gwen")
        link = await invite(http, node, role="moderator")
        async with http.get(f"{node.url}/espace/comptes") as response:
            assert link not in await response.text()  # shown once
    async with node.sessions() as session:
        stored = list(await session.scalars(select(Invitation.token_hash)))
    assert stored == [account_links.token_hash(link.rsplit("/", 1)[1])]  # only the hash

    async with browser_like() as http:
        status, page = await accept(http, link, "yann", again="something else")
        assert status == 400 and 'role="alert"' in page and "identiques" in page
        status, page = await accept(http, link, "bob")
        assert status == 400 and "déjà pris" in page
        status, _ = await accept(http, link, "Yann", email="Yann@Example.org")
        assert status == 303
        assert await logged_in(http, node)  # logged in at once
    yann = await account(node, "yann")
    assert yann.role == "moderator" and yann.active and yann.email == "yann@example.org"
    assert await login_status(node, "yann") == 303

    async with browser_like() as http:  # used: a clear page, in the reader's language
        async with http.get(link) as response:
            assert response.status == 410 and "déjà servi" in await response.text()
        async with http.get(link, headers={"Accept-Language": "en"}) as response:
            assert response.status == 410 and "already been used" in await response.text()
    async with browser_like() as http:  # unknown: 404
        for unknown in (link.replace("/invitation/", "/invitation/x"), f"{node.url}/invitation/{'A' * 43}",
                        f"{node.url}/invitation/abc"):
            async with http.get(unknown) as response:
                assert response.status == 404 and "copié en entier" in await response.text()
    async with node.sessions() as session:
        assert len(await accounts.list_users(session)) == 3  # gwen, bob, yann: nothing more


async def test_a_used_invitation_cannot_be_posted_again(make_island):
    node = await make_island("ile")
    await add_admin(node)
    async with browser_like() as http:
        await log_in(http, node, "gwen")
        link = await invite(http, node)
    async with browser_like() as first, browser_like() as second:
        token = await csrf(second, link)  # the form opened before the first one is sent
        assert (await accept(first, link, "yann"))[0] == 303
        form = {"csrf_token": token, "username": "zoe", "password": PASSWORD, "again": PASSWORD}
        async with second.post(link, data=form, allow_redirects=False) as response:
            assert response.status == 410
    assert await account(node, "zoe") is None


async def test_an_invitation_used_by_several_at_the_same_moment_creates_one_account(make_island):
    node = await make_island("ile")
    await add_admin(node)
    async with browser_like() as http:
        await log_in(http, node, "gwen")
        link = await invite(http, node)
    people = [browser_like() for _ in range(4)]
    try:
        tokens = [await csrf(http, link) for http in people]

        async def post(number):
            form = {"csrf_token": tokens[number], "username": f"membre{number}", "password": PASSWORD,
                    "again": PASSWORD}
            async with people[number].post(link, data=form, allow_redirects=False) as response:
                return response.status

        statuses = await asyncio.gather(*(post(number) for number in range(4)))
    finally:
        for http in people:
            await http.close()
    assert sorted(statuses) == [303, 410, 410, 410]
    async with node.sessions() as session:
        assert len(await accounts.list_users(session)) == 2  # gwen and the one who was first


async def test_an_expired_invitation_is_refused(make_island):
    node = await make_island("ile")
    async with node.sessions() as session:
        link = await account_links.create_invitation(session, role="author", created_by=None)
        link.row.expires_at = utcnow() - timedelta(minutes=1)
        await session.commit()
    url = f"{node.url}/invitation/{link.token}"
    async with browser_like() as http:
        async with http.get(url) as response:
            assert response.status == 410 and "expiré" in await response.text()
        async with http.get(f"{node.url}/login") as response:
            token = hidden_csrf(await response.text())
        form = {"csrf_token": token, "username": "yann", "password": PASSWORD, "again": PASSWORD}
        async with http.post(url, data=form, allow_redirects=False) as response:
            assert response.status == 410
    assert await account(node, "yann") is None


async def test_roles_change_but_the_last_active_admin_stays(make_island):
    node = await make_island("ile")
    await add_admin(node)
    await node.add_user("bob")
    gwen, bob = await account(node, "gwen"), await account(node, "bob")
    async with browser_like() as http:
        await log_in(http, node, "gwen")
        token = await csrf(http, f"{node.url}/espace/comptes")

        async def post(path, **form):
            async with http.post(f"{node.url}/espace/comptes/{path}", data={"csrf_token": token, **form},
                                 allow_redirects=False) as response:
                return response.status, await response.text()

        status, page = await post(f"{gwen.id}/role", role="author")
        assert status == 409 and "au moins un compte admin actif" in page
        status, page = await post(f"{gwen.id}/desactiver")
        assert status == 409 and "votre propre compte" in page
        assert (await account(node, "gwen")).role == "admin" and (await account(node, "gwen")).active
        assert (await post(f"{bob.id}/role", role="nobody"))[0] == 409
        assert (await post(f"{bob.id}/role", role="moderator"))[0] == 303
        assert (await account(node, "bob")).role == "moderator"
        assert (await post(f"{bob.id}/role", role="admin"))[0] == 303
        async with http.post(f"{node.url}/espace/comptes/{gwen.id}/role", allow_redirects=False,
                             data={"csrf_token": token, "role": "author"}) as response:
            assert response.status == 303 and response.headers["Location"] == "/espace"  # bob is an admin now
        assert (await account(node, "gwen")).role == "author"
        assert (await post(f"{bob.id}/role", role="author"))[0] == 403  # gwen is no longer admin
    async with browser_like() as http:
        await log_in(http, node, "bob")
        token = await csrf(http, f"{node.url}/espace/comptes")
        async with http.post(f"{node.url}/espace/comptes/{bob.id}/role", data={"csrf_token": token, "role": "author"},
                             allow_redirects=False) as response:
            assert response.status == 409
    assert (await account(node, "bob")).role == "admin"


async def test_a_deactivated_account_cannot_log_in_its_sessions_end_its_items_stay(make_island):
    node = await make_island("ile")
    await add_admin(node)
    await node.add_user("bob")
    item = await node.publish("bob", "Le jardin partagé")
    bob = await account(node, "bob")
    async with browser_like() as bobs, browser_like() as admin:
        await log_in(bobs, node, "bob")
        assert await logged_in(bobs, node)
        await log_in(admin, node, "gwen")
        token = await csrf(admin, f"{node.url}/espace/comptes")
        async with admin.post(f"{node.url}/espace/comptes/{bob.id}/desactiver", data={"csrf_token": token},
                              allow_redirects=False) as response:
            assert response.status == 303
        async with admin.get(f"{node.url}/espace/comptes") as response:
            assert "Désactivé" in await response.text()
        assert not await logged_in(bobs, node)  # the open session ended
        async with node.sessions() as session:
            assert list(await session.scalars(select(LoginSession).where(LoginSession.user_id == bob.id))) == []
        assert await login_status(node, "bob") == 401  # the same answer as a wrong password
        async with admin.get(item) as response:
            assert response.status == 200 and "Le jardin partagé" in await response.text()
        async with admin.post(f"{node.url}/espace/comptes/{bob.id}/reactiver", data={"csrf_token": token},
                              allow_redirects=False) as response:
            assert response.status == 303
    assert await login_status(node, "bob") == 303


async def test_changing_ones_password_needs_the_current_one_and_ends_other_sessions(make_island):
    node = await make_island("ile")
    await node.add_user("alice")
    async with browser_like() as http, browser_like() as other:
        await log_in(http, node, "alice")
        await log_in(other, node, "alice")
        async with http.get(f"{node.url}/espace") as response:
            assert "/espace/compte\"" in await response.text()  # linked from « Mon espace »
        token = await csrf(http, f"{node.url}/espace/compte")
        form = {"csrf_token": token, "current": "not the password", "password": "a new password",
                "again": "a new password"}
        async with http.post(f"{node.url}/espace/compte/motdepasse", data=form, allow_redirects=False) as response:
            assert response.status == 403 and 'role="alert"' in await response.text()
        assert await login_status(node, "alice", "a new password") == 401
        async with http.post(f"{node.url}/espace/compte/motdepasse", allow_redirects=False,
                             data={**form, "current": PASSWORD, "again": "a typo"}) as response:
            assert response.status == 400
        async with http.post(f"{node.url}/espace/compte/motdepasse", allow_redirects=False,
                             data={**form, "current": PASSWORD}) as response:
            assert response.status == 303
        assert await logged_in(http, node)  # this browser stays logged in
        assert not await logged_in(other, node)  # the others are logged out
    assert await login_status(node, "alice", "a new password") == 303
    assert await login_status(node, "alice") == 401


async def test_an_email_is_private_and_unique(make_island):
    node = await make_island("ile")
    await node.add_user("alice")
    await node.add_user("bob")
    async with browser_like() as http:
        await log_in(http, node, "bob")
        token = await csrf(http, f"{node.url}/espace/compte")
        async with http.post(f"{node.url}/espace/compte/courriel", allow_redirects=False,
                             data={"csrf_token": token, "email": "Bob@Example.org"}) as response:
            assert response.status == 303
    async with browser_like() as http:
        await log_in(http, node, "alice")
        token = await csrf(http, f"{node.url}/espace/compte")
        for wrong in ("bob@example.org", "not an address", "x@" + "y" * 260 + ".org"):
            async with http.post(f"{node.url}/espace/compte/courriel", allow_redirects=False,
                                 data={"csrf_token": token, "email": wrong}) as response:
                assert response.status == 400
    assert (await account(node, "alice")).email is None
    async with browser_like() as http:
        for path, headers in (("/@bob", {}), ("/users/bob", {"Accept": "application/activity+json"}),
                              ("/users/bob/outbox", {"Accept": "application/activity+json"})):
            async with http.get(f"{node.url}{path}", headers=headers) as response:
                assert "bob@example.org" not in (await response.text()).lower()


async def forgotten(http, node, who, **headers):
    token = await csrf(http, f"{node.url}/motdepasse-oublie")
    async with http.post(f"{node.url}/motdepasse-oublie", data={"csrf_token": token, "who": who},
                         headers=headers) as response:
        return response.status, await response.text()


def without_tokens(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


async def test_a_reset_arrives_by_mail_and_works_once(make_island, smtp):  # noqa: F811
    controller, inbox = smtp
    node = await make_island("ile", smtp_host="127.0.0.1", smtp_port=controller.port, mail_from="ile@ile.example")
    await node.add_user("alice")
    async with node.sessions() as session:
        await accounts.set_email(session, await accounts.user_by_username(session, "alice"), "alice@example.org")
        await session.commit()
    async with browser_like() as before:
        await log_in(before, node, "alice")
        async with browser_like() as http:
            status, known = await forgotten(http, node, "alice")
            assert status == 200
            [(_, recipients, message)] = await wait_for(lambda: inbox.messages, message="the reset mail")
            assert recipients == ["alice@example.org"]
            link = LINK.search(message.get_content()).group(1)

            async def erased():
                async with node.sessions() as session:
                    return [row.body for row in await session.scalars(select(OutgoingMail))] == [""]
            await wait_for(erased, message="the sent mail's text erased (it held the link)")
            async with http.get(link) as response:
                assert response.status == 200
                token = hidden_csrf(await response.text())
            async with http.post(link, data={"csrf_token": token, "password": "short", "again": "short"},
                                 allow_redirects=False) as response:
                assert response.status == 400
            form = {"csrf_token": token, "password": "a brand new one", "again": "a brand new one"}
            async with http.post(link, data=form, allow_redirects=False) as response:
                assert response.status == 303
            assert await logged_in(http, node)
        assert not await logged_in(before, node)  # the account's other sessions ended
    async with browser_like() as http:
        async with http.get(link) as response:
            assert response.status == 410
        token = await csrf(http, f"{node.url}/login")
        async with http.post(link, data={"csrf_token": token, "password": "another one!", "again": "another one!"},
                             allow_redirects=False) as response:
            assert response.status == 410
    assert await login_status(node, "alice", "a brand new one") == 303
    assert await login_status(node, "alice") == 401

    # By address too; an address nobody has, or a name without address, sends nothing.
    async with browser_like() as http:
        await forgotten(http, node, "ALICE@example.org")
        await wait_for(lambda: len(inbox.messages) == 2, message="the second reset mail")
        await forgotten(http, node, "nobody@example.org")
    async with node.sessions() as session:
        assert len(list(await session.scalars(select(PasswordReset)))) == 2


async def test_an_expired_reset_is_refused(make_island):
    node = await make_island("ile")
    await node.add_user("alice")
    async with node.sessions() as session:
        link = await account_links.create_reset(session, await accounts.user_by_username(session, "alice"))
        link.row.expires_at = utcnow() - timedelta(seconds=1)
        await session.commit()
    async with browser_like() as http:
        async with http.get(f"{node.url}/motdepasse/{link.token}") as response:
            assert response.status == 410


async def test_the_forgotten_password_page_answers_the_same_for_anyone_and_is_limited(make_island, smtp):  # noqa: F811
    controller, inbox = smtp
    node = await make_island("ile", smtp_host="127.0.0.1", smtp_port=controller.port)
    await node.add_user("alice")
    async with node.sessions() as session:
        await accounts.set_email(session, await accounts.user_by_username(session, "alice"), "alice@example.org")
        await session.commit()
    async with browser_like() as http:
        answers = [await forgotten(http, node, who) for who in ("alice", "nobody", "nobody@example.org")]
        assert {status for status, _ in answers} == {200}
        assert len({without_tokens(page) for _, page in answers}) == 1
        await forgotten(http, node, "alice@example.org")
        await forgotten(http, node, "bob")
        status, page = await forgotten(http, node, "alice")  # the sixth from this address within the hour
        assert status == 429 and 'role="alert"' in page
    await wait_for(lambda: len(inbox.messages) == 2, message="two reset mails (the sixth was refused)")


async def test_without_smtp_the_page_says_to_ask_an_admin(make_island):
    node = await make_island("ile")
    async with browser_like() as http:
        async with http.get(f"{node.url}/motdepasse-oublie") as response:
            page = await response.text()
            assert "archipel user password" in page and "admin" in page
        async with http.get(f"{node.url}/motdepasse-oublie", headers={"Accept-Language": "en"}) as response:
            assert "ask an admin" in (await response.text()).lower()
        async with http.get(f"{node.url}/login") as response:
            assert "/motdepasse-oublie" in await response.text()


async def test_an_invitation_can_be_mailed_when_the_island_sends_mail(make_island, smtp):  # noqa: F811
    controller, inbox = smtp
    node = await make_island("ile", smtp_host="127.0.0.1", smtp_port=controller.port)
    await add_admin(node)
    async with browser_like() as http:
        await log_in(http, node, "gwen")
        link = await invite(http, node, role="author", email="zoe@example.org")
    [(_, recipients, message)] = await wait_for(lambda: inbox.messages, message="the invitation mail")
    assert recipients == ["zoe@example.org"] and link in message.get_content()
