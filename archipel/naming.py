"""Names for what pages mention by address: people, islands, items, servers.

A moderation journal entry, a report, a follow or a failing server is stored by its address (an
actor URL, an item URL, a host); a person reads its name. Everything a page needs is named in at
most four queries (local people, remote people, items, islands), whatever the number of subjects.
When nothing is known, a person is written as a handle (`@user@host`), never as a URL.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.cards import Here, host_of, islands_named
from archipel.identity import actor_uri
from archipel.storage.tables import LocalActor, RemoteActor, StoredObject


def handle_guess(uri: str) -> str:
    """`https://h.example/users/ana` → `@ana@h.example`: what a person is called when their server
    never told us their name (the last segment of the address is the username on most servers)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1]).lstrip("@")
    if not host:
        return ""
    return f"@{last}@{host}" if last and all(c.isalnum() or c in "._-" for c in last) else host


def _is_url(text: str) -> bool:
    return text.startswith(("https://", "http://"))


async def names(session: AsyncSession, here: Here, subjects: set[str]) -> dict[str, str]:
    """A name for each subject: an actor or item URL, or a host (a server, named by its island)."""
    urls = {s for s in subjects if s and _is_url(s)}
    hosts = {s.lower() for s in subjects if s and not _is_url(s) and "@" not in s and "/" not in s}
    named: dict[str, str] = {}
    prefix = actor_uri(here.base_url, "")
    local = {u[len(prefix):]: u for u in urls if u.startswith(prefix) and "/" not in u[len(prefix):]}
    if local:
        for actor in await session.scalars(select(LocalActor).where(LocalActor.username.in_(local))):
            named[local[actor.username]] = actor.display_name or f"@{actor.username}@{here.host}"
    remote = urls - set(named)
    if remote:
        for actor in await session.scalars(select(RemoteActor).where(RemoteActor.uri.in_(remote))):
            named[actor.uri] = actor.display_name or (
                f"@{actor.username}@{actor.host}" if actor.username else handle_guess(actor.uri))
    items = urls - set(named)
    if items:
        for uri, name in await session.execute(select(StoredObject.uri, StoredObject.name)
                                               .where(StoredObject.uri.in_(items))):
            if name:
                named[uri] = name
    if hosts:
        named.update((host, island.name) for host, island in (await islands_named(session, here, hosts)).items())
    for subject in subjects - set(named):
        named[subject] = handle_guess(subject) if _is_url(subject) else subject
    return named


__all__ = ["handle_guess", "host_of", "names"]
