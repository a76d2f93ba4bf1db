"""Pending invitations on /espace/comptes: listed with their role, expiry and who invited; an
admin revokes one (anti-forgery token required), and its link then says it is no longer valid."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from archipel.storage.tables import Invitation, User
from tests.web.test_accounts import accept, add_admin, csrf, invite
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like

ROWS = re.compile(r'<table class="invitations">.*?</table>', re.S)


def pending_rows(page: str) -> list[str]:
    table = ROWS.search(page)
    return table.group(0).split("<tr>")[2:] if table else []


async def test_pending_invitations_are_listed_and_one_is_revoked(make_island):
    island = await make_island("brest")
    await add_admin(island)
    await island.add_user("bob")
    async with browser_like() as http:
        await log_in(http, island, "gwen")
        used = await invite(http, island, role="author")
        revoked = await invite(http, island, role="moderator")
        kept = await invite(http, island, role="admin")
        async with browser_like() as newcomer:
            assert (await accept(newcomer, used, "nina"))[0] == 303
        async with island.sessions() as session:  # one more, already expired: not listed either
            expired = (await session.scalars(select(Invitation).order_by(Invitation.id))).first()
            session.add(Invitation(token_hash="e" * 64, role="author", created_at=expired.created_at - timedelta(days=9),
                                   expires_at=expired.created_at - timedelta(days=2)))
            await session.commit()
        async with http.get(f"{island.url}/espace/comptes") as response:
            page = await response.text()
        rows = pending_rows(page)
        assert len(rows) == 2  # the used one and the expired one are not pending
        assert "Admin" in rows[0] and "Modération" in rows[1]  # newest first, roles in words
        assert all("<td>gwen</td>" in row and row.count("<time") == 2 for row in rows)  # who, when, until
        ids = re.findall(r"/espace/comptes/invitations/(\d+)/retirer", page)
        assert len(ids) == 2
        revoke_url = f"{island.url}/espace/comptes/invitations/{ids[1]}/retirer"

        # Without the page's anti-forgery token nothing is revoked.
        async with http.post(revoke_url, data={}, allow_redirects=False) as response:
            assert response.status == 403
        async with http.get(revoked) as response:
            assert response.status == 200
        token = await csrf(http, f"{island.url}/espace/comptes")
        async with http.post(revoke_url, data={"csrf_token": token}, allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/espace/comptes?fait=revoked"
        async with http.get(f"{island.url}/espace/comptes?fait=revoked") as response:
            page = await response.text()
        assert "L'invitation est retirée" in page and len(pending_rows(page)) == 1
        assert "Admin" in pending_rows(page)[0]
        # Revoked once: a second time there is nothing to revoke.
        async with http.post(revoke_url, data={"csrf_token": token}, allow_redirects=False) as response:
            assert response.status == 404

    async with browser_like() as http:
        async with http.get(revoked, headers={"Accept": "text/html"}) as response:
            assert response.status == 410
            assert "plus valable" in await response.text() and "retir" in await response.text()
        status, _ = await accept(http, kept, "olga")  # the others still work
        assert status == 303
    async with island.sessions() as session:
        assert await session.scalar(select(User.role).join(Invitation, Invitation.used_by_id == User.id)
                                    .where(Invitation.role == "admin")) == "admin"


async def test_only_admins_revoke(make_island):
    island = await make_island("brest")
    await add_admin(island)
    await island.add_user("bob")
    async with browser_like() as http:
        await log_in(http, island, "gwen")
        link = await invite(http, island)
    async with island.sessions() as session:
        invitation_id = await session.scalar(select(Invitation.id))
    async with browser_like() as http:
        await log_in(http, island, "bob")
        token = await csrf(http, f"{island.url}/espace")
        async with http.post(f"{island.url}/espace/comptes/invitations/{invitation_id}/retirer",
                             data={"csrf_token": token}, allow_redirects=False) as response:
            assert response.status == 403
        async with http.get(link) as response:
            assert response.status == 200  # still usable
