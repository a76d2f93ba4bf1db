"""Proposers' e-mail through a real SMTP server on loopback (aiosmtpd): sent, retried with
backoff while the server is down, given up after a while; the address erased in every case."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from archipel import mail
from archipel.mail import MailWorker, SmtpConfig
from archipel.storage.tables import OutgoingMail, utcnow
from web.app import mail_worker


class Inbox:
    def __init__(self):
        self.messages = []
        self.delay = 0.0  # seconds each message takes to be accepted

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, message_from_bytes(envelope.content,
                                                                                       policy=default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


async def queued(node, **values) -> int:
    async with node.sessions() as session:
        row = await mail.queue(session, to="zoe@example.org", subject="Votre proposition « Jardin »",
                               body="Merci ! Elle est publiée : https://ile.example/o/1")
        for name, value in values.items():
            setattr(row, name, value)
        await session.commit()
        return row.id


async def row(node, mail_id: int) -> OutgoingMail:
    async with node.sessions() as session:
        return await session.get(OutgoingMail, mail_id)


async def test_a_queued_mail_is_sent_and_the_address_erased(make_island, smtp):
    controller, inbox = smtp
    node = await make_island("mail", workers=False, smtp_host="127.0.0.1", smtp_port=controller.port,
                             mail_from="ile@ile.example")
    mail_id = await queued(node)
    worker = mail_worker(node.settings, node.sessions)
    assert await worker.run_once() == 1
    [(sender, recipients, message)] = inbox.messages
    assert sender == "ile@ile.example" and recipients == ["zoe@example.org"]
    assert message["Subject"] == "Votre proposition « Jardin »"
    assert "https://ile.example/o/1" in message.get_content()
    sent = await row(node, mail_id)
    assert sent.state == "sent" and sent.to_address == "" and sent.sent_at is not None and sent.attempts == 1
    assert sent.body == ""  # it may have held a single-use link
    assert await worker.run_once() == 0 and len(inbox.messages) == 1  # never twice


async def test_without_smtp_mail_stays_pending(make_island):
    node = await make_island("sans-smtp", workers=False)
    mail_id = await queued(node)
    assert await mail_worker(node.settings, node.sessions).run_once() == 0
    pending = await row(node, mail_id)
    assert pending.state == "pending" and pending.to_address == "zoe@example.org"


async def test_a_server_down_means_retries_then_giving_up_and_erasing(make_island, smtp):
    controller, inbox = smtp
    node = await make_island("panne", workers=False)
    down = MailWorker(node.sessions, SmtpConfig(host="127.0.0.1", port=free_port(), sender="ile@ile.example"),
                      give_up_after=timedelta(hours=1))
    mail_id = await queued(node)
    assert await down.run_once() == 1
    failed = await row(node, mail_id)
    assert failed.state == "pending" and failed.attempts == 1 and failed.last_error
    assert failed.next_try_at > utcnow() + timedelta(seconds=30)  # backoff: not before it is due
    assert await down.run_once() == 0

    # Due again, the server back: it is sent.
    async with node.sessions() as session:
        await session.execute(update(OutgoingMail).values(next_try_at=utcnow()))
        await session.commit()
    up = MailWorker(node.sessions, SmtpConfig(host="127.0.0.1", port=controller.port, sender="ile@ile.example"))
    assert await up.run_once() == 1 and len(inbox.messages) == 1

    # Still failing after the give-up delay: abandoned, the address erased.
    old = await queued(node, created_at=utcnow() - timedelta(hours=2))
    assert await down.run_once() == 1
    given_up = await row(node, old)
    assert given_up.state == "gave_up" and given_up.to_address == "" and given_up.attempts == 1
    async with node.sessions() as session:
        addresses = list(await session.scalars(select(OutgoingMail.to_address)))
    assert addresses == ["", ""]


def test_backoff_grows_and_is_capped():
    assert mail.backoff(1) == timedelta(minutes=1)
    assert mail.backoff(3) == timedelta(minutes=4)
    assert mail.backoff(30) == mail.LONGEST_RETRY
