"""The letter from end to end, through a real SMTP server on loopback: subscribe on /lettre, the
confirmation mail, confirm; fiches published on a followed island; `archipel letter --send-now`;
the letter that arrives holds exactly what matches (themes, radius, language), the editorial,
and one-click unsubscribe headers whose POST deletes the address. Both databases."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date

from sqlalchemy import func, select

from archipel import accounts, letter_issues
from archipel.storage.tables import (LetterDelivery, LetterIssue, LetterSubscriber, OutgoingMail, StoredObject,
                                     utcnow)
from tests.archipel.test_mail import smtp  # noqa: F401 (fixture)
from tests.events import publish_event
from tests.map_items import place
from tests.nodes import island_follows, wait_for
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like, hidden_csrf
from federation import actions
from web import appkeys, provision
from web.letter_sending import LetterSender
from web.app import letter_sender

THEME = "Médiation numérique"
PARIS = ZoneInfo("Europe/Paris")
ADDRESS = "lea@example.org"


def letters_to(inbox, address: str) -> list:
    return [message for _, recipients, message in inbox.messages if recipients == [address]]


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


async def subscribe(http, node, **choices) -> tuple[int, str]:
    async with http.get(f"{node.url}/lettre") as response:
        token = hidden_csrf(await response.text())
    async with http.post(f"{node.url}/lettre", data={"csrf_token": token, **choices}) as response:
        return response.status, await response.text()


def sender(node) -> LetterSender:
    """The island's letter loop, as its worker builds it (tests step it themselves)."""
    return letter_sender(node.settings, node.sessions, node.app[appkeys.TEMPLATES], node.app[appkeys.WAKEUPS])


async def count(node, table) -> int:
    async with node.sessions() as session:
        return await session.scalar(select(func.count()).select_from(table))


