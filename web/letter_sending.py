"""The letter's loop on the island's own worker (no system cron): unconfirmed subscriptions
expire, the letter rows of old issues go; at the island's day and hour this week's issue opens — and is published as an Article
from the island's actor, in the same transaction, so that its followers (Mastodon's included)
get it —; then its subscribers' letters are queued in batches (archipel/letter_issues.py), and
the mail worker sends them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from archipel import letter_issues, letter_subscriptions
from archipel.accounts import island_actor
from archipel.storage.tables import LetterIssue, utcnow
from federation import actions
from web import i18n
from web.letter_mail import LetterMail, issue_title, letter_events, letter_items

log = logging.getLogger(__name__)


def article_source(lang_title: str, issue: LetterIssue, items, events=()) -> str:
    """The issue as Markdown for its Article: the editorial, every new item with its link, then
    the events coming up with their dates."""
    lines = [issue.editorial.strip(), ""] if issue.editorial.strip() else []
    for item in items:
        title = item.title.replace("[", "(").replace("]", ")")
        lines.append(f"- [{title}]({item.link}) — {item.island}" + (f"\u00a0: {item.pitch}" if item.pitch else ""))
    if events:
        coming_up = i18n.gettext("fr", "À venir dans l'archipel")
        lines += ["", f"**{coming_up}**", ""]
        for event in events:
            title = event.title.replace("[", "(").replace("]", ")")
            lines.append(f"- [{title}]({event.link}) — {event.when}" + (f", {event.place}" if event.place else ""))
    return "\n".join(lines).strip() or lang_title


class LetterSender:
    def __init__(self, sessions: async_sessionmaker, settings, mails: LetterMail,
                 on_queued: Callable[[], None] = lambda: None):
        self.sessions = sessions
        self.settings = settings
        self.mails = mails
        self.on_queued = on_queued

    async def run_once(self) -> int:
        """One round: expiries, then a batch of the issue under way or due. Returns the work done
        (0: nothing until the next poll)."""
        async with self.sessions() as session:
            done = await letter_subscriptions.expire_unconfirmed(session)
            done += await letter_issues.forget_old_letters(session)
            await session.commit()
            issue = await letter_issues.unfinished_issue(session)
            if issue is None and self._due() and await letter_issues.has_readers_or_editorial(session):
                issue = await self._open(session)
            if issue is not None:
                done += await self._batch(session, issue)
        return done

    def _due(self) -> bool:
        weekday, hour = self.settings.letter_weekday, self.settings.letter_hour
        now = utcnow()
        return 1 <= weekday <= 7 and now >= letter_issues.scheduled_at(now, weekday, hour)

    async def _open(self, session: AsyncSession) -> LetterIssue | None:
        """This week's issue, opened and published now; None if it was already sent."""
        issue, opened = await letter_issues.open_issue(session, utcnow())
        if opened:
            await self._publish(session, issue)
            await session.commit()
            log.info("letter issue %s opened", issue.period)
        return issue if issue.composed_at is None else None

    async def _publish(self, session: AsyncSession, issue: LetterIssue) -> None:
        items = await letter_issues.issue_items(session, issue)
        events = await letter_issues.issue_events(session, issue)
        if not items and not events and not issue.editorial.strip():
            return  # an empty issue goes to nobody, and is not published either
        shown = await letter_items(session, self.settings.url, self.settings.name, items)
        coming = await letter_events(session, self.settings.url, self.settings.name, events, "fr")
        title = issue_title("fr", self.settings.name, issue)
        island = await island_actor(session)
        article = await actions.publish_article(session, self.settings.url, island, title=title,
                                                source=article_source(title, issue, shown, coming), language="fr")
        issue.article_uri = article.uri
        self.on_queued()

    async def _batch(self, session: AsyncSession, issue: LetterIssue) -> int:
        handled = await letter_issues.write_batch(session, issue, self.mails.compose)
        if handled:
            self.on_queued()
        else:
            log.info("letter issue %s: every letter queued", issue.period)
        return handled

    async def send_now(self) -> LetterIssue | None:
        """Open this week's issue if it is not yet, and queue every letter due, at once."""
        async with self.sessions() as session:
            issue = await letter_issues.unfinished_issue(session) or await self._open(session)
            if issue is None:  # this week's was written: to the readers who confirmed since, if any
                issue = await letter_issues.issue_by_period(session, letter_issues.period_of(utcnow()))
                if issue is None or not await letter_issues.reopen_for_newcomers(session, issue):
                    return None
            while await self._batch(session, issue):
                pass
            return issue
