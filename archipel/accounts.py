"""Local actors (the island, people) and the users who log in as them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.errors import AlreadyExists, NotFound
from archipel.handles import check_username
from archipel.passwords import hash_password
from archipel.storage.tables import LocalActor, User

ROLES = ("admin", "moderator", "author")


async def create_actor(
    session: AsyncSession,
    *,
    username: str,
    kind: str,
    display_name: str,
    key_pair: tuple[str, str],
    summary: str = "",
    manually_approves_followers: bool = False,
) -> LocalActor:
    """key_pair is (private PEM, public PEM): keys are made by the caller, who knows signatures."""
    check_username(username)
    if await find_actor(session, username):
        raise AlreadyExists(f"the username {username!r} is already taken on this island")
    private_pem, public_pem = key_pair
    actor = LocalActor(
        username=username,
        kind=kind,
        display_name=display_name or username,
        summary=summary,
        private_key_pem=private_pem,
        public_key_pem=public_pem,
        manually_approves_followers=manually_approves_followers,
    )
    session.add(actor)
    await session.flush()
    return actor


async def add_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    key_pair: tuple[str, str],
    display_name: str = "",
    role: str = "author",
    manually_approves_followers: bool = False,
) -> tuple[User, LocalActor]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    actor = await create_actor(
        session, username=username, kind="person", display_name=display_name, key_pair=key_pair,
        manually_approves_followers=manually_approves_followers,
    )
    user = User(actor_id=actor.id, password_hash=hash_password(password), role=role)
    session.add(user)
    await session.flush()
    return user, actor


async def find_actor(session: AsyncSession, username: str) -> LocalActor | None:
    return await session.scalar(select(LocalActor).where(LocalActor.username == username))


async def get_actor(session: AsyncSession, username: str) -> LocalActor:
    actor = await find_actor(session, username)
    if actor is None:
        raise NotFound(f"no actor named {username!r} on this island")
    return actor


async def island_actor(session: AsyncSession) -> LocalActor:
    actor = await session.scalar(select(LocalActor).where(LocalActor.kind == "island"))
    if actor is None:
        raise NotFound("this island has no island actor: was it made with `archipel init`?")
    return actor