async def test_subscribe_confirm_and_receive_exactly_what_matches(make_island, smtp):  # noqa: F811
    controller, inbox = smtp
    nantes = await make_island("nantes")
    brest = await make_island("brest", smtp_host="127.0.0.1", smtp_port=controller.port,
                              mail_from="lettre@brest.example", letter_weekday=0)
    await nantes.add_user("yann")
    await provision.add_user(brest.sessions, username="gwen", password="correct horse battery", role="moderator")
    await island_follows(brest, nantes)
    await island_follows(nantes, brest)  # Nantes's island follows Brest's: it gets the issue's Article

    async with browser_like() as http:
        status, page = await subscribe(http, brest, email=ADDRESS, theme="mediation-numerique", place="Brest",
                                       radius="25", language="fr", frequency="weekly")
        assert status == 200 and "Un e-mail vient d'être envoyé" in page
        # The same answer for another address, and no address ever shown back.
        status, other = await subscribe(http, brest, email="autre@example.org", frequency="weekly")
        assert status == 200 and "Un e-mail vient d'être envoyé" in other and "autre@example.org" not in other

        await wait_for(lambda: letters_to(inbox, ADDRESS), message="the confirmation mail")
        [confirmation] = letters_to(inbox, ADDRESS)
        link = re.search(r"(http://\S+/lettre/[A-Za-z0-9_-]+/confirmer)", text_of(confirmation)).group(1)
        async with http.get(link) as response:  # opening the link confirms nothing (mail scanners open links)
            assert response.status == 200
            token = hidden_csrf(await response.text())
        async with brest.sessions() as session:
            assert (await session.scalar(select(LetterSubscriber).where(LetterSubscriber.email == ADDRESS))
                    ).confirmed_at is None
        async with http.post(link, data={"csrf_token": token}) as response:
            assert response.status == 200 and "confirmé" in await response.text()

        # The animators' editorial, seen in the preview.
        await log_in(http, brest, "gwen")
        async with http.get(f"{brest.url}/espace/lettre") as response:
            token = hidden_csrf(await response.text())
        async with http.post(f"{brest.url}/espace/lettre",
                             data={"csrf_token": token, "editorial": "Bonjour à toutes et à tous !"}) as response:
            assert response.status == 200 and "Bonjour à toutes et à tous !" in await response.text()

    # On Nantes: one fiche that matches, and one that misses each choice.
    async with nantes.sessions() as session:
        near = (await actions.publish_item(
            session, nantes.url, [await accounts.get_actor(session, "yann")], kind="fiche",
            title="Atelier numérique à Guipavas", tags=[THEME], language="fr",
            data={"pitch": "Des ateliers pour toutes et tous.",
                  "territory": {"place": "Guipavas", "latitude": 48.43, "longitude": -4.40}},
            cover={"url": f"{nantes.url}/media/atelier.png", "name": "Un atelier", "mediaType": "image/png"})).uri
        await session.commit()
    nantes.wake()
    await place(nantes, "yann", "Jardin partagé à Brest", 48.39, -4.49, tags=["Jardins"])
    await place(nantes, "yann", "Atelier numérique à Marseille", 43.30, 5.37, tags=[THEME])
    await place(nantes, "yann", "Digital workshop in Brest", 48.39, -4.48, tags=[THEME], language="en")
    # And events coming up: one in 10 days near Brest, one as soon in Marseille, one too far ahead.
    soon = (utcnow() + timedelta(days=10)).astimezone(PARIS).replace(hour=9, minute=30, second=0, microsecond=0)
    await publish_event(nantes, "yann", title="Journée médiation aux Capucins", start=soon.isoformat(),
                        end=(soon + timedelta(hours=7)).isoformat())
    await publish_event(nantes, "yann", title="Journée médiation à Marseille", start=soon.isoformat(),
                        end=(soon + timedelta(hours=7)).isoformat(), online=None,
                        territory={"place": "Marseille", "latitude": 43.30, "longitude": 5.37})
    later = soon + timedelta(days=90)
    await publish_event(nantes, "yann", title="Journée dans trois mois", start=later.isoformat(),
                        end=(later + timedelta(hours=7)).isoformat())
    await wait_for(lambda: _replicas(brest, 7), message="the fiches and events replicated on Brest")

    sent_before = len(inbox.messages)
    issue = await sender(brest).send_now()
    assert issue is not None
    await wait_for(lambda: len(letters_to(inbox, ADDRESS)) == 2, message="the letter")
    letter = letters_to(inbox, ADDRESS)[1]
    assert len(inbox.messages) == sent_before + 1  # the unconfirmed address gets nothing
    text = text_of(letter)
    assert letter["Subject"].startswith("La lettre de l'Île brest, semaine ")  # elided, never « de Île »
    html = letter.get_body(preferencelist=("html",)).get_content()
    assert "Bonjour à toutes et à tous !" in text and "Bonjour à toutes et à tous !" in html
    assert "Atelier numérique à Guipavas" in text and "Des ateliers pour toutes et tous." in html
    for missed in ("Jardin partagé", "Marseille", "Digital workshop", "trois mois"):
        assert missed not in text and missed not in html
    # The event near Brest, under « À venir », its day written out in its own zone.
    day = format_date(soon, "full", locale="fr")
    assert "À venir dans l'archipel" in text and "Journée médiation aux Capucins" in html
    assert re.search(rf"Journée médiation aux Capucins\r?\n  {re.escape(day)}, 09:30 – 16:30 \(heure de Paris\) · Les Capucins",
                     text), text
    replica = await brest.object(near)
    assert f"{brest.url}/r/{replica.id}" in html and "Île nantes" in text
    # Its cover, an absolute URL of Brest's (a reader's mail client never contacts Nantes).
    assert re.search(rf'<img src="{re.escape(brest.url)}/images-distantes/[0-9a-f]{{64}}"', html)

    # RFC 8058: the one-click POST, with no cookie nor CSRF token, deletes the address.
    assert letter["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(http://\S+/desabonnement)>", letter["List-Unsubscribe"]).group(1)
    async with browser_like() as mail_client:
        async with mail_client.post(unsubscribe, data="List-Unsubscribe=One-Click",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"}) as response:
            assert response.status == 200
    async with brest.sessions() as session:
        assert await session.scalar(select(LetterSubscriber).where(LetterSubscriber.email == ADDRESS)) is None
        # Sent: no copy of the address, the text or the unsubscribe link is kept.
        kept = list(await session.execute(select(OutgoingMail.to_address, OutgoingMail.body, OutgoingMail.html,
                                                 OutgoingMail.headers).where(OutgoingMail.state == "sent")))
        assert kept and all(row == ("", "", None, None) for row in kept)
        issue = await session.get(LetterIssue, issue.id)
        assert issue.composed_at is not None and issue.article_uri
        article = await session.scalar(select(StoredObject).where(StoredObject.uri == issue.article_uri))
        assert article.author_uri == brest.actor_uri(brest.island_username)
        assert "Atelier numérique à Guipavas" in article.content and "Jardin partagé" in article.content

    # The Article reached the island's followers.
    await wait_for(lambda: nantes.object(issue.article_uri), message="the Article on Nantes")
    assert "Atelier numérique à Guipavas" in (await nantes.object(issue.article_uri)).content

    # Sent once: a second send-now this week has nothing due.
    assert await sender(brest).send_now() is None
    async with browser_like() as http:
        async with http.get(f"{brest.url}/lettres") as response:
            archive = await response.text()
        period = issue.period
        assert f"/lettres/{period}" in archive
        async with http.get(f"{brest.url}/lettres/{period}") as response:
            page = await response.text()
        assert "Bonjour à toutes et à tous !" in page and "Atelier numérique à Guipavas" in page


async def _replicas(node, number: int) -> bool:
    async with node.sessions() as session:
        return await session.scalar(select(func.count()).select_from(StoredObject)
                                    .where(StoredObject.is_local.is_(False))) >= number


async def test_a_crash_between_batches_resumes_without_repeating(make_island, smtp, monkeypatch):  # noqa: F811
    """Letters are written in batches, each in its own transaction with its mails: an issue left
    half-written is finished by the next round, and nobody gets two letters."""
    controller, inbox = smtp
    brest = await make_island("brest", workers=False, smtp_host="127.0.0.1", smtp_port=controller.port,
                              letter_weekday=0)
    await brest.add_user("alice")
    async with brest.sessions() as session:
        for n in range(7):
            session.add(LetterSubscriber(email=f"r{n}@example.org", token=f"token-of-reader-{n:04d}-xxxxxxxx",
                                         themes=[], regions=[], place="", radius_km=0, language="", frequency="weekly",
                                         confirmed_at=utcnow()))
        await session.commit()
    await place(brest, "alice", "Fiche du jour", 48.39, -4.49)
    monkeypatch.setattr(letter_issues, "BATCH", 3)
    letters = sender(brest)

    calls = 0
    real_write = letter_issues.write_batch

    async def crashing(session, issue, compose):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the process dies here")
        return await real_write(session, issue, compose)

    monkeypatch.setattr(letter_issues, "write_batch", crashing)
    try:
        await letters.send_now()
    except RuntimeError:
        pass
    assert await count(brest, LetterDelivery) == 3 and await count(brest, OutgoingMail) == 3
    monkeypatch.setattr(letter_issues, "write_batch", real_write)
    while await letters.run_once():
        pass
    assert await count(brest, LetterDelivery) == 7 and await count(brest, OutgoingMail) == 7
    async with brest.sessions() as session:
        recipients = list(await session.scalars(select(OutgoingMail.to_address)))
    assert sorted(recipients) == sorted(f"r{n}@example.org" for n in range(7))


async def test_on_schedule_an_island_nobody_reads_opens_no_issue(make_island):
    """The week's moment has come and there is something new, but nobody confirmed and no editorial
    was written: no issue and no Article (a new island's first start would otherwise announce all it
    just received). A first confirmed reader, and the issue opens."""
    brest = await make_island("brest", workers=False, letter_weekday=utcnow().isoweekday(), letter_hour=0)
    await brest.add_user("alice")
    await place(brest, "alice", "Repair café du quartier", 48.39, -4.49, tags=[THEME])
    loop = sender(brest)
    await loop.run_once()
    assert await count(brest, LetterIssue) == 0
    async with brest.sessions() as session:
        session.add(LetterSubscriber(email=ADDRESS, token="t" * 43, themes=[], regions=[], place="", radius_km=0,
                                     language="", frequency="weekly", created_at=utcnow(), confirmed_at=utcnow()))
        await session.commit()
    await loop.run_once()
    assert await count(brest, LetterIssue) == 1
