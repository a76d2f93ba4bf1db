"""What local actors should hear of: new followers, replies, likes, boosts, reuses of their
fiches, reports concerning them, proposals to moderate.

Written in the transaction of the event itself, so a notification exists exactly when its
cause does.
"""

from __future__ import annotations

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.storage.tables import Notification, utcnow

KINDS = ("follow", "reply", "like", "boost", "reuse", "report", "proposal", "mention")


async def notify(session: AsyncSession, recipient_id: int, kind: str, *, actor_uri: str | None = None,
                 object_uri: str | None = None, detail: str = "", unless_unread: bool = False) -> None:
    """`unless_unread`: not if the recipient has the same notice (kind, actor, object) unread —
    decided in the same statement."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    values = {"recipient_id": recipient_id, "kind": kind, "actor_uri": actor_uri, "object_uri": object_uri,
              "detail": detail, "created_at": utcnow()}
    # Plain statements built once: the inbox writes many of these (archipel/storage/statements.py).
    await session.execute(_INSERT_UNLESS_UNREAD if unless_unread else _INSERT, values)


_TABLE = Notification.__table__
_COLUMNS = ("recipient_id", "kind", "actor_uri", "object_uri", "detail", "created_at")
_INSERT = insert(_TABLE)
_INSERT_UNLESS_UNREAD = insert(_TABLE).from_select(
    _COLUMNS,
    select(*(bindparam(name, type_=_TABLE.c[name].type) for name in _COLUMNS)).where(~exists().where(
        _TABLE.c.recipient_id == bindparam("recipient_id"), _TABLE.c.kind == bindparam("kind"),
        _TABLE.c.actor_uri == bindparam("actor_uri"), _TABLE.c.object_uri == bindparam("object_uri"),
        _TABLE.c.read_at.is_(None))))


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
