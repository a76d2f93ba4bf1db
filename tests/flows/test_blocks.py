"""Blocks and silences decided by moderators, between real islands and a Mastodon-like server on
distinct loopback addresses (127.0.0.2, 127.0.0.3: 'host' means host and port, so distinct
addresses are what makes a domain block testable). Every rule takes effect without a restart."""

from __future__ import annotations

import pytest
from datetime import timedelta

from sqlalchemy import delete, select, update

from archipel import blocks, social
from archipel.storage.tables import (
    Block,
    Delivery,
    Follow,
    IncomingActivity,
    Interaction,
    ModerationEntry,
    OutgoingActivity,
    StoredObject,
    utcnow,
)
from federation import domains
from federation.client import FetchError
from federation.delivery import DeliveryWorker
from federation.domains import DomainPolicy
from federation.processing import InboxWorker
from tests.nodes import island_follows, wait_for
from tests.remote import RemoteServer
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like, hidden_csrf
from web import appkeys, provision

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


# ---- helpers shared with test_reports ---------------------------------------------------------

async def add_moderator(node, username: str = "gwen", role: str = "moderator"):
    return await provision.add_user(node.sessions, username=username, password="correct horse battery",
                                    role=role)


async def rule(node, kind: str, target: str, severity: str = "block", reason: str = "spam") -> Block:
    """A moderator's decision, as the pages make it: applied, then the policy refreshed."""
    async with node.sessions() as session:
        block = await blocks.add(session, kind=kind, target=target, severity=severity, reason=reason,
                                 moderator=None, own_host=node.settings.host)
        await session.commit()
        await domains.refresh(node.app[appkeys.CLIENT], session)
    return block


async def lift(node, block_id: int) -> None:
    async with node.sessions() as session:
        await blocks.remove(session, block_id, moderator=None, reason="fixed")
        await session.commit()
        await domains.refresh(node.app[appkeys.CLIENT], session)


async def processed(node, activity_id: str):
    async def done():
        rows = [r for r in await node.incoming() if r.payload.get("id") == activity_id]
        return rows[0] if rows and rows[0].state != "received" else None
    return await wait_for(done, message=f"{activity_id} processed")


def like(remote: RemoteServer, name: str, number: int, target: str) -> dict:
    return {"@context": AS, "id": f"{remote.url}/users/{name}#likes/{number}", "type": "Like",
            "actor": remote.actor_uri(name), "object": target}


def follow(remote: RemoteServer, name: str, target: str, number: int = 1) -> dict:
    return {"@context": AS, "id": f"{remote.url}/users/{name}#follows/{number}", "type": "Follow",
            "actor": remote.actor_uri(name), "object": target}


def reply(remote: RemoteServer, name: str, number: int, in_reply_to: str, to_actor: str) -> dict:
    actor = remote.actor_uri(name)
    note = {"id": f"{actor}/statuses/{number}", "type": "Note", "inReplyTo": in_reply_to,
            "attributedTo": actor, "to": [PUBLIC], "cc": [to_actor], "content": f"<p>Réponse {number}</p>",
            "published": "2026-01-05T10:00:00Z",
            "tag": [{"type": "Mention", "href": to_actor}]}
    return {"@context": AS, "id": f"{note['id']}/activity", "type": "Create", "actor": actor,
            "to": note["to"], "cc": note["cc"], "object": note}


@pytest.fixture
async def far_remote():
    """A Mastodon-like server on its own loopback address, with two people."""
    server = RemoteServer(host="127.0.0.2")
    server.add_actor("rosa")
    server.add_actor("zoe")
    await server.start()
    yield server
    await server.stop()


# ---- the rules ----------------------------------------------------------------------------------

