"""Reports between servers: a Mastodon-like server's `Flag` lands in the moderation queue (and
tells moderators and the authors concerned); a moderator's report leaves as a `Flag` from the
island actor; the report page's actions (resolve, hide, delete, block) are audit-logged."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from archipel.storage.tables import ModerationEntry, Notification, Report
from tests.flows.test_blocks import add_moderator, processed, reply
from tests.nodes import wait_for
from tests.remote import RemoteServer
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like, hidden_csrf
from web import provision

AS = "https://www.w3.org/ns/activitystreams"


@pytest.fixture
async def mastodon():
    """A Mastodon-like server on its own address, with its instance actor (which signs reports)."""
    server = RemoteServer(host="127.0.0.2")
    server.add_actor("rosa")
    actor = f"{server.url}/actor"
    server.serve(actor, {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor, "type": "Application", "preferredUsername": server.url.split("//")[1],
        "inbox": f"{actor}/inbox", "outbox": f"{actor}/outbox", "endpoints": {"sharedInbox": f"{server.url}/inbox"},
        "url": f"{server.url}/about/more?instance_actor=true",
        "publicKey": {"id": f"{actor}#main-key", "owner": actor, "publicKeyPem": server.public_pem}})
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def scene(island, mastodon):
    await add_moderator(island, "gwen")
    await add_moderator(island, "ana", role="admin")
    article = await island.publish("alice", "Atelier vélo")
    return island, mastodon, article


def flag(server: RemoteServer, number: int, objects, content: str = "Spam répété") -> dict:
    """Mastodon's Flag (ActivityPub::FlagSerializer): instance actor, a list of IRIs, a comment."""
    return {"@context": AS, "id": f"{server.url}/reports/{number}", "type": "Flag",
            "actor": f"{server.url}/actor", "content": content, "object": objects}


async def send_flag(island, server: RemoteServer, activity: dict, *, key_id: str | None = None):
    status, _ = await server.post(f"{island.url}/inbox", activity,
                                  key_id=key_id or f"{server.url}/actor#main-key")
    assert status == 202
    return await processed(island, activity["id"])


async def reports_of(island) -> list[Report]:
    async with island.sessions() as session:
        return list(await session.scalars(select(Report).order_by(Report.id)))


async def notified(island) -> dict[str, list[str]]:
    """Who was told of reports (replies and follows notify people too, and are not counted here)."""
    async with island.sessions() as session:
        rows = await session.execute(select(Notification.kind, Notification.recipient_id, Notification.detail)
                                     .where(Notification.kind == "report"))
        from archipel.storage.tables import LocalActor
        names = {a.id: a.username for a in await session.scalars(select(LocalActor))}
    result: dict[str, list[str]] = {}
    for kind, recipient, _ in rows:
        result.setdefault(kind, []).append(names[recipient])
    return {kind: sorted(people) for kind, people in result.items()}


async def test_a_flag_from_mastodon_lands_in_the_queue(scene):
    island, mastodon, article = scene
    alice = island.actor_uri("alice")
    hostile = "<script>alert(1)</script><p>Spam <b>répété</b></p>" + "x" * 6000
    row = await send_flag(island, mastodon, flag(mastodon, 1, [alice, article], hostile))
    assert row.state == "processed", row.last_error
    [report] = await reports_of(island)
    assert report.direction == "received" and report.state == "open"
    assert report.reporter_uri == f"{mastodon.url}/actor"
    assert report.target_actor_uri == alice and report.object_uris == [article]
    assert "<" not in report.content and report.content.startswith("alert(1) Spam répété")
    assert len(report.content) == 5000
    assert await notified(island) == {"report": ["alice", "ana", "gwen"]}

    # The same Flag again: one report.
    status, text = await mastodon.post(f"{island.url}/inbox", flag(mastodon, 1, [alice, article]),
                                       key_id=f"{mastodon.url}/actor#main-key")
    assert status == 202 and len(await reports_of(island)) == 1

    # The moderators' page shows it safely.
    async with browser_like() as http:
        await log_in(http, island, "gwen")
        async with http.get(f"{island.url}/espace/moderation/signalements") as response:
            page = await response.text()
    assert response.status == 200
    assert "Spam répété" in page and "Atelier vélo" in page and "<script>" not in page
    assert f"{mastodon.url}/actor" in page


