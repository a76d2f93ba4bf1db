"""Following one island is enough: the island re-shares what its members publish."""

from tests.flows.test_fiches import publish_file, snapshot_of
from tests.nodes import island_follows, wait_for


async def test_an_island_that_follows_another_receives_its_members_items(make_island, remote):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await island_follows(nantes, brest)
    uri = await publish_file(brest, "papi-brest.md", "alice")
    await wait_for(lambda: snapshot_of(nantes, uri), message="the re-shared fiche on nantes")
    original, authors, _ = await snapshot_of(brest, uri)
    replica, replica_authors, _ = await snapshot_of(nantes, uri)
    assert replica == original and replica_authors == authors

    # Updates and withdrawals reach the island's followers too, though they never followed alice.
    await brest.update(uri, title="Les PAPI, mis à jour")

    async def updated():
        snapshot = await snapshot_of(nantes, uri)
        return snapshot[0]["name"] == "Les PAPI, mis à jour"

    await wait_for(updated, message="the update on nantes")
    await brest.withdraw(uri)

    async def withdrawn():
        return (await snapshot_of(nantes, uri))[2].deleted_at is not None

    await wait_for(withdrawn, message="the withdrawal on nantes")


async def test_the_reshare_is_an_announce_of_the_object_as_mastodon_expects(make_island, remote):
    brest = await make_island("brest")
    await brest.add_user("alice")
    status, _ = await remote.post(f"{brest.url}/users/{brest.island_username}/inbox", {
        "@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.url}/follows/island",
        "type": "Follow", "actor": remote.actor_uri("rosa"), "object": brest.actor_uri(brest.island_username)})
    assert status == 202
    await wait_for(lambda: remote.received_of_type("Accept"), message="Accept")
    uri = await publish_file(brest, "papi-brest.md", "alice")
    [announce] = await wait_for(lambda: remote.received_of_type("Announce"), message="the Announce")
    island = brest.actor_uri(brest.island_username)
    assert announce["object"] == uri and announce["actor"] == island
    assert announce["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert announce["cc"] == [f"{island}/followers"] and announce["audience"] == island
    assert remote.received_of_type("Create") == []  # rosa follows the island, not alice


async def test_group_followers_also_get_the_fep_1b12_form(make_island, remote):
    brest = await make_island("brest")
    await brest.add_user("alice")
    group = remote.add_actor("ile-x", type="Group")
    status, _ = await remote.post(f"{brest.url}/users/{brest.island_username}/inbox", {
        "@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.url}/follows/group",
        "type": "Follow", "actor": group, "object": brest.actor_uri(brest.island_username)}, name="ile-x")
    assert status == 202
    await wait_for(lambda: remote.received_of_type("Accept"), message="Accept")
    uri = await publish_file(brest, "papi-brest.md", "alice")
    announces = await wait_for(lambda: len(remote.received_of_type("Announce")) == 2
                               and remote.received_of_type("Announce"), message="both Announce forms")
    island = brest.actor_uri(brest.island_username)
    by_form = {isinstance(a["object"], dict): a for a in announces}
    assert by_form[False]["object"] == uri
    wrapped = by_form[True]
    assert wrapped["object"]["type"] == "Create" and wrapped["object"]["object"]["id"] == uri
    assert wrapped["audience"] == island and wrapped["actor"] == island
    assert all(entry["verified"] for entry in remote.received)