def test_policy_combines_settings_and_moderators_rules():
    base = DomainPolicy.from_settings(["static.example"], [])
    now = utcnow()
    rules = [Block(kind="domain", target="bad.example", severity="block", created_at=now),
             Block(kind="account", target="https://ok.example/users/troll", severity="block", created_at=now),
             Block(kind="domain", target="loud.example", severity="silence", created_at=now),
             Block(kind="account", target="https://ok.example/users/shouty", severity="silence", created_at=now)]
    policy = base.with_rules(rules)
    assert not policy.allows("static.example") and not policy.allows("a.bad.example:8443")
    assert policy.allows_actor("https://ok.example/users/rosa")
    assert not policy.allows_actor("https://ok.example/users/troll")
    assert not policy.allows_url("https://ok.example/users/troll/statuses/1")
    assert not policy.allows_url("https://ok.example/users/troll#main-key")
    assert policy.allows_url("https://ok.example/users/trolley")
    assert policy.allows_url("https://ok.example/inbox")  # the server's other people still get posts
    assert policy.silenced_at("https://social.loud.example/users/x") == now
    assert policy.silenced_at("https://ok.example/users/shouty") == now
    assert policy.silenced_at("https://ok.example/users/rosa") is None
    # Lifting everything leaves the settings' own list in force.
    assert not base.with_rules(rules).with_rules([]).allows("static.example")
    assert base.with_rules(rules).with_rules([]).allows("bad.example")


def test_domain_rules_cover_subdomains_and_ports():
    assert blocks.host_matches("social.example.org:443", "example.org")
    assert not blocks.host_matches("notexample.org", "example.org")
    assert blocks.host_matches("127.0.0.2:8001", "127.0.0.2")
    assert not blocks.host_matches("127.0.0.2:8001", "127.0.0.2:8002")
    assert blocks.normalise_domain(" HTTPS://Social.Example.org/@x ") == "social.example.org"


async def test_rules_need_a_reason_and_a_foreign_target(island):
    from archipel.errors import InvalidInput
    with pytest.raises(InvalidInput, match="raison"):
        await rule(island, "domain", "spam.example", reason="  ")
    with pytest.raises(InvalidInput, match="elle-même"):
        await rule(island, "domain", island.settings.host)
    with pytest.raises(InvalidInput):
        await rule(island, "account", island.actor_uri("alice"))
    await rule(island, "domain", "spam.example")
    with pytest.raises(InvalidInput, match="déjà"):
        await rule(island, "domain", "SPAM.example.")


# ---- blocks between real islands ---------------------------------------------------------------

async def test_a_domain_block_stops_both_directions_at_once(make_island):
    brest = await make_island("brest", host="127.0.0.2")
    nantes = await make_island("nantes", host="127.0.0.3")
    await brest.add_user("alice")
    await nantes.add_user("yann")
    await add_moderator(brest)
    await island_follows(nantes, brest)
    await island_follows(brest, nantes)
    before = await nantes.publish("yann", "Avant le blocage")
    await wait_for(lambda: brest.object(before), message="nantes' item replicated on brest")

    # A moderator blocks nantes' whole address from the page, with a reason; no restart follows.
    async with browser_like() as http:
        await log_in(http, brest, "gwen")
        async with http.get(f"{brest.url}/espace/moderation/blocages") as response:
            assert response.status == 200
            token = hidden_csrf(await response.text())
        async with http.post(f"{brest.url}/espace/moderation/blocages", allow_redirects=False,
                             data={"csrf_token": token, "kind": "domain", "target": "127.0.0.3",
                                   "severity": "block", "reason": ""}) as response:
            assert response.status == 400 and 'role="alert"' in await response.text()
        async with http.post(f"{brest.url}/espace/moderation/blocages", allow_redirects=False,
                             data={"csrf_token": token, "kind": "domain", "target": "127.0.0.3",
                                   "severity": "block", "reason": "Spam en série"}) as response:
            assert response.status == 303
        async with http.get(f"{brest.url}/espace/moderation/blocages") as response:
            page = await response.text()
            assert "127.0.0.3" in page and "Spam en série" in page

    async with brest.sessions() as session:
        follows = list(await session.scalars(select(Follow)))
        entry = await session.scalar(select(ModerationEntry).where(ModerationEntry.action == "block_domain"))
    assert follows == [], "follows in both directions are removed"
    assert entry.subject == "127.0.0.3" and entry.reason == "Spam en série" and entry.details["follows_removed"] == 2
    assert (await brest.object(before)).deleted_at is not None, "their content is removed from our pages"

    # Incoming: nantes still believes brest follows it; its Create reaches brest, which answers 202
    # and stores nothing.
    after = await nantes.publish("yann", "Après le blocage")

    async def delivered():
        return [d for d in await nantes.deliveries() if d.host == brest.settings.host and d.state == "sent"
                and d.created_at > entry.created_at]
    sent = await wait_for(delivered, message="nantes delivered its Announce to brest")
    assert {d.last_status for d in sent} == {202}, "a blocked sender gets no hint"
    assert await brest.object(after) is None
    assert not [r for r in await brest.incoming() if r.received_at > entry.created_at]

    # Outgoing: nothing is queued for nantes, and brest fetches nothing from it.
    await brest.publish("alice", "Pour tout le monde sauf nantes")
    assert not [d for d in await brest.deliveries() if d.host == nantes.settings.host
                and d.created_at > entry.created_at]
    nantes_actor = nantes.actor_uri(nantes.island_username)
    with pytest.raises(FetchError, match="federates with"):
        await brest.directory_service.fetch(nantes_actor)
    await brest.follow(brest.island_username, nantes_actor)  # from the stale copy: no Follow goes out
    assert not [d for d in await brest.deliveries() if d.host == nantes.settings.host
                and d.created_at > entry.created_at]
    async with brest.sessions() as session:
        await session.execute(delete(Follow))
        await session.commit()

    # Lifting the block is immediate too: brest can follow nantes again.
    async with brest.sessions() as session:
        block_id = await session.scalar(select(Block.id))
    await lift(brest, block_id)
    # nantes never heard of the block: brest's new Follow, a while later, is answered again.
    async with nantes.sessions() as session:
        await session.execute(update(OutgoingActivity).where(OutgoingActivity.activity_type == "Accept")
                              .values(created_at=utcnow() - timedelta(hours=1)))
        await session.commit()
    await island_follows(brest, nantes)