async def test_flag_shapes_and_refusals(scene):
    island, mastodon, article = scene
    # A single object (not a list): the author of the item is the account concerned.
    assert (await send_flag(island, mastodon, flag(mastodon, 2, article))).state == "processed"
    [report] = await reports_of(island)
    assert report.target_actor_uri == island.actor_uri("alice") and report.object_uris == [article]

    # Objects that are not ours (nor stored here): ignored, nobody is told.
    before = await notified(island)
    row = await send_flag(island, mastodon, flag(mastodon, 3, [mastodon.actor_uri("rosa"),
                                                               f"{mastodon.url}/statuses/9"]))
    assert row.state == "ignored" and "nothing of ours" in row.last_error
    # Mixed: only what is ours is kept.
    await send_flag(island, mastodon, flag(mastodon, 4, [f"{mastodon.url}/statuses/9", article]))
    assert (await reports_of(island))[-1].object_uris == [article]

    # Signed by someone else than its actor: the body is not trusted, nothing is recorded.
    row = await send_flag(island, mastodon, flag(mastodon, 5, [article]),
                          key_id=f"{mastodon.actor_uri('rosa')}#main-key")
    assert row.body_trusted is False and row.state == "ignored"
    assert len(await reports_of(island)) == 2
    assert (await notified(island))["report"] == sorted(before["report"] * 2)


async def test_the_island_reports_remote_content_to_its_server(scene):
    island, mastodon, article = scene
    rosa_reply = reply(mastodon, "rosa", 12, article, island.actor_uri("alice"))
    await mastodon.post(f"{island.url}/inbox", rosa_reply)
    await processed(island, rosa_reply["id"])
    note = rosa_reply["object"]["id"]

    link = f"/espace/moderation/signaler?uri={quote(note, safe='/')}"
    async with browser_like() as http, http.get(article, headers={"Accept": "text/html"}) as response:
        assert "on essaie" not in (page := await response.text()) and link not in page
    async with browser_like() as http:
        await log_in(http, island, "gwen")
        async with http.get(article, headers={"Accept": "text/html"}) as response:
            assert link in await response.text(), "moderators can report a remote reply from its page"
        async with http.get(f"{island.url}/espace/moderation/signaler", params={"uri": note}) as response:
            page = await response.text()
            assert response.status == 200 and "Réponse 12" in page
            token = hidden_csrf(page)
        async with http.post(f"{island.url}/espace/moderation/signaler", allow_redirects=False,
                             data={"csrf_token": token, "target": note, "comment": ""}) as response:
            assert response.status == 400
        async with http.post(f"{island.url}/espace/moderation/signaler", allow_redirects=False,
                             data={"csrf_token": token, "target": article, "comment": "x"}) as response:
            assert response.status == 400, "our own content is hidden or deleted, not reported"
        async with http.post(f"{island.url}/espace/moderation/signaler", allow_redirects=False,
                             data={"csrf_token": token, "target": note,
                                   "comment": "Propos injurieux sous un article"}) as response:
            assert response.status == 303
        async with http.get(f"{island.url}{response.headers['Location']}") as response:
            assert "Le signalement a été envoyé" in await response.text()

    [received] = await wait_for(lambda: mastodon.received_of_type("Flag"), message="the Flag at the remote")
    [delivery] = [r for r in mastodon.received if r["activity"]["type"] == "Flag"]
    assert delivery["verified"] is True and delivery["path"] == "/inbox"
    island_actor = island.actor_uri(island.island_username)
    assert received["actor"] == island_actor
    assert received["object"] == [mastodon.actor_uri("rosa"), note]
    assert received["content"] == "Propos injurieux sous un article"
    assert "to" not in received and "cc" not in received, "a report is not public"

    [report] = await reports_of(island)
    assert report.direction == "sent" and report.activity_uri == received["id"]
    assert report.target_actor_uri == mastodon.actor_uri("rosa") and report.object_uris == [note]
    async with island.sessions() as session:
        entry = await session.scalar(select(ModerationEntry).where(ModerationEntry.action == "report_remote"))
    assert entry.subject == mastodon.actor_uri("rosa")

    # An account alone can be reported by its address.
    async with browser_like() as http:
        await log_in(http, island, "gwen")
        async with http.get(f"{island.url}/espace/moderation/signaler") as response:
            token = hidden_csrf(await response.text())
        async with http.post(f"{island.url}/espace/moderation/signaler", allow_redirects=False,
                             data={"csrf_token": token, "target": mastodon.actor_uri("rosa"),
                                   "comment": "Compte de spam"}) as response:
            assert response.status == 303
    flags = await wait_for(lambda: len(mastodon.received_of_type("Flag")) == 2 and mastodon.received_of_type("Flag"))
    assert flags[1]["object"] == [mastodon.actor_uri("rosa")]


