"""What local actors should hear of: new followers, replies, likes, boosts, reuses of their
fiches, reports concerning them, proposals to moderate.

Written in the transaction of the event itself, so a notification exists exactly when its
cause does. The inbox worker, which handles many activities per transaction, has them written
together at the end of it (`defer`): one statement for the batch instead of one per notice.
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
    deferred = session.info.get(_DEFERRED)
    if deferred is not None:
        deferred.append((unless_unread, values))
        return
    # Plain statements built once: the inbox writes many of these (archipel/storage/statements.py).
    await session.execute(_INSERT_UNLESS_UNREAD if unless_unread else _INSERT, values)


def defer(session: AsyncSession) -> None:
    """From now on the session's notices wait for `write_deferred`, to be written in two
    statements: the plain ones, then those `unless_unread` (only follows are: they never look
    for a plain one). Nothing else in the transaction may read them before."""
    session.info[_DEFERRED] = []


def deferred_mark(session: AsyncSession) -> int:
    """Where the deferred notices stand, to forget those that come after if a savepoint rolls back."""
    return len(session.info[_DEFERRED])


def forget_deferred(session: AsyncSession, mark: int) -> None:
    del session.info[_DEFERRED][mark:]


async def write_deferred(session: AsyncSession) -> None:
    deferred, session.info[_DEFERRED] = session.info[_DEFERRED], []
    for unless_unread, statement in ((False, _INSERT), (True, _INSERT_UNLESS_UNREAD)):
        # executemany runs its rows one after the other: two repeats of a follow in one batch
        # give one unread notice, as they would written one at a time.
        rows = [values for condition, values in deferred if condition is unless_unread]
        if rows:
            await session.execute(statement, rows)


_DEFERRED = "deferred notifications"
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