async def test_pending_deliveries_to_a_blocked_server_are_not_sent(make_island, far_remote):
    island = await make_island("brest", workers=False)
    alice = await island.add_user("alice")
    rosa = await island.directory_service.get(far_remote.actor_uri("rosa"))
    async with island.sessions() as session:
        await social.record_follow(session, follower_uri=rosa.uri, followed_uri=island.actor_uri("alice"),
                                   activity_uri=f"{rosa.uri}#follows/1", state="accepted")
        await session.commit()
    assert alice is not None
    await island.publish("alice", "En attente d'envoi")
    [pending] = await island.deliveries()
    assert pending.state == "pending" and pending.host == far_remote.url.split("//")[1]

    await rule(island, "domain", "127.0.0.2")
    worker = DeliveryWorker(island.sessions, island.app[appkeys.CLIENT], base_url=island.url)
    assert await worker.run_once() == 0
    [cancelled] = await island.deliveries()
    assert cancelled.state == "gave_up" and "blocked" in cancelled.last_error
    assert far_remote.received == []

    # A row that escaped the cancellation (written by another process meanwhile) is refused when sent.
    async with island.sessions() as session:
        session.add(Delivery(outgoing_id=cancelled.outgoing_id, inbox_url=f"{far_remote.url}/users/zoe/inbox",
                             host=cancelled.host))
        await session.commit()
    assert await worker.run_once() == 1
    assert far_remote.received == []
    assert {d.state for d in await island.deliveries()} == {"gave_up"}

    # A follow row written by another process after the block gets no delivery queued at all.
    async with island.sessions() as session:
        await social.record_follow(session, follower_uri=rosa.uri, followed_uri=island.actor_uri("alice"),
                                   activity_uri=f"{rosa.uri}#follows/2", state="accepted")
        await session.commit()
    await island.publish("alice", "Après le blocage")
    assert len(await island.deliveries()) == 2