async def test_report_actions_hide_delete_block_and_resolve(scene):
    island, mastodon, article = scene
    notes = []
    for number in (21, 22):
        activity = reply(mastodon, "rosa", number, article, island.actor_uri("alice"))
        await mastodon.post(f"{island.url}/inbox", activity)
        await processed(island, activity["id"])
        notes.append(activity["object"]["id"])
    # Another server reports rosa's replies here.
    other = RemoteServer(host="127.0.0.3")
    actor = f"{other.url}/actor"
    other.serve(actor, {"@context": AS, "id": actor, "type": "Application", "preferredUsername": "other",
                        "inbox": f"{actor}/inbox",
                        "publicKey": {"id": f"{actor}#main-key", "owner": actor, "publicKeyPem": other.public_pem}})
    await other.start()
    try:
        for number, note in enumerate(notes, start=1):
            await send_flag(island, other, flag(other, number, [mastodon.actor_uri("rosa"), note]))
    finally:
        await other.stop()
    first, second = await reports_of(island)
    assert first.target_actor_uri == mastodon.actor_uri("rosa") and first.object_uris == [notes[0]]
    assert await notified(island) == {"report": ["ana", "ana", "gwen", "gwen"]}

    async def act(report_id: int, action: str, reason: str = "") -> int:
        async with http.get(f"{island.url}/espace/moderation/signalements") as response:
            token = hidden_csrf(await response.text())
        async with http.post(f"{island.url}/espace/moderation/signalements/{report_id}", allow_redirects=False,
                             data={"csrf_token": token, "action": action, "reason": reason}) as response:
            return response.status

    async with browser_like() as http:
        await log_in(http, island, "gwen")
        assert await act(first.id, "hide", "hors sujet") == 303
        assert (await island.object(notes[0])).hidden_at is not None
        assert await act(second.id, "delete") == 303
        assert (await island.object(notes[1])).deleted_at is not None
        assert await act(first.id, "block_account", "récidive") == 303
        assert await act(first.id, "resolve") == 303
        assert await act(first.id, "resolve") == 400  # already resolved
        async with http.get(f"{island.url}/espace/moderation/signalements") as response:
            page = await response.text()
        # Open reports first.
        assert page.index(f"n° {second.id}") < page.index(f"n° {first.id}")

    async with island.sessions() as session:
        log = [(e.action, e.subject) for e in await session.scalars(select(ModerationEntry).order_by(ModerationEntry.id))]
    assert log == [("hide_content", notes[0]), ("delete_content", notes[1]),
                   ("block_account", mastodon.actor_uri("rosa")), ("resolve_report", mastodon.actor_uri("rosa"))]
    # The block is in force at once: rosa is no longer heard.
    activity = reply(mastodon, "rosa", 23, article, island.actor_uri("alice"))
    assert (await mastodon.post(f"{island.url}/inbox", activity))[0] == 202
    assert [r for r in await island.incoming() if r.activity_uri == activity["id"]] == []


async def test_authors_only_see_their_own_notifications(scene):
    island, mastodon, article = scene
    await provision.add_user(island.sessions, username="yves", password="correct horse battery")
    await send_flag(island, mastodon, flag(mastodon, 30, [island.actor_uri("alice")]))
    assert await notified(island) == {"report": ["alice", "ana", "gwen"]}
