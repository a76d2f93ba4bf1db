"""Keys are cached and re-fetched sparingly; outgoing fetches are bounded."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from archipel.storage.tables import RemoteActor, utcnow
from federation.client import FederationClient, FetchError
from federation.keys import generate_private_key, public_key_pem

LIKE = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Like"}


def like(remote, island, n):
    return {**LIKE, "id": f"{remote.url}/likes/{n}", "actor": remote.actor_uri("rosa"),
            "object": f"{island.url}/o/whatever"}


async def test_a_rotated_key_is_refetched_but_at_most_once_per_ten_minutes(island, remote):
    inbox = f"{island.url}/inbox"
    assert (await remote.post(inbox, like(remote, island, 1)))[0] == 202
    assert remote.fetches.count("/users/rosa") == 1

    new_key = generate_private_key()
    remote.add_actor("rosa", key_pem=public_key_pem(new_key))
    # Our cached key was fetched moments ago: a failing signature does not trigger a re-fetch.
    for n in range(2, 7):
        assert (await remote.post(inbox, like(remote, island, n), key=new_key))[0] == 401
    assert remote.fetches.count("/users/rosa") == 1

    async with island.sessions() as session:
        await session.execute(update(RemoteActor).values(fetched_at=utcnow() - timedelta(minutes=11)))
        await session.commit()
    assert (await remote.post(inbox, like(remote, island, 7), key=new_key))[0] == 202
    assert remote.fetches.count("/users/rosa") == 2
    assert (await remote.post(inbox, like(remote, island, 8), key=new_key))[0] == 202
    assert remote.fetches.count("/users/rosa") == 2  # the new key is cached


@pytest.fixture
async def client():
    client = FederationClient(allow_private=True, max_bytes=10_000, timeout=1.0)
    await client.start()
    yield client
    await client.close()


async def test_oversized_documents_are_refused(client, remote):
    remote.serve(f"{remote.url}/big", {"id": f"{remote.url}/big", "type": "Note", "content": "x" * 20_000})
    with pytest.raises(FetchError, match="limit"):
        await client.fetch_json(f"{remote.url}/big", None)


async def test_slow_servers_time_out(client, remote):
    remote.get_delay = 2.0
    with pytest.raises(FetchError, match="Timeout"):
        await client.fetch_json(remote.actor_uri("rosa"), None)


async def test_only_activitystreams_documents_are_accepted(client, remote):
    from aiohttp import web

    async def plain_json(request):
        return web.json_response({"id": "x"})

    app = web.Application()
    app.router.add_get("/plain", plain_json)
    runner = web.AppRunner(app)
    await runner.setup()
    from tests.nodes import bound_socket
    sock = bound_socket()
    await web.SockSite(runner, sock).start()
    try:
        with pytest.raises(FetchError, match="not an ActivityStreams document"):
            await client.fetch_json(f"http://127.0.0.1:{sock.getsockname()[1]}/plain", None)
    finally:
        await runner.cleanup()


async def test_concurrent_first_requests_from_a_new_actor_all_succeed(island, remote):
    """Each request fetches the unknown key; the racing inserts must not fail any of them."""
    import asyncio

    remote.get_delay = 0.2  # so that the fetches overlap
    statuses = await asyncio.gather(*(remote.post(f"{island.url}/inbox", like(remote, island, 100 + n))
                                      for n in range(6)))
    assert [status for status, _ in statuses] == [202] * 6


async def test_storing_the_same_new_actor_concurrently_never_fails(island, remote):
    import asyncio

    document = remote.documents["/users/rosa"]
    stored = await asyncio.gather(*(island.directory_service.store(document, remote.actor_uri("rosa"))
                                    for _ in range(5)))
    assert {actor.uri for actor in stored} == {remote.actor_uri("rosa")}
