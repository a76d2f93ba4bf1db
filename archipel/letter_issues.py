"""Issues of the letter: what is new across the archipelago, and each subscriber's share of it.

One issue per ISO week (its `period` is unique: two processes cannot both open it), opened at
the island's day and hour (settings) or at once (`archipel letter --send-now`). Its subscribers'
letters are then written in bounded batches: per subscriber, a letter_deliveries row, UNIQUE
(subscriber, issue), in the same transaction as its queued mail. A crash between two batches
resumes with the subscribers who have no row yet: none is skipped, none gets two letters.
Monthly subscribers get the first issue of each month, with everything since their last letter.

`letter_items` says which new items a letter announces, `letter_events` which events coming up
it lists (archipel/agenda.py's, within EVENTS_AHEAD): together, all a letter holds.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import agenda, content, mail, search, search_totals
from archipel.letter_subscriptions import Choices, distance_km
from archipel.storage.tables import (LetterDelivery, LetterEditorial, LetterIssue, LetterSubscriber, SearchDocument,
                                     StoredObject, utcnow)

KINDS = ("fiche", "resource")  # what a letter announces (the letters themselves are articles)
MAX_ITEMS = 30                 # items in one letter, the newest first
MAX_EVENTS = 15                # events coming up in one letter, the soonest first
EVENTS_AHEAD = timedelta(weeks=6)  # how far ahead a letter looks for events
BATCH = 50                     # subscribers written per transaction
WEEK = timedelta(days=7)
MONTH = timedelta(days=31)
MAX_EDITORIAL = 5000
_KM_PER_DEGREE = 111.2
KEEP_LETTER_ROWS = timedelta(days=30)
PURGE_BATCH = 1000


# ---- what is new -------------------------------------------------------------------------------

def _search_request(choices: Choices) -> search.SearchRequest:
    """The subscriber's themes, regions and language as the search's own facets."""
    chosen = [("theme", choices.themes), ("region", choices.regions),
              ("language", (choices.language,) if choices.language else ())]
    order = {facet: position for position, facet in enumerate(search.FACETS)}
    return search.SearchRequest(chosen=tuple(sorted(((f, v) for f, v in chosen if v), key=lambda c: order[c[0]])))


def _near(choices: Choices, item: StoredObject) -> bool:
    return (item.latitude is not None and item.longitude is not None
            and distance_km(choices.latitude, choices.longitude, item.latitude, item.longitude) <= choices.radius_km)


async def letter_items(session: AsyncSession, *, since: datetime, until: datetime, choices: Choices | None = None,
                       limit: int = MAX_ITEMS) -> list[StoredObject]:
    """The items the island shows that were published in (since, until], newest first; with
    `choices`, only those matching them (themes, regions, language: the search's filters; a
    radius around a place: a box in SQL, then the exact distance)."""
    statement = (select(StoredObject).join(SearchDocument, SearchDocument.object_id == StoredObject.id)
                 .where(search_totals.shown(SearchDocument, content.followed_island_hosts()),
                        SearchDocument.kind.in_(KINDS), SearchDocument.published > since,
                        SearchDocument.published <= until)
                 .order_by(SearchDocument.published.desc(), SearchDocument.object_id.desc()))
    radius = choices is not None and choices.latitude is not None and choices.radius_km > 0
    if choices is not None:
        ids = search.matching_ids(session.bind.dialect.name, _search_request(choices))
        if ids is not None:
            statement = statement.where(StoredObject.id.in_(ids))
    if radius:
        span = choices.radius_km / _KM_PER_DEGREE
        wide = span / max(math.cos(math.radians(choices.latitude)), 0.01)
        statement = statement.where(StoredObject.latitude.between(choices.latitude - span, choices.latitude + span),
                                    StoredObject.longitude.between(choices.longitude - wide, choices.longitude + wide))
        # The corners of the box are beyond the radius: read a few more, keep those near enough.
        return [item for item in await session.scalars(statement.limit(limit * 4)) if _near(choices, item)][:limit]
    return list(await session.scalars(statement.limit(limit)))


async def letter_events(session: AsyncSession, *, after: datetime, choices: Choices | None = None,
                        limit: int = MAX_EVENTS) -> list[StoredObject]:
    """The agenda's events not over at `after` that start within EVENTS_AHEAD of it, the soonest
    first; with `choices`, those matching them as letter_items' do."""
    request = _search_request(choices) if choices is not None else None
    radius = choices is not None and choices.latitude is not None and choices.radius_km > 0
    found = await agenda.upcoming_events(session, since=after, until=after + EVENTS_AHEAD, request=request,
                                         limit=limit * 4 if radius else limit)
    if radius:  # an event online only (no position) is not near anyone
        found = [item for item in found if _near(choices, item)]
    return found[:limit]


