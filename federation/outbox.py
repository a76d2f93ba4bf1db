"""Queue an activity for delivery in the caller's transaction (transactional outbox).

The domain change and its delivery rows commit together or not at all, so a crash can never
leave a published item that nobody will hear of, nor a delivery of something that was rolled back.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import read_cache
from archipel.blocks import uri_matches
from archipel.storage.tables import Block, Delivery, Follow, LocalActor, OutgoingActivity, RemoteActor
from federation.as2 import host_of, id_of


async def follower_inboxes(session: AsyncSession, followed_uri: str,
                           actor_types: tuple[str, ...] | None = None) -> list[str]:
    """One inbox per follower, shared inboxes merged: one POST per server, not per follower."""
    query = (select(func.coalesce(RemoteActor.shared_inbox, RemoteActor.inbox))
             .join(Follow, Follow.follower_uri == RemoteActor.uri)
             .where(Follow.followed_uri == followed_uri, Follow.state == "accepted"))
    if actor_types:
        query = query.where(RemoteActor.type.in_(actor_types))
    rows = await session.execute(query)
    return sorted({inbox for (inbox,) in rows if inbox})


async def enqueue(
    session: AsyncSession,
    *,
    actor: LocalActor,
    activity: dict,
    inboxes: list[str],
    public: bool = True,
) -> OutgoingActivity:
    """Record the activity (it appears in the outbox if public) and one delivery per inbox;
    an inbox that moderators blocked gets nothing (read from the table, so a command run in
    another process than the server's obeys the same rules)."""
    outgoing = OutgoingActivity(
        activity_uri=activity["id"],
        activity_type=activity["type"],
        actor_id=actor.id,
        object_uri=id_of(activity.get("object")),
        public=public,
        payload=activity,
    )
    session.add(outgoing)
    await session.flush()
    async def blocks() -> list:
        return (await session.execute(select(Block.kind, Block.target).where(Block.severity == "block"))).all()
    blocked = await read_cache.remembered(session, "blocks", blocks, keep=lambda _: True)
    for inbox in dict.fromkeys(inboxes):  # keeps order, drops repeats
        if any(uri_matches(inbox, kind, target) for kind, target in blocked):
            continue
        session.add(Delivery(outgoing_id=outgoing.id, inbox_url=inbox, host=host_of(inbox)))
    await session.flush()
    return outgoing
