"""The moderation log: every decision (a proposal accepted or refused, a block, a hidden reply,
a report sent or resolved) is written here in the transaction that makes it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.storage.tables import LocalActor, ModerationEntry


async def record(session: AsyncSession, *, moderator: LocalActor | None, action: str, subject: str,
                 reason: str = "", **details) -> ModerationEntry:
    """`moderator` None means the island itself (an automatic decision)."""
    entry = ModerationEntry(moderator_id=moderator.id if moderator else None, action=action,
                            subject=subject[:2000], reason=reason, details=details)
    session.add(entry)
    await session.flush()
    return entry


async def recent(session: AsyncSession, *, limit: int = 100, before_id: int | None = None) -> list[ModerationEntry]:
    query = select(ModerationEntry).order_by(ModerationEntry.id.desc()).limit(limit)
    if before_id:
        query = query.where(ModerationEntry.id < before_id)
    return list(await session.scalars(query))