# ---- issues ------------------------------------------------------------------------------------

def period_of(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def scheduled_at(now: datetime, weekday: int, hour: int) -> datetime:
    """This ISO week's moment for the letter (weekday 1 = Monday … 7 = Sunday, hour in UTC)."""
    monday = (now - timedelta(days=now.isoweekday() - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday + timedelta(days=weekday - 1, hours=hour)


async def last_issue(session: AsyncSession) -> LetterIssue | None:
    return await session.scalar(select(LetterIssue).order_by(LetterIssue.until.desc(), LetterIssue.id.desc()).limit(1))


async def unfinished_issue(session: AsyncSession) -> LetterIssue | None:
    return await session.scalar(select(LetterIssue).where(LetterIssue.composed_at.is_(None))
                                .order_by(LetterIssue.id).limit(1))


async def editorial(session: AsyncSession) -> LetterEditorial | None:
    return await session.scalar(select(LetterEditorial).order_by(LetterEditorial.id).limit(1))


async def set_editorial(session: AsyncSession, text: str, *, by: str) -> None:
    row = await editorial(session)
    if row is None:
        row = LetterEditorial()
        session.add(row)
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").strip()
    row.text, row.updated_at, row.updated_by = text[:MAX_EDITORIAL], utcnow(), by[:200]


@dataclass(frozen=True)
class Preview:
    """The next issue as it stands: its editorial, every new item and the events coming up,
    before anyone's choices."""
    since: datetime
    until: datetime
    editorial: str
    items: list[StoredObject]
    events: list[StoredObject]


async def preview(session: AsyncSession, now: datetime | None = None) -> Preview:
    now = now or utcnow()
    previous = await last_issue(session)
    since = previous.until if previous is not None else now - WEEK
    row = await editorial(session)
    return Preview(since, now, row.text if row else "",
                   await letter_items(session, since=since, until=now, limit=MAX_ITEMS * 4),
                   await letter_events(session, after=now, limit=MAX_EVENTS * 4))


async def has_readers_or_editorial(session: AsyncSession) -> bool:
    """Whether this week's issue is worth opening on schedule: someone confirmed, or the animators
    wrote an editorial. An island nobody reads yet publishes no weekly Article on its own (its
    first start after the week's moment would otherwise announce everything it just received)."""
    if await session.scalar(select(exists(select(LetterSubscriber.id).where(LetterSubscriber.confirmed_at.is_not(None))))):
        return True
    row = await editorial(session)
    return row is not None and bool(row.text.strip())


async def open_issue(session: AsyncSession, now: datetime) -> tuple[LetterIssue, bool]:
    """This week's issue: (the issue, True) if opened now, taking the editorial; (the existing
    one, False) if it was already (by this process or another)."""
    period = period_of(now)
    existing = await session.scalar(select(LetterIssue).where(LetterIssue.period == period))
    if existing is not None:
        return existing, False
    previous = await last_issue(session)
    row = await editorial(session)
    issue = LetterIssue(period=period, since=previous.until if previous is not None else now - WEEK, until=now,
                        monthly=previous is None or (previous.until.year, previous.until.month) != (now.year, now.month),
                        editorial=row.text if row else "", created_at=now)
    try:
        async with session.begin_nested():
            session.add(issue)
    except IntegrityError:  # another process opened it first
        return await session.scalar(select(LetterIssue).where(LetterIssue.period == period)), False
    if row is not None:
        row.text = ""  # the next issue's editorial is written anew
    return issue, True


async def issue_items(session: AsyncSession, issue: LetterIssue) -> list[StoredObject]:
    return await letter_items(session, since=issue.since, until=issue.until, limit=MAX_ITEMS * 4)


async def issue_events(session: AsyncSession, issue: LetterIssue) -> list[StoredObject]:
    return await letter_events(session, after=issue.until, limit=MAX_EVENTS * 4)


@dataclass(frozen=True)
class Letter:
    subject: str
    text: str
    html: str
    headers: dict[str, str]


# Writes one subscriber's letter from its matching items and events (never called with neither).
Compose = Callable[[AsyncSession, LetterIssue, LetterSubscriber, list[StoredObject], list[StoredObject]],
                   Awaitable[Letter]]


def _waiting(issue: LetterIssue) -> tuple:
    """Subscribers this issue has not been written for yet (a reader who confirmed since it was
    composed included: `archipel letter --send-now` writes to them too)."""
    handled = exists(select(LetterDelivery.id).where(LetterDelivery.issue_id == issue.id,
                                                     LetterDelivery.subscriber_id == LetterSubscriber.id))
    frequencies = ("weekly", "monthly") if issue.monthly else ("weekly",)
    return LetterSubscriber.confirmed_at.is_not(None), LetterSubscriber.frequency.in_(frequencies), ~handled


async def reopen_for_newcomers(session: AsyncSession, issue: LetterIssue) -> bool:
    """A composed issue taken up again when readers confirmed since it was written (for
    `--send-now`: this week's letter reaches them now rather than next week)."""
    if issue.composed_at is None:
        return True
    if not await session.scalar(select(exists(select(LetterSubscriber.id).where(*_waiting(issue))))):
        return False
    issue.composed_at = None
    await session.commit()
    return True


async def write_batch(session: AsyncSession, issue: LetterIssue, compose: Compose) -> int:
    """Queue the letters of a batch of this issue's subscribers, and commit; returns how many
    subscribers were handled (0: the issue is complete, marked so)."""
    waiting = _waiting(issue)
    subscribers = list(await session.scalars(
        select(LetterSubscriber).where(*waiting).order_by(LetterSubscriber.id).limit(BATCH)
        # PostgreSQL: two workers take different subscribers; SQLite has one writer at a time.
        .with_for_update(skip_locked=True, of=LetterSubscriber)))
    if not subscribers:
        # Complete only when nobody is left, not even a subscriber another process is writing to.
        if not await session.scalar(select(exists(select(LetterSubscriber.id).where(*waiting)))):
            issue.composed_at = utcnow()
        await session.commit()
        return 0
    try:
        for subscriber in subscribers:
            await _write_letter(session, issue, subscriber, compose)
        await session.commit()  # the rows and their mail together, or neither
    except IntegrityError:
        # Another process (`archipel letter --send-now` beside `archipel serve`) wrote some of
        # these letters first: nothing of this batch was kept; the next round takes who is left.
        await session.rollback()
        await session.refresh(issue)
    return len(subscribers)


async def _write_letter(session: AsyncSession, issue: LetterIssue, subscriber: LetterSubscriber,
                        compose: Compose) -> None:
    # From the end of their last letter (a week or a month back for a first one), never more
    # than a month back (an address that changed from monthly to weekly, a schedule moved).
    first = issue.until - (MONTH if subscriber.frequency == "monthly" else WEEK)
    since = max(subscriber.sent_until or first, issue.until - MONTH)
    choices = Choices.of(subscriber)
    items = await letter_items(session, since=since, until=issue.until, choices=choices)
    events = await letter_events(session, after=issue.until, choices=choices)
    mail_id = None
    if items or events:  # nothing matches: nothing is sent, the row only says so
        letter = await compose(session, issue, subscriber, items, events)
        queued = await mail.queue(session, to=subscriber.email, subject=letter.subject, body=letter.text,
                                  html=letter.html, headers=letter.headers)
        mail_id = queued.id
    session.add(LetterDelivery(subscriber_id=subscriber.id, issue_id=issue.id, mail_id=mail_id,
                               items=len(items) + len(events),
                               created_at=utcnow()))
    subscriber.sent_until = issue.until


async def forget_old_letters(session: AsyncSession, *, older_than: timedelta = KEEP_LETTER_ROWS,
                             limit: int = PURGE_BATCH) -> int:
    """Delete a batch of the letter rows of issues complete for a while: they are needed only
    while their issue is written (each subscriber's `sent_until` says where the next starts)."""
    ids = list(await session.scalars(
        select(LetterDelivery.id).join(LetterIssue, LetterIssue.id == LetterDelivery.issue_id)
        .where(LetterIssue.composed_at < utcnow() - older_than).limit(limit)))
    if ids:
        await session.execute(delete(LetterDelivery).where(LetterDelivery.id.in_(ids)))
    return len(ids)


async def letters_of(session: AsyncSession, issue: LetterIssue) -> int:
    """How many letters of this issue were queued (subscribers with something that matched)."""
    return await session.scalar(select(func.count()).select_from(LetterDelivery).where(
        LetterDelivery.issue_id == issue.id, LetterDelivery.mail_id.is_not(None)))


async def archive(session: AsyncSession, limit: int = 200) -> list[LetterIssue]:
    """The issues published (an empty week is neither sent nor published), newest first."""
    return list(await session.scalars(select(LetterIssue).where(LetterIssue.article_uri.is_not(None))
                                      .order_by(LetterIssue.until.desc()).limit(limit)))


async def issue_by_period(session: AsyncSession, period: str) -> LetterIssue | None:
    if len(period) > 16:
        return None
    return await session.scalar(select(LetterIssue).where(LetterIssue.period == period,
                                                          LetterIssue.article_uri.is_not(None)))
