"""Local actors (the island, people) and the users who log in as them."""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import read_cache
from archipel.errors import AlreadyExists, ArchipelError, InvalidInput, NotFound
from archipel.handles import MAX_USERNAME_LENGTH, InvalidUsername, check_username
from archipel.passwords import MAX_PASSWORD_CHARS, hash_password
from archipel.storage.tables import LocalActor, LoginSession, User

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
        raise AlreadyExists("Le nom %(username)s est déjà pris sur cette île : choisissez-en un autre.",
                            username=username)
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
    password_hash: str | None = None,
    email: str | None = None,
) -> tuple[User, LocalActor]:
    """`password_hash` instead of `password`: hashed by the caller (the web runs scrypt in a
    thread, never on the event loop)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    email = check_email(email or "")
    if email and await user_by_email(session, email) is not None:
        raise AccountRefused("email taken")
    actor = await create_actor(
        session, username=username, kind="person", display_name=display_name, key_pair=key_pair,
        manually_approves_followers=manually_approves_followers,
    )
    user = User(actor_id=actor.id, password_hash=password_hash or hash_password(password), role=role,
                email=email or None, active=True)
    session.add(user)
    await session.flush()
    return user, actor


async def find_actor(session: AsyncSession, username: str) -> LocalActor | None:
    return await read_cache.remembered(session, ("local actor", username), lambda: session.scalar(
        select(LocalActor).where(LocalActor.username == username)))


async def get_actor(session: AsyncSession, username: str) -> LocalActor:
    actor = await find_actor(session, username)
    if actor is None:
        raise NotFound("Aucun compte ne s'appelle %(username)s sur cette île.", username=username)
    return actor


async def island_actor(session: AsyncSession) -> LocalActor:
    actor = await read_cache.remembered(session, "island actor", lambda: session.scalar(
        select(LocalActor).where(LocalActor.kind == "island")))
    if actor is None:
        raise NotFound("Cette île n'a pas de compte d'île : a-t-elle été créée avec « archipel init » ?")
    return actor


async def theme_actor(session: AsyncSession, key: str) -> LocalActor | None:
    return await session.scalar(select(LocalActor).where(LocalActor.theme_key == key,
                                                         LocalActor.kind == "theme"))


async def free_username(session: AsyncSession, wanted: str, suffix: str) -> str:
    """`wanted` if free and allowed, else `wanted-suffix`, `wanted-suffix-2`…: a theme never takes
    the name of a person (or a route) who had it first."""
    candidates = [wanted, f"{wanted}-{suffix}"]
    for number in range(2, 100):
        candidates.append(f"{wanted}-{suffix}-{number}")
    for candidate in candidates:
        tail = candidate[len(wanted):]
        candidate = wanted[:MAX_USERNAME_LENGTH - len(tail)].rstrip(".-") + tail
        try:
            check_username(candidate)
        except InvalidUsername:
            continue
        if await find_actor(session, candidate) is None:
            return candidate
    raise AlreadyExists("Aucun nom libre proche de %(username)s.", username=wanted)


# ---- profiles ------------------------------------------------------------------------------------

MAX_DISPLAY_NAME = 100
MAX_SUMMARY = 1000
MAX_LINKS = 4
MAX_LINK_NAME = 60
MAX_LINK_URL = 500


def check_links(links: list[tuple[str, str]]) -> list[dict]:
    """Up to four (label, URL) pairs, http(s) only; empty rows are dropped."""
    result = []
    for name, url in links:
        name, url = " ".join((name or "").split()), (url or "").strip()
        if not name and not url:
            continue
        if not name or not url:
            raise InvalidInput("Chaque lien a besoin d'un intitulé et d'une adresse.")
        if len(name) > MAX_LINK_NAME:
            raise InvalidInput("L'intitulé d'un lien dépasse %(limit)s caractères.", limit=MAX_LINK_NAME)
        if len(url) > MAX_LINK_URL or not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
            raise InvalidInput("L'adresse de lien %(url)s n'est pas valide : elle doit commencer par https://.",
                               url=url[:80])
        result.append({"name": name, "url": url})
    if len(result) > MAX_LINKS:
        raise InvalidInput("Donnez au plus %(limit)s liens.", limit=MAX_LINKS)
    return result


async def update_profile(session: AsyncSession, actor: LocalActor, *, display_name: str, summary: str,
                         links: list[tuple[str, str]], avatar: dict | None = None,
                         header: dict | None = None) -> bool:
    """Change what a profile shows; True when something changed (followers then hear of it).
    avatar/header: None keeps the picture, {} goes back to the drawn one."""
    values = check_profile(display_name=display_name, summary=summary, links=links)
    if avatar is not None:
        values["avatar"] = avatar or None
    if header is not None:
        values["header"] = header or None
    changed = any(getattr(actor, name) != value for name, value in values.items())
    for name, value in values.items():
        setattr(actor, name, value)
    await session.flush()
    return changed


def check_profile(*, display_name: str, summary: str, links: list[tuple[str, str]]) -> dict:
    """The profile's texts, cleaned, or InvalidInput saying what is wrong."""
    display_name = " ".join((display_name or "").split())
    if not display_name:
        raise InvalidInput("Donnez un nom affiché.")
    if len(display_name) > MAX_DISPLAY_NAME:
        raise InvalidInput("Le nom affiché dépasse %(limit)s caractères.", limit=MAX_DISPLAY_NAME)
    summary = (summary or "").replace("\r\n", "\n").strip()
    if len(summary) > MAX_SUMMARY:
        raise InvalidInput("La présentation dépasse %(limit)s caractères.", limit=MAX_SUMMARY)
    return {"display_name": display_name, "summary": summary, "links": check_links(links)}


