"""Reports about content or accounts: received from other servers (a Flag), or made here by a
moderator about remote content (sent as a Flag by the federation side).

Moderators and admins hear of every received report; local authors hear of reports concerning
them or their items. The comment of a remote reporter is kept as plain text, size-limited.
"""

from __future__ import annotations

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import audit, notifications
from archipel.errors import InvalidInput, NotFound
from archipel.storage.tables import LocalActor, Report, User, utcnow
from archipel.text import html_to_text

MAX_COMMENT = 5000
MAX_OBJECTS = 20


def clean_comment(text: str) -> str:
    """Plain text (markup removed, whitespace kept simple), at most MAX_COMMENT characters."""
    return html_to_text(text or "")[:MAX_COMMENT]


async def moderators(session: AsyncSession) -> list[LocalActor]:
    return list(await session.scalars(
        select(LocalActor).join(User, User.actor_id == LocalActor.id)
        .where(User.role.in_(("moderator", "admin"))).order_by(LocalActor.id)))


async def find_by_activity(session: AsyncSession, activity_uri: str) -> Report | None:
    return await session.scalar(select(Report).where(Report.activity_uri == activity_uri))


async def receive(session: AsyncSession, *, activity_uri: str | None, reporter_uri: str,
                  target_actor_uri: str | None, object_uris: list[str], comment: str,
                  concerned: list[LocalActor]) -> Report | None:
    """Store a report from another server; None when this activity was already recorded.
    `concerned`: the local actors it is about (the reported account, authors of reported items)."""
    if activity_uri and await find_by_activity(session, activity_uri) is not None:
        return None
    report = Report(direction="received", activity_uri=activity_uri, reporter_uri=reporter_uri,
                    target_actor_uri=target_actor_uri, object_uris=list(dict.fromkeys(object_uris))[:MAX_OBJECTS],
                    content=clean_comment(comment))
    session.add(report)
    await session.flush()
    subject = target_actor_uri or (report.object_uris[0] if report.object_uris else None)
    told = set()
    for actor in [*await moderators(session), *concerned]:
        if actor.id not in told:
            told.add(actor.id)
            await notifications.notify(session, actor.id, "report", actor_uri=reporter_uri, object_uri=subject,
                                       detail=report.content[:500])
    return report


async def record_sent(session: AsyncSession, *, activity_uri: str, reporter_uri: str, target_actor_uri: str,
                      object_uris: list[str], comment: str, moderator: LocalActor | None) -> Report:
    """A report this island sent to another server (its Flag is queued in the same transaction)."""
    report = Report(direction="sent", activity_uri=activity_uri, reporter_uri=reporter_uri,
                    target_actor_uri=target_actor_uri, object_uris=object_uris,
                    content=clean_comment(comment))
    session.add(report)
    await session.flush()
    await audit.record(session, moderator=moderator, action="report_remote", subject=target_actor_uri,
                       reason=report.content[:1000], report_id=report.id, objects=object_uris)
    return report


async def get(session: AsyncSession, report_id: int) -> Report:
    report = await session.get(Report, report_id)
    if report is None:
        raise NotFound("Ce signalement n'existe pas.")
    return report


async def listing(session: AsyncSession, *, limit: int = 100) -> list[Report]:
    """Open reports first, newest first within each state."""
    open_first = case((Report.state == "open", 0), else_=1)
    return list(await session.scalars(select(Report).order_by(open_first, Report.id.desc()).limit(limit)))


async def resolve(session: AsyncSession, report: Report, *, moderator: LocalActor | None, note: str = "") -> Report:
    if report.state != "open":
        raise InvalidInput("Ce signalement a déjà été traité.")
    report.state = "resolved"
    report.resolved_by_id = moderator.id if moderator else None
    report.resolved_at = utcnow()
    await audit.record(session, moderator=moderator, action="resolve_report",
                       subject=report.target_actor_uri or report.reporter_uri,
                       reason=" ".join((note or "").split())[:1000], report_id=report.id)
    await session.flush()
    return report