async def test_an_account_block_leaves_the_rest_of_its_server_alone(island, far_remote):
    alice = island.actor_uri("alice")
    article = await island.publish("alice", "Un article")
    inbox = f"{island.url}/users/alice/inbox"
    for name in ("rosa", "zoe"):
        assert (await far_remote.post(inbox, follow(far_remote, name, alice), name=name))[0] == 202
        assert (await far_remote.post(inbox, like(far_remote, name, 1, article), name=name))[0] == 202
    await processed(island, like(far_remote, "zoe", 1, article)["id"])
    await processed(island, like(far_remote, "rosa", 1, article)["id"])
    rosa_reply = reply(far_remote, "rosa", 7, article, alice)
    assert (await far_remote.post(f"{island.url}/inbox", rosa_reply, name="rosa"))[0] == 202
    await processed(island, rosa_reply["id"])
    assert await island.object(rosa_reply["object"]["id"]) is not None

    block = await rule(island, "account", far_remote.actor_uri("rosa"), reason="Harcèlement")
    async with island.sessions() as session:
        followers = await social.follower_uris(session, alice)
        likers = list(await session.scalars(select(Interaction.actor_uri)))
    assert followers == [far_remote.actor_uri("zoe")]
    assert likers == [far_remote.actor_uri("zoe")]
    assert (await island.object(rosa_reply["object"]["id"])).deleted_at is not None

    # rosa is not heard (202, nothing stored, nothing fetched); zoe still is.
    fetches = len(far_remote.fetches)
    status, _ = await far_remote.post(inbox, follow(far_remote, "rosa", alice, number=2), name="rosa")
    assert status == 202
    assert len(far_remote.fetches) == fetches
    assert not [r for r in await island.incoming() if r.received_at > block.created_at]
    zoe_reply = reply(far_remote, "zoe", 8, article, alice)
    assert (await far_remote.post(f"{island.url}/inbox", zoe_reply, name="zoe"))[0] == 202
    assert (await processed(island, zoe_reply["id"])).state == "processed"

    # Posts still reach the server's shared inbox (for zoe), never rosa's own inbox.
    far_remote.received.clear()
    await island.publish("alice", "Deuxième article")
    await wait_for(lambda: far_remote.received_of_type("Create"), message="Create for zoe")
    assert all(r["path"] != "/users/rosa/inbox" for r in far_remote.received)


async def test_queued_activities_of_a_newly_blocked_sender_are_dropped(make_island, far_remote):
    island = await make_island("brest", workers=False)
    await island.add_user("alice")
    article = await island.publish("alice", "Un article")
    activity = like(far_remote, "rosa", 3, article)
    assert (await far_remote.post(f"{island.url}/users/alice/inbox", activity))[0] == 202
    [queued] = await island.incoming()
    assert queued.state == "received"

    await rule(island, "domain", "127.0.0.2")
    worker = InboxWorker(island.sessions, island.directory_service, base_url=island.url)
    await worker.run_once()
    [dropped] = await island.incoming()
    assert dropped.state == "ignored"
    async with island.sessions() as session:
        assert list(await session.scalars(select(Interaction))) == []

    # The worker itself drops what the policy refuses, whatever the table says.
    async with island.sessions() as session:
        session.add(IncomingActivity(activity_uri=f"{far_remote.url}/late", activity_type="Like",
                                     actor_uri=far_remote.actor_uri("zoe"), signer_uri=far_remote.actor_uri("zoe"),
                                     body_trusted=True, payload={**like(far_remote, "zoe", 4, article),
                                                                 "id": f"{far_remote.url}/late"}))
        await session.commit()
    await worker.run_once()
    late = [r for r in await island.incoming() if r.activity_uri == f"{far_remote.url}/late"][0]
    assert late.state == "ignored" and "blocked" in late.last_error


# ---- silences -------------------------------------------------------------------------------------

