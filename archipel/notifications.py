"""What local actors should hear of: new followers, replies, likes, boosts, reuses of their
fiches, reports concerning them, proposals to moderate.

Written in the transaction of the event itself, so a notification exists exactly when its
cause does.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.storage.tables import Notification, utcnow

KINDS = ("follow", "reply", "like", "boost", "reuse", "report", "proposal", "mention")


async def notify(session: AsyncSession, recipient_id: int, kind: str, *, actor_uri: str | None = None,
                 object_uri: str | None = None, detail: str = "") -> Notification:
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    notification = Notification(recipient_id=recipient_id, kind=kind, actor_uri=actor_uri,
                                object_uri=object_uri, detail=detail)
    session.add(notification)
    await session.flush()
    return notification


async def unread_count(session: AsyncSession, recipient_id: int) -> int:
    return await session.scalar(select(func.count(Notification.id)).where(
        Notification.recipient_id == recipient_id, Notification.read_at.is_(None))) or 0


async def latest(session: AsyncSession, recipient_id: int, *, limit: int = 50,
                 before_id: int | None = None) -> list[Notification]:
    query = (select(Notification).where(Notification.recipient_id == recipient_id)
             .order_by(Notification.id.desc()).limit(limit))
    if before_id:
        query = query.where(Notification.id < before_id)
    return list(await session.scalars(query))


async def mark_read(session: AsyncSession, recipient_id: int) -> None:
    await session.execute(update(Notification).where(
        Notification.recipient_id == recipient_id, Notification.read_at.is_(None)).values(read_at=utcnow()))
