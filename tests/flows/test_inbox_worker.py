"""The inbox worker settles every stored activity: processed, ignored or failed, never stuck."""

from tests.nodes import wait_for


async def _settled(island, activity_id):
    for row in await island.incoming():
        if row.payload.get("id") == activity_id and row.state != "received":
            return row
    return None


async def test_an_activity_we_have_no_use_for_ends_ignored_with_its_reason(island, remote):
    activity_id = f"{remote.url}/likes/1"
    status, _ = await remote.post(f"{island.url}/inbox", {
        "@context": "https://www.w3.org/ns/activitystreams", "id": activity_id, "type": "Like",
        "actor": remote.actor_uri("rosa"), "object": "http://127.0.0.9/notes/not-ours"})
    assert status == 202
    row = await wait_for(lambda: _settled(island, activity_id), message="the Like to be settled")
    assert row.state == "ignored" and "not ours" in row.last_error


async def test_an_unknown_activity_type_is_ignored_not_failed(island, remote):
    activity_id = f"{remote.url}/acts/1"
    status, _ = await remote.post(f"{island.url}/inbox", {
        "@context": "https://www.w3.org/ns/activitystreams", "id": activity_id, "type": "Move",
        "actor": remote.actor_uri("rosa"), "object": remote.actor_uri("rosa"),
        "target": "http://127.0.0.9/users/rosa"})
    assert status == 202
    row = await wait_for(lambda: _settled(island, activity_id), message="the Move to be settled")
    assert row.state == "ignored" and "no handler" in row.last_error
