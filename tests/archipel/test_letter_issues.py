"""Issues of the letter: the week's schedule, monthly subscribers only on the first issue of a
month, nothing queued for a subscriber whom nothing matches (the row says so), and the issue
marked complete once everyone is written. Both databases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update

from archipel import letter_issues
from archipel.letter_issues import Letter
from archipel.storage.tables import LetterDelivery, LetterIssue, LetterSubscriber, OutgoingMail, utcnow
from tests.map_items import place


def test_the_week_and_its_moment():
    thursday = datetime(2026, 12, 3, 10, 30, tzinfo=timezone.utc)
    assert letter_issues.period_of(thursday) == "2026-W49"
    assert letter_issues.period_of(datetime(2027, 1, 1, tzinfo=timezone.utc)) == "2026-W53"
    assert letter_issues.scheduled_at(thursday, 4, 8) == datetime(2026, 12, 3, 8, tzinfo=timezone.utc)
    assert letter_issues.scheduled_at(thursday, 1, 0) == datetime(2026, 11, 30, tzinfo=timezone.utc)
    assert letter_issues.scheduled_at(thursday, 7, 23) == datetime(2026, 12, 6, 23, tzinfo=timezone.utc)


async def compose(session, issue, subscriber, items, events) -> Letter:
    return Letter("Sujet", "\n".join(item.name for item in items), "", {})


def reader(email: str, **choices) -> LetterSubscriber:
    values = dict(themes=[], regions=[], place="", radius_km=0, language="", frequency="weekly",
                  confirmed_at=utcnow())
    return LetterSubscriber(email=email, token=email.split("@")[0].ljust(24, "x"), **{**values, **choices})


async def test_monthly_readers_wait_for_the_month_and_no_match_sends_nothing(make_island):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")
    await place(node, "alice", "Fiche de jardin", 48.39, -4.49, tags=["Jardins"])
    async with node.sessions() as session:
        now = utcnow()
        # Last week's issue, this month: this one is not the month's first.
        session.add(LetterIssue(period="2000-W01", since=now - timedelta(days=8), until=now - timedelta(minutes=5),
                                monthly=True, editorial="", composed_at=now))
        session.add_all([reader("weekly@example.org"), reader("monthly@example.org", frequency="monthly"),
                         reader("elsewhere@example.org", themes=["cuisine"]),
                         reader("unconfirmed@example.org", confirmed_at=None)])
        await session.commit()
        issue, opened = await letter_issues.open_issue(session, utcnow())
        await session.commit()
        same, again = await letter_issues.open_issue(session, utcnow())
        assert opened and not again and same.id == issue.id
        if (now - timedelta(minutes=5)).month != now.month:  # the first minutes of a month
            return
        assert issue.monthly is False
        while await letter_issues.write_batch(session, issue, compose):
            pass
        rows = {email: (mail_id, items) for email, mail_id, items in await session.execute(
            select(LetterSubscriber.email, LetterDelivery.mail_id, LetterDelivery.items)
            .join(LetterDelivery, LetterDelivery.subscriber_id == LetterSubscriber.id))}
        assert set(rows) == {"weekly@example.org", "elsewhere@example.org"}
        assert rows["elsewhere@example.org"] == (None, 0)
        mail = await session.get(OutgoingMail, rows["weekly@example.org"][0])
        assert mail.to_address == "weekly@example.org" and mail.body == "Fiche de jardin"
        assert (await session.get(LetterIssue, issue.id)).composed_at is not None
        # A month later, the rows of a complete issue are no longer needed: forgotten.
        assert await letter_issues.forget_old_letters(session) == 0
        await session.execute(update(LetterIssue).where(LetterIssue.id == issue.id)
                              .values(composed_at=utcnow() - timedelta(days=31)))
        assert await letter_issues.forget_old_letters(session, limit=1) == 1
        assert await letter_issues.forget_old_letters(session) == 1
        assert await session.scalar(select(func.count()).select_from(LetterDelivery)) == 0
