"""A server whose activities pile up waiting gets 429 with Retry-After; the others do not, and a
server relaying copies in others' names fills only its own share (federation/inbox_backlog.py)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from federation import signatures
from tests.flows.test_inbox_fairness import like, other_servers, worker_of  # noqa: F401

LIMIT = 5


@pytest.fixture
async def full_island(make_island):
    """An island that stores without processing, with a small backlog limit."""
    node = await make_island("brest", workers=False, inbox_backlog_per_server=LIMIT)
    await node.add_user("alice")
    return node


async def post(remote, inbox: str, activity: dict, name: str) -> tuple[int, str | None]:
    """A signed POST as `name` of `remote`: (status, Retry-After)."""
    body = json.dumps(activity).encode()
    headers = signatures.sign_request("POST", inbox, f"{remote.actor_uri(name)}#main-key", remote.private_key,
                                      body=body, content_type="application/activity+json")
    async with aiohttp.ClientSession() as http:
        async with http.post(inbox, data=body, headers=headers) as response:
            return response.status, response.headers.get("Retry-After")


async def test_a_server_over_its_backlog_waits_and_the_others_do_not(full_island, remote, other_servers):
    island, inbox = full_island, f"{full_island.url}/inbox"
    article = await island.publish("alice", "Une fiche")
    names = [f"a{n}" for n in range(3 * LIMIT)]
    for name in names:
        remote.add_actor(name)
    answers = [await post(remote, inbox, like(remote, name, 1, article), name) for name in names]
    # The first LIMIT are taken; once the limit is reached the table is looked at and the rest wait.
    assert [status for status, _ in answers[:LIMIT]] == [202] * LIMIT
    assert set(answers[2 * LIMIT:]) == {(429, "60")}, answers
    other = await other_servers("bea")
    assert (await post(other, inbox, like(other, "bea", 1, article), "bea"))[0] == 202

    # The worker catches up: the server is heard again (after the one-second recheck).
    while await worker_of(island).run_once():
        pass
    await asyncio.sleep(1.1)
    late = like(remote, names[-1], 2, article)
    assert (await post(remote, inbox, late, names[-1]))[0] == 202


async def test_copies_relayed_in_others_names_count_against_the_relay(full_island, remote, other_servers):
    island, inbox = full_island, f"{full_island.url}/inbox"
    article = await island.publish("alice", "Une fiche")
    victim = await other_servers("bea")
    for n in range(3 * LIMIT):  # signed by rosa's server, in the name of the victim server's actor
        status, _ = await post(remote, inbox, like(victim, "bea", n, article), "rosa")
        assert status in (202, 429)
    rows = await island.incoming()
    assert rows and {row.actor_host for row in rows} == {remote.url.split("//")[1]}
    assert (await post(victim, inbox, like(victim, "bea", 99, article), "bea"))[0] == 202
