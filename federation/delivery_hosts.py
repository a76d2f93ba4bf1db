"""What an admin sees and decides about the servers deliveries go to: which ones fail, since
when and with what error; « retry now » and « stop delivering » (the admins' page and
`archipel deliveries`).

Stopping a server pauses it without end: nothing is sent there, what was waiting is abandoned,
and what is queued later waits, unsent, until an admin resumes it. Resuming (« retry now »)
lifts any pause and makes its waiting deliveries due at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import audit
from archipel.queue_states import DeliveryStates
from archipel.storage.tables import Delivery, HostHealth, LocalActor, utcnow

# A pause that never ends, within what both databases store.
STOPPED_UNTIL = datetime(9999, 1, 1, tzinfo=timezone.utc)
MAX_HOSTS = 500


@dataclass(frozen=True)
class HostState:
    host: str
    failures: int  # in a row
    last_error: str | None
    last_failure_at: datetime | None
    last_success_at: datetime | None
    paused_until: datetime | None
    waiting: int  # deliveries pending for it

    @property
    def stopped(self) -> bool:
        return self.paused_until is not None and self.paused_until >= STOPPED_UNTIL


async def failing(session: AsyncSession, limit: int = MAX_HOSTS) -> list[HostState]:
    """Servers failing now (a failure since their last success) or stopped, most failures first."""
    rows = list(await session.scalars(
        select(HostHealth).where(or_(HostHealth.consecutive_failures > 0, HostHealth.paused_until.is_not(None)))
        .order_by(HostHealth.consecutive_failures.desc(), HostHealth.host).limit(limit)))
    waiting = dict((await session.execute(
        select(Delivery.host, func.count()).where(Delivery.state == DeliveryStates.PENDING,
                                                  Delivery.host.in_([row.host for row in rows]))
        .group_by(Delivery.host))).all()) if rows else {}
    return [HostState(row.host, row.consecutive_failures, row.last_error, row.last_failure_at, row.last_success_at,
                      row.paused_until, waiting.get(row.host, 0)) for row in rows]


class UnknownHost(LookupError):
    pass


async def _health(session: AsyncSession, host: str) -> HostHealth:
    health = await session.get(HostHealth, host)
    if health is None:
        if await session.scalar(select(Delivery.id).where(Delivery.host == host).limit(1)) is None:
            raise UnknownHost(host)
        health = HostHealth(host=host, consecutive_failures=0)
        session.add(health)
    return health


async def retry_now(session: AsyncSession, host: str, *, admin: LocalActor | None) -> int:
    """Lift the pause (or the stop) and make the server's waiting deliveries due now; returns
    how many. The caller commits."""
    health = await _health(session, host)
    was_stopped = health.paused_until is not None and health.paused_until >= STOPPED_UNTIL
    health.paused_until = None
    result = await session.execute(update(Delivery).where(Delivery.host == host, Delivery.state == DeliveryStates.PENDING)
                                   .values(next_try_at=utcnow()))
    if was_stopped:
        await audit.record(session, moderator=admin, action="resume_deliveries", subject=host)
    return result.rowcount or 0


async def stop(session: AsyncSession, host: str, *, admin: LocalActor | None, reason: str = "") -> int:
    """Send nothing more to the server until resumed; what waited is abandoned (returns how
    many). The caller commits."""
    health = await _health(session, host)
    health.paused_until = STOPPED_UNTIL
    result = await session.execute(
        update(Delivery).where(Delivery.host == host, Delivery.state == DeliveryStates.PENDING)
        .values(state=DeliveryStates.GAVE_UP, finished_at=utcnow(), last_error="stopped by an admin"))
    await audit.record(session, moderator=admin, action="stop_deliveries", subject=host, reason=reason)
    return result.rowcount or 0
