"""Authors hear of what happens around their work: followers, replies, likes, boosts, reuses
(here and on other islands), reports; the account menu counts what is unread."""

from __future__ import annotations

import re

from sqlalchemy import select

from archipel import accounts, content, notifications
from archipel.storage.tables import Notification, StoredObject
from federation import actions
from tests.flows.test_conversations import Speaker, fetch_page, object_id, publish_fiche
from tests.nodes import island_follows, wait_for
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like, hidden_csrf
from web import provision


async def notices(node, username: str) -> list[tuple[str, str | None, str | None]]:
    async with node.sessions() as session:
        actor = await accounts.get_actor(session, username)
        rows = await session.scalars(select(Notification).where(Notification.recipient_id == actor.id)
                                     .order_by(Notification.id))
        return [(n.kind, n.actor_uri, n.object_uri) for n in rows]


def unread_badge(html: str) -> int:
    found = re.search(r'<span class="unread">\((\d+)', html)
    return int(found.group(1)) if found else 0


async def test_follows_replies_likes_and_boosts_are_notified(island, remote):
    await provision.add_user(island.sessions, username="gwen", password="correct horse battery", role="admin")
    await island.add_user("bob")
    remote.add_actor("mia")
    alice, island_uri = island.actor_uri("alice"), island.actor_uri(island.island_username)
    rosa, mia = Speaker(island, remote, "rosa"), Speaker(island, remote, "mia")
    await rosa.send({"id": f"{rosa.uri}/follows/1", "type": "Follow", "object": alice})
    await rosa.send({"id": f"{rosa.uri}/follows/2", "type": "Follow", "object": island_uri})

    fiche = await publish_fiche(island)
    question = await rosa.reply(fiche.uri, "<p>Une question</p>")
    await mia.reply(question, "<p>Une précision</p>")
    await rosa.send({"id": f"{rosa.uri}/likes/1", "type": "Like", "object": fiche.uri})
    await rosa.send({"id": f"{rosa.uri}/boosts/1", "type": "Announce", "object": fiche.uri, "to": [remote.url]})
    await rosa.send({"id": f"{rosa.uri}/undo/1", "type": "Undo",
                     "object": {"id": f"{rosa.uri}/likes/1", "type": "Like", "actor": rosa.uri, "object": fiche.uri}})

    # bob answers alice's fiche from the page; alice answers rosa and nobody tells alice of it.
    for user, parent, text in (("bob", fiche.uri, "Belle idée"), ("alice", question, "Voici la réponse")):
        async with browser_like() as http:
            await log_in(http, island, user)
            form = {"csrf_token": hidden_csrf(await fetch_page(http, fiche.uri)),
                    "in_reply_to": str(await object_id(island, parent)), "text": text}
            async with http.post(f"{island.url}/discussion/repondre", data=form, allow_redirects=False) as response:
                assert response.status == 303
    async with island.sessions() as session:
        bob_reply = await session.scalar(select(StoredObject.uri).where(StoredObject.source == "Belle idée"))
        alice_reply = await session.scalar(select(StoredObject.uri).where(StoredObject.source == "Voici la réponse"))
    thanks = await rosa.reply(alice_reply, "<p>Merci Alice</p>")  # a reply to her reply

    mia_reply = f"{mia.uri}/statuses/1"
    assert await notices(island, "alice") == [
        ("follow", rosa.uri, alice),
        ("reply", rosa.uri, question),
        ("reply", mia.uri, mia_reply),  # deeper in the thread of her fiche
        ("like", rosa.uri, fiche.uri),
        ("boost", rosa.uri, fiche.uri),
        ("reply", island.actor_uri("bob"), bob_reply),
        ("reply", rosa.uri, thanks),
    ]
    assert await notices(island, "gwen") == [("follow", rosa.uri, island_uri)]  # the island's admins
    assert await notices(island, "bob") == []

    # The page: who, what, where; unread ones marked, then read once seen.
    async with browser_like() as http:
        await log_in(http, island, "alice")
        home = await fetch_page(http, f"{island.url}/")
        assert unread_badge(home) == 7
        page = await fetch_page(http, f"{island.url}/espace/notifications")
        assert page.count('class="notice notice-') == 7 and page.count(" unread\"") == 7
        for verb in ("vous suit", "a répondu dans la discussion de «\u00a0Jardin partagé\u00a0»", "aime", "a partagé"):
            assert re.search(rf"Rosa</a>\s+{verb}", page), verb
        assert f'href="{fiche.uri}#reponse-{await object_id(island, question)}"' in page
        assert f'href="{fiche.uri}"' in page
        assert unread_badge(await fetch_page(http, f"{island.url}/")) == 0
        again = await fetch_page(http, f"{island.url}/espace/notifications")
        assert " unread\"" not in again