async def test_a_silence_hides_from_public_pages_and_lifting_it_restores(make_island):
    brest = await make_island("brest", host="127.0.0.2")
    nantes = await make_island("nantes", host="127.0.0.3")
    await brest.add_user("alice")
    await nantes.add_user("yann")
    await island_follows(brest, nantes)
    await island_follows(nantes, brest)
    shown = await nantes.publish("yann", "Jardins partagés de Nantes", tags=["jardins"])
    by_hand = await nantes.publish("yann", "Message masqué à la main", tags=["jardins"])
    for uri in (shown, by_hand):
        await wait_for(lambda uri=uri: brest.object(uri), message=f"{uri} replicated")
    async with brest.sessions() as session:
        item = await session.scalar(select(StoredObject).where(StoredObject.uri == by_hand))
        item.hidden_at = utcnow()  # what a moderator's "hide" does
        await session.commit()

    async def page(path: str) -> str:
        async with browser_like() as http, http.get(f"{brest.url}{path}") as response:
            assert response.status == 200
            return await response.text()

    assert "Jardins partagés de Nantes" in await page("/federated")
    assert "Message masqué à la main" not in await page("/federated")

    silence = await rule(brest, "domain", "127.0.0.3", severity="silence", reason="Trop de messages")
    for path in ("/federated", "/tags/jardins"):
        assert "Jardins partagés de Nantes" not in await page(path)
    kept = await brest.object(shown)
    assert kept.deleted_at is None and kept.hidden_at is not None, "kept, only hidden"

    # Still federating: new items arrive (hidden), and brest's posts still reach nantes.
    later = await nantes.publish("yann", "Publié pendant le masquage", tags=["jardins"])
    stored = await wait_for(lambda: brest.object(later), message="new item stored while silenced")
    assert stored.hidden_at is not None
    assert "Publié pendant le masquage" not in await page("/federated")
    mine = await brest.publish("alice", "Brest écrit toujours à Nantes")
    await wait_for(lambda: nantes.object(mine), message="brest still delivers to a silenced island")

    await lift(brest, silence.id)
    federated = await page("/federated")
    assert "Jardins partagés de Nantes" in federated and "Publié pendant le masquage" in federated
    assert "Message masqué à la main" not in federated, "what a moderator hid stays hidden"
    async with brest.sessions() as session:
        actions = list(await session.scalars(select(ModerationEntry.action).order_by(ModerationEntry.id)))
    assert actions == ["silence_domain", "unsilence"]


async def test_an_account_silence_hides_its_replies_at_store_time(island, far_remote):
    alice = island.actor_uri("alice")
    article = await island.publish("alice", "Un article")
    await rule(island, "account", far_remote.actor_uri("rosa"), severity="silence")
    for name, number in (("rosa", 1), ("zoe", 2)):
        activity = reply(far_remote, name, number, article, alice)
        assert (await far_remote.post(f"{island.url}/inbox", activity, name=name))[0] == 202
        await processed(island, activity["id"])
    assert (await island.object(f"{far_remote.actor_uri('rosa')}/statuses/1")).hidden_at is not None
    assert (await island.object(f"{far_remote.actor_uri('zoe')}/statuses/2")).hidden_at is None


async def test_moderation_pages_are_for_moderators(island):
    async with browser_like() as http:
        await log_in(http, island, "alice")
        for path in ("/espace/moderation/blocages", "/espace/moderation/signalements",
                     "/espace/moderation/signaler"):
            async with http.get(f"{island.url}{path}", allow_redirects=False) as response:
                assert response.status == 403, path
    async with browser_like() as http:
        async with http.get(f"{island.url}/espace/moderation/blocages", allow_redirects=False) as response:
            assert response.status == 302


async def test_an_account_is_blocked_by_its_handle_through_webfinger(make_island):
    brest = await make_island("brest", host="127.0.0.2")
    nantes = await make_island("nantes", host="127.0.0.3")
    await nantes.add_user("yann")
    await nantes.add_user("lena")
    await add_moderator(brest)
    async with browser_like() as http:
        await log_in(http, brest, "gwen")
        async with http.get(f"{brest.url}/espace/moderation/blocages") as response:
            token = hidden_csrf(await response.text())
        async with http.post(f"{brest.url}/espace/moderation/blocages", allow_redirects=False,
                             data={"csrf_token": token, "kind": "account",
                                   "target": f"@yann@{nantes.settings.host}", "severity": "block",
                                   "reason": "Insultes"}) as response:
            assert response.status == 303
    async with brest.sessions() as session:
        [block] = list(await session.scalars(select(Block)))
    assert (block.kind, block.target) == ("account", nantes.actor_uri("yann"))
    policy = brest.app[appkeys.CLIENT].policy
    assert not policy.allows_actor(nantes.actor_uri("yann")) and policy.allows_actor(nantes.actor_uri("lena"))


