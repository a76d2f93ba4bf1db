"""Outgoing e-mail: a queue in a table (written in the transaction that decides to write), and a
worker that sends it over SMTP, retries with backoff, gives up after a while, and then erases the
recipient's address and the text: proposers' addresses, and the single-use links of invitations
and password resets, are kept only as long as they are needed.

Without `smtp_host` the mail stays pending (nothing is lost) and the proposer's private status
link remains the way to learn the decision. With `mail_folder` instead, each message is written
there as an .eml file (mail_folder.py): how the demo shows its mail without a mail server. smtplib runs in a thread: one message at a time is
plenty for decisions on proposals, and the standard library avoids a dependency.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from archipel import mail_folder
from archipel.queue_states import MailStates
from archipel.storage.tables import OutgoingMail, utcnow

log = logging.getLogger(__name__)

BATCH = 20
# A claimed message is another worker's again only after this: far beyond one SMTP exchange,
# so that a slow send is never repeated by a second process.
LEASE = timedelta(minutes=10)
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)


# Extra headers a queued message may carry (the letter's one-click unsubscribe, RFC 8058): any
# other name is refused, so a row can never set From, To or a Bcc of its own.
EXTRA_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post", "List-Id")
MAX_HEADER = 1000


async def queue(session: AsyncSession, *, to: str, subject: str, body: str, html: str | None = None,
                headers: dict[str, str] | None = None) -> OutgoingMail:
    """`html`: an alternative HTML part; `headers`: among EXTRA_HEADERS."""
    extra = {}
    for name, value in (headers or {}).items():
        if name not in EXTRA_HEADERS or any(c in value for c in "\r\n"):
            raise ValueError(f"header {name!r} cannot be queued")
        extra[name] = value[:MAX_HEADER]
    mail = OutgoingMail(to_address=to[:320], subject=subject[:300], body=body, state=MailStates.PENDING,
                        next_try_at=utcnow(), html=html or None, headers=extra or None)
    session.add(mail)
    await session.flush()
    return mail


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    username: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = ""
    timeout: float = 20.0
    folder: Path | None = None  # write .eml files there instead of SMTP

    @property
    def can_send(self) -> bool:
        return bool(self.host or self.folder)

    @classmethod
    def from_settings(cls, settings) -> SmtpConfig:
        return cls(host=settings.smtp_host, port=settings.smtp_port, username=settings.smtp_username,
                   password=settings.smtp_password, starttls=settings.smtp_starttls,
                   sender=settings.mail_from or f"archipel@{settings.host.split(':')[0] or 'localhost'}",
                   folder=mail_folder.path_of(settings))


def message_id(config: SmtpConfig, mail: OutgoingMail) -> str:
    """The same for every attempt of one row: a message sent again after a crash (its server had
    accepted it, our process died before writing so) is recognisably the same message, which
    many mailboxes then show once."""
    domain = config.sender.rpartition("@")[2] or "localhost"
    return f"<{mail.id}.{int(mail.created_at.timestamp() * 1_000_000)}.archipel@{domain}>"


def _send(config: SmtpConfig, to: str, subject: str, body: str, *, html: str | None = None,
          headers: dict | None = None, msgid: str | None = None) -> None:
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = msgid or make_msgid(domain=config.sender.rpartition("@")[2] or None)
    for name, value in (headers or {}).items():
        if name in EXTRA_HEADERS:
            message[name] = value
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    if config.folder is not None:
        mail_folder.write(config.folder, message)
        return
    with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            smtp.login(config.username, config.password)
        smtp.send_message(message)


def backoff(attempts: int) -> timedelta:
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)


class MailWorker:
    def __init__(self, sessionmaker: async_sessionmaker, config: SmtpConfig, *,
                 give_up_after: timedelta = timedelta(hours=48)):
        self.sessionmaker = sessionmaker
        self.config = config
        self.give_up_after = give_up_after
        self.wake = asyncio.Event()

    async def run_once(self) -> int:
        """Send what is due; returns how many messages were handled (sent, retried or given up)."""
        if not self.config.can_send:
            return 0
        async with self.sessionmaker() as session:
            # Claimed with a lease (committed) before anything is sent: several worker processes
            # never send the same message, and a crashed one's messages come due again.
            now = utcnow()
            due = (OutgoingMail.state == MailStates.PENDING, OutgoingMail.next_try_at <= now)
            ids = list(await session.scalars(
                select(OutgoingMail.id).where(*due).order_by(OutgoingMail.next_try_at, OutgoingMail.id)
                .limit(BATCH).with_for_update(skip_locked=True)))
            claimed = list(await session.scalars(
                update(OutgoingMail).where(OutgoingMail.id.in_(ids), *due)
                .values(next_try_at=now + LEASE, claimed_at=now).returning(OutgoingMail.id))) if ids else []
            await session.commit()
            due = list(await session.scalars(
                select(OutgoingMail).where(OutgoingMail.id.in_(claimed)).order_by(OutgoingMail.id)))
            for mail in due:
                await self._attempt(mail)
                await session.commit()  # each outcome is kept before the next message
        return len(due)

    async def recover(self) -> int:
        """Give back the messages a killed predecessor held, at once rather than after the lease.
        Only for the island's single process (SQLite, under the island lock); a message its
        server had already accepted is sent again (the same Message-ID): never lost."""
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(OutgoingMail).where(OutgoingMail.state == MailStates.PENDING,
                                           OutgoingMail.claimed_at.is_not(None))
                .values(claimed_at=None, next_try_at=utcnow()))
            await session.commit()
        if result.rowcount:
            log.info("%d e-mails were held at the last stop: sending them again", result.rowcount)
        return result.rowcount

    async def _attempt(self, mail: OutgoingMail) -> None:
        mail.attempts += 1
        mail.claimed_at = None
        try:
            await asyncio.to_thread(_send, self.config, mail.to_address, mail.subject, mail.body, html=mail.html,
                                    headers=mail.headers, msgid=message_id(self.config, mail))
        except (OSError, smtplib.SMTPException) as error:
            mail.last_error = f"{type(error).__name__}: {error}"[:2000]
            if utcnow() - mail.created_at >= self.give_up_after:
                # No longer needed: erased.
                mail.state, mail.to_address, mail.body, mail.html, mail.headers = MailStates.GAVE_UP, "", "", None, None
                log.warning("mail %s given up after %s attempts: %s", mail.id, mail.attempts, mail.last_error)
            else:
                mail.next_try_at = utcnow() + backoff(mail.attempts)
            return
        # The body goes too: it may hold a single-use link (an invitation, a password reset, a
        # letter's unsubscribe link, also in its headers and HTML).
        mail.state, mail.sent_at, mail.to_address, mail.body, mail.last_error = MailStates.SENT, utcnow(), "", "", None
        mail.html, mail.headers = None, None
