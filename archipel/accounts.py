"""Local actors (the island, people) and the users who log in as them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import read_cache
from archipel.errors import AlreadyExists, InvalidInput, NotFound
from archipel.handles import MAX_USERNAME_LENGTH, InvalidUsername, check_username
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
    return await read_cache.remembered(session, ("local actor", username), lambda: session.scalar(
        select(LocalActor).where(LocalActor.username == username)))


async def get_actor(session: AsyncSession, username: str) -> LocalActor:
    actor = await find_actor(session, username)
    if actor is None:
        raise NotFound(f"no actor named {username!r} on this island")
    return actor


async def island_actor(session: AsyncSession) -> LocalActor:
    actor = await read_cache.remembered(session, "island actor", lambda: session.scalar(
        select(LocalActor).where(LocalActor.kind == "island")))
    if actor is None:
        raise NotFound("this island has no island actor: was it made with `archipel init`?")
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
    raise AlreadyExists(f"no free username near {wanted!r}")


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
            raise InvalidInput("chaque lien a besoin d'un intitulé et d'une adresse")
        if len(name) > MAX_LINK_NAME:
            raise InvalidInput(f"intitulé de lien trop long (maximum {MAX_LINK_NAME} caractères)")
        if len(url) > MAX_LINK_URL or not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
            raise InvalidInput(f"adresse de lien invalide : {url[:80]} (elle doit commencer par https://)")
        result.append({"name": name, "url": url})
    if len(result) > MAX_LINKS:
        raise InvalidInput(f"au plus {MAX_LINKS} liens")
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
        raise InvalidInput("le nom affiché ne peut pas être vide")
    if len(display_name) > MAX_DISPLAY_NAME:
        raise InvalidInput(f"nom affiché trop long (maximum {MAX_DISPLAY_NAME} caractères)")
    summary = (summary or "").replace("\r\n", "\n").strip()
    if len(summary) > MAX_SUMMARY:
        raise InvalidInput(f"présentation trop longue (maximum {MAX_SUMMARY} caractères)")
    return {"display_name": display_name, "summary": summary, "links": check_links(links)}