async def test_an_account_is_blocked_by_its_profile_url_or_as_typed_when_unreachable(island, remote):
    """A profile URL (`/@rosa`, as GoToSocial and Mastodon show) blocks the actor it serves on its
    own host; a URL that cannot be fetched is blocked as typed: a block never waits on its target."""
    remote.serve(f"{remote.url}/@rosa", remote.documents["/users/rosa"])
    await add_moderator(island)
    unreachable = "http://127.0.0.3:9/users/gone"
    async with browser_like() as http:
        await log_in(http, island, "gwen")
        for target in (f"{remote.url}/@rosa", unreachable):
            async with http.get(f"{island.url}/espace/moderation/blocages") as response:
                token = hidden_csrf(await response.text())
            async with http.post(f"{island.url}/espace/moderation/blocages", allow_redirects=False,
                                 data={"csrf_token": token, "kind": "account", "target": target,
                                       "severity": "block", "reason": "Spam"}) as response:
                assert response.status == 303
    async with island.sessions() as session:
        targets = sorted(block.target for block in await session.scalars(select(Block)))
    assert targets == sorted([remote.actor_uri("rosa"), unreachable])

# ---- a remote account blocks one of ours (Block, as Mastodon and GoToSocial send it) ----------

async def _post_signed_by(signer, receiver, activity: dict) -> None:
    """POST to `receiver`'s inbox, signed with the key of `signer`'s island actor."""
    from archipel.accounts import island_actor
    from federation.keys import load_private_key

    async with signer.sessions() as session:
        pem = (await island_actor(session)).private_key_pem
    remote = RemoteServer()
    await remote.start()
    try:
        status, text = await remote.post(f"{receiver.url}/inbox", activity, key=load_private_key(pem),
                                         key_id=f"{signer.actor_uri(signer.island_username)}#main-key")
    finally:
        await remote.stop()
    assert status == 202, text


async def _settled(node, activity_id: str) -> IncomingActivity:
    async def done():
        rows = [r for r in await node.incoming() if r.payload.get("id") == activity_id]
        return rows and rows[0].state != "received" and rows[0]

    return await wait_for(done, message=f"{activity_id} settled")


async def test_an_island_that_blocks_ours_ends_both_follows_and_the_catalog_walk(make_island):
    from archipel.storage.tables import CatalogSync, Notification

    brest, nantes, lyon = await make_island("brest"), await make_island("nantes"), await make_island("lyon")
    await island_follows(nantes, brest)
    await island_follows(brest, nantes)
    await island_follows(nantes, lyon)
    brest_island, nantes_island = brest.actor_uri(brest.island_username), nantes.actor_uri(nantes.island_username)
    lyon_island = lyon.actor_uri(lyon.island_username)

    async def relations():
        async with nantes.sessions() as session:
            follows = {(f.follower_uri, f.followed_uri) for f in await session.scalars(select(Follow))}
            walks = set(await session.scalars(select(CatalogSync.actor_uri)))
            notices = len(list(await session.scalars(select(Notification))))
        return follows, walks, notices

    follows, walks, notices = await relations()
    assert (nantes_island, brest_island) in follows and (brest_island, nantes_island) in follows
    assert walks == {brest_island, lyon_island}

    # Not trusted: said to come from brest, signed by lyon. Nothing changes.
    forged = {"@context": AS, "id": f"{brest.url}/blocks/forged", "type": "Block", "actor": brest_island,
              "object": nantes_island}
    await _post_signed_by(lyon, nantes, forged)
    assert (await _settled(nantes, forged["id"])).state == "ignored"
    # A Block of an actor that is not ours: nothing to do here.
    elsewhere = {"@context": AS, "id": f"{brest.url}/blocks/elsewhere", "type": "Block", "actor": brest_island,
                 "object": lyon_island}
    await _post_signed_by(brest, nantes, elsewhere)
    assert (await _settled(nantes, elsewhere["id"])).state == "ignored"
    assert await relations() == (follows, walks, notices)

    # brest blocks nantes: both follows end, its catalog is no longer walked, lyon's still is.
    block = {"@context": AS, "id": f"{brest.url}/blocks/1", "type": "Block", "actor": brest_island,
             "object": nantes_island}
    await _post_signed_by(brest, nantes, block)
    assert (await _settled(nantes, block["id"])).state == "processed"
    after, walks_after, notices_after = await relations()
    assert after == follows - {(nantes_island, brest_island), (brest_island, nantes_island)}
    assert walks_after == {lyon_island} and notices_after == notices

    undo = {"@context": AS, "id": f"{brest.url}/blocks/1/undo", "type": "Undo", "actor": brest_island,
            "object": block}
    await _post_signed_by(brest, nantes, undo)
    assert (await _settled(nantes, undo["id"])).state == "processed"
    assert await relations() == (after, walks_after, notices_after)
