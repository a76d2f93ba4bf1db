"""Who follows whom, and what others did with our items (likes, boosts).

Actors are named by URI on both sides so that local and remote actors are handled alike.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.bounds import require_uri
from archipel.storage.statements import prepared
from archipel.storage.tables import Follow, Interaction, StoredObject, utcnow


def _require_uris(*uris: str) -> None:
    """Ids too long for their column are refused (OutOfBounds), the same on both databases."""
    for uri in uris:
        require_uri(uri)


async def find_follow(session: AsyncSession, follower_uri: str, followed_uri: str) -> Follow | None:
    return await session.scalar(
        select(Follow).where(Follow.follower_uri == follower_uri, Follow.followed_uri == followed_uri)
    )


def _insert(session: AsyncSession):
    return postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


async def record_follow(
    session: AsyncSession, *, follower_uri: str, followed_uri: str, activity_uri: str, state: str
) -> Follow:
    """Create or refresh a follow; a repeated Follow keeps one row (with the newest activity id)."""
    follow, _previous = await upsert_follow(session, follower_uri=follower_uri, followed_uri=followed_uri,
                                            activity_uri=activity_uri, state=state)
    return follow


async def upsert_follow(
    session: AsyncSession, *, follower_uri: str, followed_uri: str, activity_uri: str, state: str
) -> tuple[Follow, str | None]:
    """The one row of a follow, and its state before this call (None: it is new).

    Inserted with ON CONFLICT DO NOTHING on the (follower, followed) pair, then read locked
    (PostgreSQL; SQLite has one writer): a flood of Follows processed at once ends with one
    row, and each caller sees what the one before it did."""
    _require_uris(follower_uri, followed_uri, activity_uri)
    now = utcnow()
    created = await session.scalar(_insert_follow(session), {
        "follower_uri": follower_uri, "followed_uri": followed_uri, "activity_uri": activity_uri,
        "state": state, "created_at": now, "accepted_at": now if state == "accepted" else None})
    if created is not None:
        return created, None
    follow = await session.scalar(
        select(Follow).where(Follow.follower_uri == follower_uri, Follow.followed_uri == followed_uri)
        .with_for_update().execution_options(populate_existing=True))
    previous = follow.state
    follow.activity_uri = activity_uri
    if follow.state != "accepted" or state != "pending":
        follow.state = state
    if state == "accepted" and follow.accepted_at is None:
        follow.accepted_at = now
    await session.flush()
    return follow, previous


@prepared
def _insert_follow(insert):
    return (insert(Follow).on_conflict_do_nothing(index_elements=["follower_uri", "followed_uri"])
            .returning(Follow))


async def set_follow_state(session: AsyncSession, follow: Follow, state: str) -> Follow:
    follow.state = state
    if state == "accepted":
        follow.accepted_at = follow.accepted_at or utcnow()
    await session.flush()
    return follow


async def remove_follow(session: AsyncSession, follower_uri: str, followed_uri: str) -> bool:
    result = await session.execute(
        delete(Follow).where(Follow.follower_uri == follower_uri, Follow.followed_uri == followed_uri)
    )
    return result.rowcount > 0


async def follower_uris(session: AsyncSession, followed_uri: str) -> list[str]:
    rows = await session.scalars(
        select(Follow.follower_uri)
        .where(Follow.followed_uri == followed_uri, Follow.state == "accepted")
        .order_by(Follow.id)
    )
    return list(rows)


async def count_follows(session: AsyncSession, *, followed_uri=None, follower_uri=None) -> int:
    query = select(func.count(Follow.id)).where(Follow.state == "accepted")
    if followed_uri:
        query = query.where(Follow.followed_uri == followed_uri)
    if follower_uri:
        query = query.where(Follow.follower_uri == follower_uri)
    return await session.scalar(query) or 0


async def record_interaction(
    session: AsyncSession, *, kind: str, activity_uri: str, actor_uri: str, object_uri: str
) -> bool:
    """Store a Like or Announce once per (kind, actor, object); False if it was already known.

    ON CONFLICT DO NOTHING on either unique key (the activity id; the kind, actor and object):
    a flood of Likes of one item by one actor, even processed at once, is one row."""
    _require_uris(activity_uri, actor_uri, object_uri)
    new_id = await session.scalar(_insert_interaction(session), {
        "type": kind, "activity_uri": activity_uri, "actor_uri": actor_uri, "object_uri": object_uri,
        "created_at": utcnow()})
    return new_id is not None


@prepared
def _insert_interaction(insert):
    table = Interaction.__table__
    return insert(table).on_conflict_do_nothing().returning(table.c.id)


async def remove_interaction(
    session: AsyncSession, *, kind: str, actor_uri: str, activity_uri: str | None, object_uri: str | None
) -> bool:
    """Undo: by activity id when given, else by (kind, actor, object). Only the actor's own rows."""
    query = delete(Interaction).where(Interaction.type == kind, Interaction.actor_uri == actor_uri)
    if activity_uri:
        by_id = await session.execute(query.where(Interaction.activity_uri == activity_uri))
        if by_id.rowcount:
            return True
    if object_uri:
        by_object = await session.execute(query.where(Interaction.object_uri == object_uri))
        return by_object.rowcount > 0
    return False


async def interaction_counts(session: AsyncSession, object_uri: str) -> dict[str, int]:
    rows = await session.execute(
        select(Interaction.type, func.count(Interaction.id))
        .where(Interaction.object_uri == object_uri)
        .group_by(Interaction.type)
    )
    counts = {"Like": 0, "Announce": 0}
    counts.update({kind: n for kind, n in rows})
    counts["replies"] = await session.scalar(
        select(func.count(StoredObject.id)).where(
            StoredObject.in_reply_to == object_uri, StoredObject.deleted_at.is_(None)
        )
    ) or 0
    return counts