async def test_follow_requests_reports_and_pages(island, remote):
    async with island.sessions() as session:
        alice = await accounts.get_actor(session, "alice")
        alice.manually_approves_followers = True
        await session.commit()
    rosa = Speaker(island, remote, "rosa")
    await rosa.send({"id": f"{rosa.uri}/follows/1", "type": "Follow", "object": island.actor_uri("alice")})
    await rosa.send({"id": f"{rosa.uri}/follows/1-again", "type": "Follow", "object": island.actor_uri("alice")})
    assert len(await notices(island, "alice")) == 1  # the same request, sent again: one notice
    async with island.sessions() as session:
        # Written by the moderation of reports (another module): shown generically here.
        await notifications.notify(session, alice.id, "report", actor_uri=island.actor_uri(island.island_username),
                                   detail="Propos déplacés dans une fiche")
        for n in range(60):
            await notifications.notify(session, alice.id, "proposal", detail=f"Proposition {n}")
        await session.commit()
    async with browser_like() as http:
        await log_in(http, island, "alice")
        first = await fetch_page(http, f"{island.url}/espace/notifications")
        assert first.count('class="notice notice-') == 50 and "Proposition 59" in first
        older = re.search(r'href="\?avant=(\d+)"', first).group(1)
        second = await fetch_page(http, f"{island.url}/espace/notifications?avant={older}")
    assert "Proposition 10<" in first and "Proposition 9<" not in first
    assert f'<a href="{island.url}/espace/moderation">Nouvelle proposition</a>' in first  # to the queue
    assert "Proposition 9<" in second and "Proposition 10<" not in second and "Proposition 0<" in second
    assert "Signalement concernant votre contenu" in second and "Propos déplacés" in second
    assert "demande à vous suivre" in second
    assert (await notices(island, "alice"))[0] == ("follow", rosa.uri, island.actor_uri("alice"))


async def test_reuses_here_and_on_another_island_are_notified(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await brest.add_user("claire")
    await nantes.add_user("bob")
    await island_follows(nantes, brest)
    fiche = await publish_fiche(brest)

    # claire reuses alice's fiche on brest, from the page.
    async with browser_like() as http:
        await log_in(http, brest, "claire")
        form = {"csrf_token": hidden_csrf(await fetch_page(http, fiche.uri)), "origin": fiche.uri}
        async with http.post(f"{brest.url}/reutiliser", data=form, allow_redirects=False) as response:
            assert response.status == 303

    # bob reuses the replica on nantes and publishes it: brest hears of it (isBasedOn).
    replica = await wait_for(lambda: nantes.object(fiche.uri), timeout=30, message="the fiche replicated to nantes")
    # nantes got the fiche through brest's re-share: alice's actor may not be known there yet (the
    # authors' names worker fetches it when it comes round); the reuse page fetches it if needed,
    # so that her island is told either way.
    async with browser_like() as http:
        await log_in(http, nantes, "bob")
        form = {"csrf_token": hidden_csrf(await fetch_page(http, f"{nantes.url}/r/{replica.id}")), "origin": fiche.uri}
        async with http.post(f"{nantes.url}/reutiliser", data=form, allow_redirects=False) as response:
            assert response.status == 303
            ulid = response.headers["Location"].split("/")[3]
    async with nantes.sessions() as session:
        bob = await accounts.get_actor(session, "bob")
        draft = await content.find_object(session, f"{nantes.url}/o/{ulid}")
        await actions.edit_item(session, nantes.url, draft, editor=bob, state="published")
        await session.commit()
    nantes.wake()

    async def told():
        return [n for n in await notices(brest, "alice") if n[1] == nantes.actor_uri("bob")]

    [(kind, _, derived)] = await wait_for(told, timeout=30, message="alice hears of bob's reuse")
    assert kind == "reuse" and derived == draft.uri
    assert [n[0] for n in await notices(brest, "alice")] == ["reuse", "reuse"]
    assert (await notices(brest, "alice"))[0][1] == brest.actor_uri("claire")
