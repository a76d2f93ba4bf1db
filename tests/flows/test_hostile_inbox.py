"""Hostile and broken requests against a real island's inboxes, with real signatures.

Every case is sent by the scriptable remote server (tests/remote.py) to a running island, and
judged on what an outsider can observe: the HTTP status, the rows of `incoming_activities`,
what the inbox worker made of them, and the interactions counted on alice's article.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from archipel import social
from federation.client import FederationClient, FetchError
from federation.httpsig import http_date
from federation.signed_request import authority, path_and_query, sign_message
from federation.vocabulary import PUBLIC
from tests.nodes import wait_for
from tests.remote import other_key

AS = "https://www.w3.org/ns/activitystreams"
INBOXES = ["personal", "shared"]


# ---- helpers ----------------------------------------------------------------------------------

def inbox_url(island, which: str) -> str:
    return f"{island.url}/users/alice/inbox" if which == "personal" else f"{island.url}/inbox"


def like(remote, article: str, *, actor: str = "rosa", suffix: str = "1") -> dict:
    uri = remote.actor_uri(actor)
    return {"@context": AS, "id": f"{uri}#likes/{suffix}", "type": "Like", "actor": uri, "object": article}


def reply(remote, island, article: str, content: str, *, note_id: str | None = None,
          suffix: str = "1") -> dict:
    actor = remote.actor_uri("rosa")
    note_id = note_id or f"{actor}/statuses/{suffix}"
    note = {
        "id": note_id, "type": "Note", "attributedTo": actor, "inReplyTo": article,
        "content": content, "published": "2025-05-14T09:30:12Z",
        "to": [PUBLIC], "cc": [f"{actor}/followers", island.actor_uri("alice")],
        "tag": [{"type": "Mention", "href": island.actor_uri("alice"), "name": "@alice"}],
    }
    return {"@context": AS, "id": f"{actor}/statuses/{suffix}/activity", "type": "Create",
            "actor": actor, "published": "2025-05-14T09:30:12Z", "to": note["to"], "cc": note["cc"],
            "object": note}


async def rows_for(island, activity_id: str):
    """The stored rows carrying this activity (a copy relayed by another signer is stored under a
    key of its own, so the payload's id is what names it here)."""
    return [row for row in await island.incoming() if row.payload.get("id") == activity_id]


async def settled(island, activity_id: str, timeout: float = 10.0):
    """The incoming row of `activity_id` once the worker has moved it out of `received`."""
    last = []

    async def done():
        last[:] = await rows_for(island, activity_id)
        return last[0] if last and last[0].state != "received" else None

    try:
        return await wait_for(done, timeout=timeout)
    except AssertionError:
        state = [(r.state, r.last_error) for r in last]
        raise AssertionError(f"{activity_id} was not processed within {timeout}s: {state}") from None


async def counts(island, uri: str) -> dict:
    async with island.sessions() as session:
        return await social.interaction_counts(session, uri)


@pytest.fixture
async def article(island):
    return await island.publish("alice", "Les PAPI de Brest", "Des **ateliers** chaque semaine.")


# ---- signatures that do not hold: 401 and nothing stored ---------------------------------------

@pytest.mark.parametrize("which", INBOXES)
async def test_unsigned_post_is_refused(island, remote, article, which):
    status, _ = await remote.post_unsigned(inbox_url(island, which), json.dumps(like(remote, article)).encode())
    assert status == 401
    assert await island.incoming() == []


@pytest.mark.parametrize("which", INBOXES)
async def test_body_tampered_after_signing_is_refused(island, remote, article, which):
    signed = like(remote, article)
    tampered = json.dumps({**signed, "object": f"{island.url}/o/another"}).encode()
    status, _ = await remote.post(inbox_url(island, which), signed, body_after_signing=tampered)
    assert status == 401
    assert await island.incoming() == []


@pytest.mark.parametrize("which", INBOXES)
async def test_wrong_digest_header_is_refused(island, remote, article, which):
    wrong = "SHA-256=" + base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    status, _ = await remote.post(inbox_url(island, which), like(remote, article),
                                  headers_override={"Digest": wrong})
    assert status == 401
    assert await island.incoming() == []


@pytest.mark.parametrize("which", INBOXES)
async def test_date_thirteen_hours_old_is_refused(island, remote, article, which):
    status, _ = await remote.post(inbox_url(island, which), like(remote, article),
                                  now=datetime.now(UTC) - timedelta(hours=13))
    assert status == 401
    assert await island.incoming() == []


@pytest.mark.parametrize("which", INBOXES)
async def test_date_two_hours_ahead_is_refused(island, remote, article, which):
    status, _ = await remote.post(inbox_url(island, which), like(remote, article),
                                  now=datetime.now(UTC) + timedelta(hours=2))
    assert status == 401
    assert await island.incoming() == []


async def test_date_eleven_hours_old_is_accepted(island, remote, article):
    """The other side of the window: Mastodon accepts up to 12 h, so do we."""
    status, _ = await remote.post(inbox_url(island, "personal"), like(remote, article),
                                  now=datetime.now(UTC) - timedelta(hours=11))
    assert status == 202


def _signature_header(remote, url: str, now: datetime, body: bytes, covered: list[str]) -> str:
    """A draft-cavage Signature header covering exactly `covered`, with the values that
    RemoteServer.post sends for the same `now` and body."""
    values = {
        "(request-target)": f"post {path_and_query(url)}",
        "host": authority(url),
        "date": http_date(now),
        "digest": "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode(),
        "content-type": "application/activity+json",
    }
    message = "\n".join(f"{name}: {values[name]}" for name in covered)
    signature = base64.b64encode(sign_message(remote.private_key, message.encode())).decode()
    return (f'keyId="{remote.actor_uri("rosa")}#main-key",algorithm="rsa-sha256",'
            f'headers="{" ".join(covered)}",signature="{signature}"')


async def test_hand_made_signature_covering_digest_is_accepted(island, remote, article):
    """Control for the next test: the hand-made header is right when it covers the digest."""
    url, now, activity = inbox_url(island, "personal"), datetime.now(UTC), like(remote, article)
    body = json.dumps(activity).encode()
    header = _signature_header(remote, url, now, body,
                               ["(request-target)", "host", "date", "digest", "content-type"])
    status, _ = await remote.post(url, body, now=now, headers_override={"Signature": header})
    assert status == 202


@pytest.mark.parametrize("which", INBOXES)
async def test_signature_not_covering_digest_is_refused(island, remote, article, which):
    url, now, activity = inbox_url(island, which), datetime.now(UTC), like(remote, article)
    body = json.dumps(activity).encode()
    header = _signature_header(remote, url, now, body, ["(request-target)", "host", "date", "content-type"])
    # The Digest header is still sent (and right): only its coverage by the signature is missing.
    status, _ = await remote.post(url, body, now=now, headers_override={"Signature": header})
    assert status == 401
    assert await island.incoming() == []


@pytest.mark.parametrize("missing", ["(request-target)", "host"])
async def test_signature_not_covering_target_or_host_is_refused(island, remote, article, missing):
    url, now, activity = inbox_url(island, "personal"), datetime.now(UTC), like(remote, article)
    body = json.dumps(activity).encode()
    covered = [h for h in ["(request-target)", "host", "date", "digest", "content-type"] if h != missing]
    header = _signature_header(remote, url, now, body, covered)
    status, _ = await remote.post(url, body, now=now, headers_override={"Signature": header})
    assert status == 401


@pytest.mark.parametrize("which", INBOXES)
async def test_signature_by_an_unpublished_key_is_refused(island, remote, article, which):
    status, _ = await remote.post(inbox_url(island, which), like(remote, article), key=other_key())
    assert status == 401
    assert await island.incoming() == []


@pytest.mark.parametrize("which", INBOXES)
async def test_key_whose_owner_does_not_claim_it_is_refused(island, remote, article, which):
    """A key document says its owner is rosa, but rosa's actor does not list that key."""
    key_id = f"{remote.url}/keys/stray"
    remote.serve(key_id, {"@context": ["https://w3id.org/security/v1"], "id": key_id, "type": "Key",
                          "owner": remote.actor_uri("rosa"), "publicKeyPem": remote.public_pem})
    status, _ = await remote.post(inbox_url(island, which), like(remote, article), key_id=key_id)
    assert status == 401
    assert await island.incoming() == []


# ---- valid signatures ---------------------------------------------------------------------------

async def test_rfc9421_signature_is_accepted_and_stored(island, remote, article):
    activity = like(remote, article)
    status, _ = await remote.post(inbox_url(island, "personal"), activity, scheme="rfc9421")
    assert status == 202
    [row] = await rows_for(island, activity["id"])
    assert row.body_trusted is True
    assert row.signer_uri == remote.actor_uri("rosa")
    assert (await settled(island, activity["id"])).state == "processed"
    assert (await counts(island, article))["Like"] == 1


async def test_signer_other_than_actor_is_accepted_but_not_trusted(island, remote, article):
    remote.add_actor("max")
    activity = like(remote, article, actor="max")  # actor max, signed with rosa's key below
    status, _ = await remote.post(inbox_url(island, "shared"), activity, name="rosa")
    assert status == 202
    [row] = await rows_for(island, activity["id"])
    assert row.body_trusted is False
    assert row.signer_uri == remote.actor_uri("rosa")
    assert row.actor_uri == remote.actor_uri("max")
    assert (await settled(island, activity["id"])).state == "ignored"
    assert (await counts(island, article))["Like"] == 0


async def test_create_of_an_object_on_a_foreign_host_is_not_stored(island, remote, article):
    foreign = "http://127.0.0.2:9/users/rosa/statuses/666"
    activity = reply(remote, island, article, "<p>Pas de chez moi</p>", note_id=foreign, suffix="666")
    status, _ = await remote.post(inbox_url(island, "shared"), activity)
    assert status == 202
    assert (await settled(island, activity["id"])).state == "ignored"
    assert await island.object(foreign) is None
    assert (await counts(island, article))["replies"] == 0


async def test_reply_with_script_and_event_handlers_is_stored_sanitised(island, remote, article):
    activity = reply(remote, island, article,
                     '<p>Bravo<script>alert(1)</script> <img src="x" onerror="alert(2)">'
                     '<a href="https://ok.example/" onclick="alert(3)" onmouseover="alert(4)">lien</a></p>')
    status, _ = await remote.post(inbox_url(island, "shared"), activity)
    assert status == 202
    assert (await settled(island, activity["id"])).state == "processed"
    stored = await island.object(activity["object"]["id"])
    assert stored is not None and stored.in_reply_to == article
    assert "Bravo" in stored.content and "lien" in stored.content
    assert "<script" not in stored.content.lower()
    assert "alert(1)" not in stored.content
    assert not re.search(r"\son[a-z]+\s*=", stored.content, re.IGNORECASE), stored.content
    assert (await counts(island, article))["replies"] == 1


async def test_repeated_activity_id_is_stored_once(island, remote, article):
    activity = like(remote, article)
    first, _ = await remote.post(inbox_url(island, "personal"), activity)
    second, _ = await remote.post(inbox_url(island, "shared"), activity)
    assert (first, second) == (202, 202)
    assert len(await rows_for(island, activity["id"])) == 1
    await settled(island, activity["id"])
    assert (await counts(island, article))["Like"] == 1


async def test_delete_of_an_unknown_actor_is_dropped_quietly(island, remote):
    ghost = f"{remote.url}/users/ghost"  # never served: its key URL answers 404
    activity = {"@context": AS, "id": f"{ghost}#delete", "type": "Delete", "actor": ghost,
                "object": ghost, "to": [PUBLIC]}
    status, _ = await remote.post(inbox_url(island, "shared"), activity, key_id=f"{ghost}#main-key")
    assert status == 202
    assert await island.incoming() == []


# ---- malformed bodies ----------------------------------------------------------------------------

async def test_oversize_body_is_refused(island, remote, article):
    activity = {**like(remote, article), "content": "x" * 1_000_001}
    status, _ = await remote.post(inbox_url(island, "personal"), activity)
    assert status == 413
    assert await island.incoming() == []


async def test_invalid_json_is_refused(island, remote):
    status, _ = await remote.post(inbox_url(island, "personal"), b'{"type": "Like", "actor": ')
    assert status == 400
    assert await island.incoming() == []


async def test_json_array_is_refused(island, remote, article):
    status, _ = await remote.post(inbox_url(island, "shared"), json.dumps([like(remote, article)]).encode())
    assert status == 400
    assert await island.incoming() == []


# ---- private addresses -----------------------------------------------------------------------------

@pytest.fixture
async def strict_client():
    client = FederationClient(allow_private=False, max_bytes=1_000_000, timeout=30)
    await client.start()
    yield client
    await client.close()


async def _refused(client, url: str) -> str:
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        await client.fetch_json(url, None)
    # Refused by the guard, not after a connection attempt (10.0.0.1 would hang until timeout).
    assert time.monotonic() - started < 2
    return str(caught.value)


async def test_private_loopback_url_is_refused(strict_client, remote):
    port = remote.url.rsplit(":", 1)[1]
    message = await _refused(strict_client, f"http://127.0.0.1:{port}/users/rosa")
    assert re.search(r"private|local", message, re.IGNORECASE), message
    message = await _refused(strict_client, f"https://127.0.0.1:{port}/users/rosa")
    assert re.search(r"private|local", message, re.IGNORECASE), message


async def test_localhost_name_is_refused(strict_client, remote):
    port = remote.url.rsplit(":", 1)[1]
    for url in (f"http://localhost:{port}/users/rosa", f"https://localhost:{port}/users/rosa"):
        message = await _refused(strict_client, url)
        assert re.search(r"private|local", message, re.IGNORECASE), message


async def test_name_resolving_to_loopback_is_refused_at_the_resolver():
    """check_url refuses the name `localhost` early; the resolver must refuse any name whose
    addresses are all private, whatever it is called (DNS rebinding included)."""
    from federation.netguard import BlockedAddress, GuardedResolver

    strict, lenient = GuardedResolver(allow_private=False), GuardedResolver(allow_private=True)
    try:
        with pytest.raises(BlockedAddress, match="private or local"):
            await strict.resolve("localhost", 443)
        assert all(a["host"].startswith(("127.", "::1")) for a in await lenient.resolve("localhost", 443))
    finally:
        await strict.close()
        await lenient.close()


async def test_private_network_address_is_refused_without_connecting(strict_client):
    for url in ("http://10.0.0.1/users/rosa", "https://10.0.0.1/users/rosa",
                "https://192.168.1.1/users/rosa", "https://[::1]/users/rosa"):
        message = await _refused(strict_client, url)
        assert re.search(r"private|local", message, re.IGNORECASE), message


async def test_loopback_fetch_works_when_private_networks_are_allowed(remote):
    client = FederationClient(allow_private=True, max_bytes=1_000_000, timeout=10)
    await client.start()
    try:
        document = await client.fetch_json(remote.actor_uri("rosa"), None)
    finally:
        await client.close()
    assert document["id"] == remote.actor_uri("rosa")
    assert document["publicKey"]["publicKeyPem"] == remote.public_pem


async def test_a_key_url_on_a_private_address_is_refused_when_private_networks_are_off(make_island, remote):
    """An island in production mode never fetches a key from loopback or a private network."""
    strict = await make_island("strict", allow_private_networks=False)
    await strict.add_user("alice")
    status, body = await remote.post(f"{strict.url}/users/alice/inbox", {
        "@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.url}/follows/strict",
        "type": "Follow", "actor": remote.actor_uri("rosa"), "object": strict.actor_uri("alice")})
    assert status == 401
    assert re.search(r"private|local|plain http", body, re.IGNORECASE), body
    assert remote.fetches == []  # nothing was fetched from the private address
    assert await strict.incoming() == []
