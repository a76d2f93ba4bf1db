"""Values no database could hold, sent to a real island's inboxes with real signatures.

SQLite would store most of them; PostgreSQL refuses them (NaN, a NUL, an overlong VARCHAR...)
and a refused row used to fail every request grouped in the same commit. Each hostile activity
is sent at the same moment as a genuine one: the hostile one gets a 4xx and leaves nothing, the
genuine one is stored and processed. Run on both databases (ARCHIPEL_TEST_POSTGRES).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from archipel import social
from archipel.storage.tables import RemoteActor, StoredObject
from tests.nodes import wait_for

AS = "https://www.w3.org/ns/activitystreams"


def like(remote, article: str, suffix: str) -> dict:
    actor = remote.actor_uri("rosa")
    return {"@context": AS, "id": f"{actor}#likes/{suffix}", "type": "Like", "actor": actor, "object": article}


def with_raw(activity: dict, field: str, raw: str) -> bytes:
    """The activity as JSON with `field` set to a raw JSON text that json.dumps would never write."""
    text = json.dumps({**activity, field: "@@RAW@@"})
    return text.replace('"@@RAW@@"', raw).encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


# Each builds a body from a genuine Like: (remote, article) -> bytes
HOSTILE = {
    "NaN": lambda r, a: with_raw(like(r, a, "h"), "rating", "NaN"),
    "Infinity": lambda r, a: with_raw(like(r, a, "h"), "rating", "Infinity"),
    "-Infinity": lambda r, a: with_raw(like(r, a, "h"), "rating", "-Infinity"),
    "integer 2**70": lambda r, a: with_raw(like(r, a, "h"), "rating", str(2**70)),
    "integer -2**64": lambda r, a: with_raw(like(r, a, "h"), "rating", str(-2**64)),
    "float 1e400": lambda r, a: with_raw(like(r, a, "h"), "rating", "1e400"),
    "array depth 100,000": lambda r, a: with_raw(like(r, a, "h"), "tag", nested(100_000)),
    "array depth 10,000": lambda r, a: with_raw(like(r, a, "h"), "tag", nested(10_000)),
    "object depth 5,000": lambda r, a: with_raw(like(r, a, "h"), "tag", nested_objects(5_000)),
    "NUL in a value": lambda r, a: with_raw(like(r, a, "h"), "content", '"a\\u0000b"'),
    "NUL in a key": lambda r, a: with_raw(like(r, a, "h"), "tag", '{"a\\u0000": 1}'),
    "lone surrogate": lambda r, a: with_raw(like(r, a, "h"), "content", '"\\ud800"'),
    "lone low surrogate in a key": lambda r, a: with_raw(like(r, a, "h"), "tag", '{"\\udfff": 1}'),
    "not UTF-8": lambda r, a: json.dumps(like(r, a, "h")).encode().replace(b"Like", b"Lik\xff"),
    "id of 10,000 characters": lambda r, a: json.dumps(
        {**like(r, a, "h"), "id": f"{r.actor_uri('rosa')}#likes/" + "x" * 10_000}).encode(),
    "id with a NUL": lambda r, a: json.dumps(
        {**like(r, a, "h"), "id": f"{r.actor_uri('rosa')}#likes/\u0000"}).encode(),
    "actor of 3,000 characters": lambda r, a: json.dumps(
        {**like(r, a, "h"), "actor": r.actor_uri("rosa") + "/" + "y" * 3_000}).encode(),
}


@pytest.fixture
async def article(island):
    return await island.publish("alice", "Les PAPI de Brest", "Des **ateliers** chaque semaine.")


async def genuine_like_is_processed(island, remote, article, suffix="genuine"):
    uri = like(remote, article, suffix)["id"]

    async def processed():
        rows = [row for row in await island.incoming() if row.activity_uri == uri]
        return rows and rows[0].state == "processed"

    await wait_for(processed, message=f"{uri} processed")
    async with island.sessions() as session:
        assert (await social.interaction_counts(session, article))["Like"] == 1


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_hostile_value_is_refused_and_a_genuine_one_sent_with_it_is_stored(island, remote, article, case):
    inbox = f"{island.url}/users/alice/inbox"
    (hostile_status, reason), (genuine_status, _) = await asyncio.gather(
        remote.post(inbox, HOSTILE[case](remote, article)),
        remote.post(f"{island.url}/inbox", like(remote, article, "genuine")),
    )
    assert 400 <= hostile_status < 500, reason
    assert genuine_status == 202
    assert [row.activity_uri for row in await island.incoming()] == [like(remote, article, "genuine")["id"]]
    await genuine_like_is_processed(island, remote, article)


async def test_many_hostile_activities_at_once_leave_the_genuine_ones_stored(island, remote, article):
    """Grouped in one commit with genuine activities, on PostgreSQL too: only the hostile fail."""
    inbox = f"{island.url}/inbox"
    hostile = [remote.post(inbox, build(remote, article)) for build in HOSTILE.values()]
    genuine = [remote.post(inbox, like(remote, article, f"g{n}") | {"actor": remote.actor_uri("rosa")})
               for n in range(5)]
    results = await asyncio.gather(*hostile, *genuine)
    assert all(400 <= status < 500 for status, _ in results[:len(hostile)])
    assert all(status == 202 for status, _ in results[len(hostile):])
    stored = sorted(row.activity_uri for row in await island.incoming())
    assert stored == sorted(like(remote, article, f"g{n}")["id"] for n in range(5))


async def test_an_actor_whose_inbox_is_too_long_is_not_stored_and_its_activity_refused(island, remote, article):
    remote.add_actor("longue", inbox=f"{remote.url}/inbox/" + "z" * 3_000)
    activity = {**like(remote, article, "l"), "actor": remote.actor_uri("longue")}
    status, _ = await remote.post(f"{island.url}/inbox", activity, name="longue")
    assert status == 401  # its key cannot be trusted: the actor cannot be stored
    assert await island.incoming() == []
    async with island.sessions() as session:
        assert await session.scalar(select(RemoteActor).where(RemoteActor.uri == remote.actor_uri("longue"))) is None


@pytest.mark.parametrize("field", ["icon", "url", "followers", "sharedInbox"])
async def test_an_overlong_optional_url_of_an_actor_is_dropped_and_the_actor_kept(island, remote, article, field):
    long_url = f"{remote.url}/" + "i" * 3_000
    values = {"icon": {"type": "Image", "url": long_url}, "url": long_url, "followers": long_url,
              "sharedInbox": None}
    if field == "sharedInbox":
        remote.add_actor("iris", shared_inbox=False, endpoints={"sharedInbox": long_url})
    else:
        remote.add_actor("iris", **{field: values[field]})
    activity = {**like(remote, article, "i"), "actor": remote.actor_uri("iris")}
    status, _ = await remote.post(f"{island.url}/users/alice/inbox", activity, name="iris")
    assert status == 202
    async with island.sessions() as session:
        actor = await session.scalar(select(RemoteActor).where(RemoteActor.uri == remote.actor_uri("iris")))
    assert actor is not None
    column = {"icon": "icon_url", "url": "url", "followers": "followers_uri", "sharedInbox": "shared_inbox"}[field]
    assert getattr(actor, column) is None


def reply(remote, article: str, suffix: str, **note_fields) -> dict:
    actor = remote.actor_uri("rosa")
    note = {"id": f"{actor}/statuses/{suffix}", "type": "Note", "attributedTo": actor, "inReplyTo": article,
            "content": "Merci !", "to": [f"{AS}#Public"], **note_fields}
    return {"@context": AS, "id": f"{actor}/statuses/{suffix}/activity", "type": "Create", "actor": actor,
            "to": note["to"], "object": note}


@pytest.mark.parametrize("shape", ["note id", "inReplyTo", "url", "name", "language"])
async def test_a_reply_with_overlong_values_is_ignored_or_cut_never_failed(island, remote, article, shape):
    """Accepted at the inbox (the activity's own id fits); the worker refuses a note whose id or
    inReplyTo cannot be stored, drops an overlong url, cuts a name or a language."""
    actor = remote.actor_uri("rosa")
    long = "w" * 3_000
    fields = {"note id": {"id": f"{actor}/statuses/{long}"}, "inReplyTo": {"inReplyTo": f"{article}/{long}"},
              "url": {"url": f"{actor}/{long}"}, "name": {"name": "N" * 3_000},
              "language": {"contentMap": {"fr" * 50: "Merci !"}}}[shape]
    activity = reply(remote, article, "r1", **fields)
    status, _ = await remote.post(f"{island.url}/users/alice/inbox", activity)
    assert status == 202

    async def settled():
        rows = await island.incoming()
        return rows if rows and rows[0].state != "received" else None

    [row] = await wait_for(settled)
    async with island.sessions() as session:
        stored = list(await session.scalars(select(StoredObject).where(StoredObject.is_local.is_(False))))
    if shape in ("note id", "inReplyTo"):
        assert row.state == "ignored", row.last_error
        assert stored == []
    else:
        assert row.state == "processed", row.last_error
        [note] = stored
        assert note.url == f"{actor}/statuses/r1" and len(note.name) <= 500 and len(note.language) <= 16
    await remote.post(f"{island.url}/inbox", like(remote, article, "after"))
    await genuine_like_is_processed(island, remote, article, "after")


async def test_a_fetched_document_with_nan_is_a_failed_fetch(island, remote):
    """The same strict parser reads documents fetched from other servers."""
    from federation.client import FetchError

    remote.add_actor("nina")
    path = "/users/nina"
    original = remote.documents[path]
    body = with_raw(original, "rating", "NaN")
    remote.documents[path] = json.loads(body.decode(), parse_constant=lambda _: float("nan"))
    with pytest.raises(FetchError, match="invalid JSON"):
        await island.directory_service.client.fetch_json(remote.actor_uri("nina"), None)


async def test_an_overlong_key_id_is_refused(island, remote, article):
    key_id = f"{remote.url}/users/rosa/" + "k" * 5_000 + "#main-key"
    status, _ = await remote.post(f"{island.url}/inbox", like(remote, article, "k"), key_id=key_id)
    assert 400 <= status < 500
    assert await island.incoming() == []


async def test_overlong_names_of_an_actor_are_cut(island, remote, article):
    remote.add_actor("nom", preferredUsername="u" * 1_000)
    remote.documents["/users/nom"]["name"] = "N" * 3_000
    activity = {**like(remote, article, "n"), "actor": remote.actor_uri("nom")}
    status, _ = await remote.post(f"{island.url}/users/alice/inbox", activity, name="nom")
    assert status == 202
    async with island.sessions() as session:
        actor = await session.scalar(select(RemoteActor).where(RemoteActor.uri == remote.actor_uri("nom")))
    assert actor.display_name == "N" * 500 and actor.username == "u" * 200
