"""Single-use links for accounts: invitations (create an account with a role, 7 days) and
password resets (set a new password, 1 hour). The link carries a random token; the database
keeps only its SHA-256, so a copy of the database opens no account.

A link is spent by one conditional UPDATE (unused and not expired): two people using it at the
same moment cannot both succeed.

An admin may revoke an invitation not yet used: its lifetime is cut to nothing (`expires_at` set
to its `created_at`), which no live link has, so the link then says it was revoked."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.accounts import ROLES, AccountRefused
from archipel.storage.tables import Invitation, LocalActor, PasswordReset, User, utcnow

INVITATION_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=1)
TOKEN_PATTERN = r"[A-Za-z0-9_-]{1,100}"
MAX_PENDING_SHOWN = 200


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LinkGone(Exception):
    """The link cannot be used: `why` is unknown (404), used, expired or revoked (410)."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class NewLink:
    token: str
    row: Invitation | PasswordReset


async def create_invitation(session: AsyncSession, *, role: str, created_by: User | None) -> NewLink:
    if role not in ROLES:
        raise AccountRefused("role invalid")
    token = secrets.token_urlsafe(32)
    row = Invitation(token_hash=token_hash(token), role=role, created_by_id=created_by.id if created_by else None,
                     created_at=utcnow(), expires_at=utcnow() + INVITATION_LIFETIME)
    session.add(row)
    await session.flush()
    return NewLink(token, row)


async def create_reset(session: AsyncSession, user: User) -> NewLink:
    token = secrets.token_urlsafe(32)
    row = PasswordReset(token_hash=token_hash(token), user_id=user.id, created_at=utcnow(),
                        expires_at=utcnow() + RESET_LIFETIME)
    session.add(row)
    await session.flush()
    return NewLink(token, row)


def _check(row) -> None:
    if row is None:
        raise LinkGone("unknown")
    if row.used_at is not None:
        raise LinkGone("used")
    if isinstance(row, Invitation) and row.expires_at == row.created_at:
        raise LinkGone("revoked")
    if row.expires_at <= utcnow():
        raise LinkGone("expired")


async def usable_invitation(session: AsyncSession, token: str) -> Invitation:
    row = await session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
    _check(row)
    return row


async def usable_reset(session: AsyncSession, token: str) -> tuple[PasswordReset, User]:
    row = await session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token)))
    _check(row)
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        raise LinkGone("unknown")
    return row, user


async def spend(session: AsyncSession, row: Invitation | PasswordReset) -> None:
    """Mark the link used, in the caller's transaction; LinkGone("used") if another request
    spent it (or it expired) since it was read."""
    table = type(row)
    now = utcnow()
    result = await session.execute(
        update(table).where(table.id == row.id, table.used_at.is_(None), table.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise LinkGone("used")


@dataclass(frozen=True)
class PendingInvitation:
    id: int
    role: str
    created_at: object
    expires_at: object
    invited_by: str  # the inviting admin's name ("" when that account is gone)


async def pending_invitations(session: AsyncSession) -> list[PendingInvitation]:
    """Invitations neither used nor expired (nor revoked), newest first; a small table (admins
    make a few links), bounded anyway."""
    rows = await session.execute(
        select(Invitation, LocalActor.display_name)
        .outerjoin(User, User.id == Invitation.created_by_id).outerjoin(LocalActor, LocalActor.id == User.actor_id)
        .where(Invitation.used_at.is_(None), Invitation.expires_at > utcnow())
        .order_by(Invitation.id.desc()).limit(MAX_PENDING_SHOWN))
    return [PendingInvitation(row.id, row.role, row.created_at, row.expires_at, name or "")
            for row, name in rows]


async def revoke_invitation(session: AsyncSession, invitation_id: int) -> bool:
    """Make a pending invitation unusable at once; False when there was none to revoke (used,
    expired, revoked already, or unknown). The caller commits."""
    result = await session.execute(
        update(Invitation).where(Invitation.id == invitation_id, Invitation.used_at.is_(None),
                                 Invitation.expires_at > utcnow())
        .values(expires_at=Invitation.created_at).execution_options(synchronize_session=False))
    return result.rowcount == 1