# ---- accounts: roles, activity, e-mail, passwords ----------------------------------------------

MIN_PASSWORD_CHARS = 8
MAX_EMAIL = 254
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


class AccountRefused(ArchipelError):
    """A change the rules of accounts refuse; `reason` is a short key the pages translate:
    last admin, self deactivation, email invalid, email taken, password short, password long,
    passwords differ, role invalid."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_email(value: str) -> str:
    """An address as stored (trimmed, lowercase), "" for none; AccountRefused if malformed."""
    value = (value or "").strip().lower()
    if value and (len(value) > MAX_EMAIL or not _EMAIL.match(value)):
        raise AccountRefused("email invalid")
    return value


def check_new_password(password: str, again: str) -> str:
    if password != again:
        raise AccountRefused("passwords differ")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountRefused("password short")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountRefused("password long")
    return password


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def user_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).join(LocalActor, LocalActor.id == User.actor_id)
                                .where(LocalActor.username == username))


async def list_users(session: AsyncSession) -> list[tuple[User, LocalActor]]:
    rows = await session.execute(select(User, LocalActor).join(LocalActor, LocalActor.id == User.actor_id)
                                 .order_by(LocalActor.username))
    return [tuple(row) for row in rows]


async def _active_admins(session: AsyncSession) -> int:
    """How many active admins there are, their rows locked (PostgreSQL) so that two admins
    demoting each other at the same moment cannot leave the island without one."""
    ids = await session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True))
                                .order_by(User.id).with_for_update())
    return len(list(ids))


async def end_sessions(session: AsyncSession, user: User, *, keep_token_hash: str | None = None) -> None:
    """Log the account out everywhere (but the session `keep_token_hash`, if given)."""
    statement = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep_token_hash is not None:
        statement = statement.where(LoginSession.token_hash != keep_token_hash)
    await session.execute(statement)


async def set_role(session: AsyncSession, user: User, role: str) -> None:
    if role not in ROLES:
        raise AccountRefused("role invalid")
    if user.role == "admin" and role != "admin" and user.active and await _active_admins(session) <= 1:
        raise AccountRefused("last admin")
    user.role = role
    await session.flush()


async def set_active(session: AsyncSession, user: User, active: bool, *, by: User) -> None:
    """Deactivate (its sessions end; its items stay) or reactivate an account."""
    if not active and user.id == by.id:
        raise AccountRefused("self deactivation")
    if not active and user.role == "admin" and user.active and await _active_admins(session) <= 1:
        raise AccountRefused("last admin")
    user.active = active
    if not active:
        await end_sessions(session, user)
    await session.flush()


async def set_email(session: AsyncSession, user: User, email: str) -> None:
    email = check_email(email)
    if email and email != user.email:
        other = await user_by_email(session, email)
        if other is not None and other.id != user.id:
            raise AccountRefused("email taken")
    user.email = email or None
    await session.flush()
