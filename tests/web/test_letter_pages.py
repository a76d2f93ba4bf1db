"""The letter's pages under hostile or unlucky use: no address enumeration, a rate limit, a
honeypot, choices checked and bounded, links that do nothing by being opened, expiry of
unconfirmed addresses, and a mail queue that refuses headers it does not know."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from archipel import letter_issues, letter_subscriptions, mail
from archipel.storage.tables import LetterDelivery, LetterIssue, LetterSubscriber, OutgoingMail, utcnow
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like, hidden_csrf
from web.routes import letter as letter_routes

ADDRESS = "lea@example.org"


async def post_form(http, node, path: str = "/lettre", **fields) -> tuple[int, str]:
    async with http.get(f"{node.url}{path}") as response:
        token = hidden_csrf(await response.text())
    async with http.post(f"{node.url}{path}", data={"csrf_token": token, **fields}) as response:
        return response.status, await response.text()


async def subscriber(node, email: str = ADDRESS) -> LetterSubscriber | None:
    async with node.sessions() as session:
        return await session.scalar(select(LetterSubscriber).where(LetterSubscriber.email == email))


async def mails(node) -> list[OutgoingMail]:
    async with node.sessions() as session:
        return list(await session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))


def visible(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


async def test_the_same_answer_whatever_the_address_and_a_reminder_to_a_subscribed_one(make_island):
    node = await make_island("brest", workers=False)
    async with browser_like() as http:
        status, first = await post_form(http, node, email=ADDRESS, frequency="weekly")
        await confirm(node)
        status_again, again = await post_form(http, node, email=ADDRESS, frequency="monthly")
        _, stranger = await post_form(http, node, email="nobody@example.org", frequency="weekly")
    assert status == status_again == 200
    assert visible(first) == visible(again) == visible(stranger)
    assert ADDRESS not in first + again
    confirmation, reminder, _ = await mails(node)
    assert "/confirmer" in confirmation.body and "/confirmer" not in reminder.body
    assert "/desabonnement" in reminder.body
    assert (await subscriber(node)).frequency == "weekly"  # a stranger cannot change the choices


async def confirm(node, email: str = ADDRESS) -> None:
    async with node.sessions() as session:
        await letter_subscriptions.confirm(session, (await subscriber(node, email)).token)
        await session.commit()


async def test_bad_choices_are_refused_with_nothing_written(make_island):
    node = await make_island("brest", workers=False)
    cases = [dict(email="pas une adresse"), dict(email="a@b.c\r\nBcc: x@y.z"), dict(email="x" * 300 + "@ex.org"),
             dict(email=ADDRESS, place="Zzzyxville"), dict(email=ADDRESS, place="Brest", radius="0"),
             dict(email=ADDRESS, place="Brest", radius="99999999999999999999"),
             dict(email=ADDRESS, region="Atlantide"), dict(email=ADDRESS, language="xx"),
             dict(email=ADDRESS, frequency="daily")]
    async with browser_like() as http:
        for case in cases:
            status, page = await post_form(http, node, **{"frequency": "weekly", **case})
            assert status == 400, case
            assert 'role="alert"' in page
        # A NUL: the form is refused before it reaches the page (web/params.py).
        status, _ = await post_form(http, node, email=ADDRESS, place="Brest\x00", radius="10", frequency="weekly")
        assert status == 400
        status, _ = await post_form(http, node, email=ADDRESS, frequency="weekly",
                                    **{letter_routes.HONEYPOT: "http://spam.example"})
        assert status == 200
    async with node.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(LetterSubscriber)) == 0
        assert await session.scalar(select(func.count()).select_from(OutgoingMail)) == 0


async def test_a_place_and_radius_or_regions_themes_bounded(make_island):
    node = await make_island("brest", workers=False)
    async with browser_like() as http:
        status, _ = await post_form(http, node, email=ADDRESS, place="brest", radius="25", frequency="monthly",
                                    language="br", region="Bretagne")
        assert status == 200
        row = await subscriber(node)
        assert (row.place, row.radius_km, row.language, row.frequency) == ("Brest", 25, "br", "monthly")
        assert abs(row.latitude - 48.39) < 0.1 and row.regions == []  # the place wins over regions
        fields = [("csrf_token", "")] + [("theme", f"theme {n}") for n in range(21)]
        async with http.get(f"{node.url}/lettre") as response:
            fields[0] = ("csrf_token", hidden_csrf(await response.text()))
        async with http.post(f"{node.url}/lettre", data=fields + [("email", "b@example.org")]) as response:
            assert response.status == 400


async def test_the_rate_limit_per_client(make_island):
    node = await make_island("brest", workers=False)
    async with browser_like() as http:
        statuses = [(await post_form(http, node, email=f"r{n}@example.org", frequency="weekly"))[0]
                    for n in range(letter_routes.SUBSCRIPTIONS_PER_HOUR + 1)]
    assert statuses[:-1] == [200] * letter_routes.SUBSCRIPTIONS_PER_HOUR and statuses[-1] == 429
    assert len(await mails(node)) == letter_routes.SUBSCRIPTIONS_PER_HOUR


async def test_links_act_only_on_a_post_and_unknown_tokens_are_404(make_island):
    node = await make_island("brest", workers=False)
    async with browser_like() as http:
        await post_form(http, node, email=ADDRESS, frequency="weekly")
        token = (await subscriber(node)).token
        for path in (f"/lettre/{token}/confirmer", f"/lettre/{token}/desabonnement"):
            async with http.get(f"{node.url}{path}") as response:
                assert response.status == 200
        row = await subscriber(node)
        assert row is not None and row.confirmed_at is None
        for path in ("/lettre/" + "a" * 30, "/lettre/" + "a" * 30 + "/confirmer"):
            async with http.get(f"{node.url}{path}") as response:
                assert response.status == 404
        # Changing the choices through the letter's link (it confirms too: the link came by mail).
        status, page = await post_form(http, node, f"/lettre/{token}", frequency="monthly", language="en")
        assert status == 200 and ADDRESS not in page
        row = await subscriber(node)
        assert (row.frequency, row.language) == ("monthly", "en") and row.confirmed_at is not None
        # A letter still in the queue when the address unsubscribes goes with it.
        async with node.sessions() as session:
            letter = await mail.queue(session, to=ADDRESS, subject="La lettre", body="…")
            session.add(LetterDelivery(subscriber_id=row.id, issue_id=await _issue(session), mail_id=letter.id,
                                       items=1))
            await session.commit()
        # The unsubscribe page's button.
        status, _ = await post_form(http, node, f"/lettre/{token}/desabonnement")
        assert status == 200 and await subscriber(node) is None
        assert [m.to_address for m in await mails(node)] == [ADDRESS]  # only its confirmation, not the letter


async def _issue(session) -> int:
    issue = LetterIssue(period="2026-W49", since=utcnow(), until=utcnow(), monthly=False, editorial="")
    session.add(issue)
    await session.flush()
    return issue.id


async def test_unconfirmed_addresses_expire(make_island):
    node = await make_island("brest", workers=False)
    async with browser_like() as http:
        await post_form(http, node, email=ADDRESS, frequency="weekly")
        await post_form(http, node, email="recent@example.org", frequency="weekly")
    async with node.sessions() as session:
        await session.execute(update(LetterSubscriber).where(LetterSubscriber.email == ADDRESS)
                              .values(created_at=utcnow() - letter_subscriptions.UNCONFIRMED_LIFETIME
                                      - timedelta(minutes=1)))
        await session.commit()
        token = (await subscriber(node)).token
        assert await letter_subscriptions.by_token(session, token) is None  # its link no longer works
        assert await letter_subscriptions.expire_unconfirmed(session) == 1
        await session.commit()
    assert await subscriber(node) is None and await subscriber(node, "recent@example.org") is not None


async def test_the_mail_queue_refuses_unknown_headers_and_line_breaks(make_island):
    node = await make_island("brest", workers=False)
    async with node.sessions() as session:
        for headers in ({"Bcc": "x@example.org"}, {"List-Unsubscribe": "<https://x>\r\nBcc: x@example.org"}):
            with pytest.raises(ValueError):
                await mail.queue(session, to=ADDRESS, subject="s", body="b", headers=headers)


async def test_only_animators_write_the_editorial(make_island):
    node = await make_island("brest", workers=False)
    await node.add_user("alice")  # an author
    async with browser_like() as http:
        async with http.get(f"{node.url}/espace/lettre", allow_redirects=False) as response:
            assert response.status in (302, 303)  # to the login page
        await log_in(http, node, "alice")
        async with http.get(f"{node.url}/espace/lettre", allow_redirects=False) as response:
            assert response.status == 403
        async with http.get(f"{node.url}/espace") as response:
            token = hidden_csrf(await response.text())
        async with http.post(f"{node.url}/espace/lettre", data={"csrf_token": token, "editorial": "Pirate"},
                             allow_redirects=False) as response:
            assert response.status == 403
    async with node.sessions() as session:
        assert (await letter_issues.preview(session)).editorial == ""
