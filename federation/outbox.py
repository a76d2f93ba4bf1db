"""Queue an activity for delivery in the caller's transaction (transactional outbox).

The domain change and its delivery rows commit together or not at all, so a crash can never
leave a published item that nobody will hear of, nor a delivery of something that was rolled back.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.queue_states import DeliveryStates
from archipel import read_cache
from archipel.blocks import uri_matches
from archipel.storage.tables import Block, Delivery, Follow, LocalActor, OutgoingActivity, RemoteActor, utcnow
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
) -> None:
    """Record the activity (it appears in the outbox if public) and one delivery per inbox;
    an inbox that moderators blocked gets nothing (read from the table, so a command run in
    another process than the server's obeys the same rules)."""
    # Plain INSERTs built once (archipel/storage/statements.py): the inbox answers every Follow.
    # They do not flush the session by themselves: the caller's changes go first.
    await session.flush()
    now = utcnow()
    outgoing_id = await session.scalar(_INSERT_OUTGOING, {
        "activity_uri": activity["id"], "activity_type": activity["type"], "actor_id": actor.id,
        "object_uri": id_of(activity.get("object")), "public": public, "payload": activity, "created_at": now})

    async def blocks() -> list:
        return (await session.execute(select(Block.kind, Block.target).where(Block.severity == "block"))).all()
    blocked = await read_cache.remembered(session, "blocks", blocks, keep=lambda _: True)
    deliveries = [{"outgoing_id": outgoing_id, "inbox_url": inbox, "host": host_of(inbox), "state": DeliveryStates.PENDING,
                   "attempts": 0, "next_try_at": now, "created_at": now}
                  for inbox in dict.fromkeys(inboxes)  # keeps order, drops repeats
                  if not any(uri_matches(inbox, kind, target) for kind, target in blocked)]
    if deliveries:
        await session.execute(_INSERT_DELIVERY, deliveries)


_INSERT_OUTGOING = insert(OutgoingActivity.__table__).returning(OutgoingActivity.__table__.c.id)
_INSERT_DELIVERY = insert(Delivery.__table__)
