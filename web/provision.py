"""Creating an island and its users: shared by `archipel init`/`user add`, the demo and the tests."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlsplit

from archipel import account_links, accounts
from archipel.errors import InvalidInput
from archipel.handles import InvalidUsername, check_username, slugify_username
from archipel.settings import SETTINGS_FILE, Settings, load_settings, write_settings
from archipel.storage import migrate
from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage.tables import LocalActor
from federation.keys import new_key_pair


async def create_island(directory: str | Path, *, url: str, name: str, handle: str | None = None,
                        database_url: str | None = None, allow_private_networks: bool = False,
                        manually_approves_followers: bool = False, **extra_settings) -> Settings:
    directory = Path(directory)
    if (directory / SETTINGS_FILE).exists():
        raise InvalidInput("%(directory)s contient déjà une île (%(file)s existe).",
                           directory=directory, file=SETTINGS_FILE)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise InvalidInput("L'adresse doit être une adresse de base comme https://ile.example, pas %(url)s.", url=url)
    handle = handle or slugify_username(name)
    try:
        check_username(handle)
    except InvalidUsername as error:
        raise InvalidInput("%(error)s (choisissez un autre identifiant)", error=error) from None
    directory.mkdir(parents=True, exist_ok=True)
    values = dict(url=url.rstrip("/"), name=name, handle=handle, secret_key=secrets.token_urlsafe(32),
                  allow_private_networks=allow_private_networks, **extra_settings)
    if database_url:
        values["database_url"] = database_url
    write_settings(directory, **values)
    settings = load_settings(directory)
    await migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            await accounts.create_actor(session, username=handle, kind="island", display_name=name,
                                        key_pair=new_key_pair(),
                                        manually_approves_followers=manually_approves_followers)
            await session.commit()
    finally:
        await engine.dispose()
    return settings


async def add_user(sessions, *, username: str, password: str, display_name: str = "",
                   role: str = "author", manually_approves_followers: bool = False) -> LocalActor:
    async with sessions() as session:
        _, actor = await accounts.add_user(session, username=username, password=password,
                                           display_name=display_name or username, role=role,
                                           key_pair=new_key_pair(),
                                           manually_approves_followers=manually_approves_followers)
        await session.commit()
    return actor


async def invitation_link(settings: Settings, *, role: str = "admin") -> str:
    """A one-time link (7 days) that creates an account with `role` in the browser: what
    `archipel init` prints for the first admin. Only its token's hash is stored."""
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            link = await account_links.create_invitation(session, role=role, created_by=None)
            await session.commit()
    finally:
        await engine.dispose()
    return f"{settings.url}/invitation/{link.token}"
