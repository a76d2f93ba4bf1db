"""Two real islands on loopback: follow, publish, update, withdraw, with real signatures."""

from tests.nodes import wait_for


async def test_follow_publish_update_withdraw_between_islands(make_island):
    brest = await make_island("brest")
    nantes = await make_island("nantes")
    await brest.add_user("alice")
    await nantes.add_user("bob")

    await nantes.follow("bob", brest.actor_uri("alice"))

    async def follow_accepted():
        async with nantes.sessions() as session:
            from archipel.social import find_follow
            follow = await find_follow(session, nantes.actor_uri("bob"), brest.actor_uri("alice"))
            return follow is not None and follow.state == "accepted"

    await wait_for(follow_accepted, message="Accept from brest")

    uri = await brest.publish("alice", "Les PAPI de Brest", "Des **ateliers** chaque semaine.",
                              summary="Cent points d'accès publics", tags=["Médiation numérique"])
    replica = await wait_for(lambda: nantes.object(uri), message="Create on nantes")
    assert replica.is_local is False
    assert replica.name == "Les PAPI de Brest"
    assert "<strong>ateliers</strong>" in replica.content
    assert replica.author_uri == brest.actor_uri("alice")

    await brest.update(uri, title="Les 105 PAPI de Brest")

    async def updated():
        item = await nantes.object(uri)
        return item.name == "Les 105 PAPI de Brest"

    await wait_for(updated, message="Update on nantes")

    await brest.withdraw(uri)

    async def withdrawn():
        return (await nantes.object(uri)).deleted_at is not None

    await wait_for(withdrawn, message="Delete on nantes")
    deliveries = await brest.deliveries()
    assert {d.state for d in deliveries} == {"sent"}
