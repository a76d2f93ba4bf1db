"""Replies written on the island's pages: a local Note, its Create sent to the conversation.

Who hears of a reply: everyone who wrote in the thread above it (the authors of its ancestors
and of the item it hangs under, on whatever server), the followers of the item's local authors
and of the island (which re-shares its members' items), and the replier's own followers.
The Note and its deliveries are written in the caller's transaction (outbox.enqueue).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import accounts, content, notifying, threads
from archipel.identity import activity_uri
from archipel.storage.tables import LocalActor, RemoteActor, StoredObject
from federation import documents
from federation.actors import ActorDirectory, ActorError
from federation.as2 import host_of
from federation.client import FetchError
from federation.documents import ActorUrls
from federation.outbox import enqueue, follower_inboxes

log = logging.getLogger(__name__)


async def participants(session: AsyncSession, parent: StoredObject) -> list[str]:
    """Authors of `parent` and of everything above it, nearest first, without repeats."""
    chain = [parent, *await threads.ancestors(session, parent)]
    uris: list[str] = []
    for item in chain:
        uris.extend(await content.authors_of(session, item))
    return list(dict.fromkeys(uris))


async def fetch_missing_actors(directory: ActorDirectory, uris: list[str]) -> None:
    """Learn the inboxes of remote participants we never met (an author of a replicated fiche),
    before the transaction that writes the reply. A server that does not answer is skipped."""
    for uri in uris:
        if directory.is_local(uri) or await directory.cached(uri) is not None:
            continue
        try:
            await directory.get(uri)
        except (FetchError, ActorError, OSError) as error:
            log.info("reply: participant %s unreachable (%s), not addressed", uri, error)


async def _remote_actors(session: AsyncSession, uris: list[str]) -> dict[str, RemoteActor]:
    rows = await session.scalars(select(RemoteActor).where(RemoteActor.uri.in_(uris))) if uris else []
    return {actor.uri: actor for actor in rows}


def _mention(uri: str, base_url: str, remote: RemoteActor | None, local: LocalActor | None) -> dict | None:
    if remote is not None:
        return {"type": "Mention", "href": uri, "name": f"@{remote.username or 'inconnu'}@{remote.host}",
                "url": remote.url or uri}
    if local is not None:
        return {"type": "Mention", "href": uri, "name": f"@{local.username}@{host_of(base_url)}",
                "url": ActorUrls(base_url, local.username).profile}
    return None


async def _audience_inboxes(session: AsyncSession, base_url: str, reply: StoredObject, author: LocalActor,
                            people: list[str]) -> list[str]:
    remote = await _remote_actors(session, people)
    inboxes = {actor.shared_inbox or actor.inbox for actor in remote.values()}
    root = await threads.root_of(session, reply)
    island = await accounts.island_actor(session)
    watched = [*(await content.authors_of(session, root) if root.is_local else []),
               ActorUrls(base_url, island.username).id, ActorUrls(base_url, author.username).id]
    for uri in dict.fromkeys(watched):
        inboxes.update(await follower_inboxes(session, uri))
    return sorted(i for i in inboxes if i)


async def reply(session: AsyncSession, base_url: str, author: LocalActor, parent: StoredObject,
                text: str) -> StoredObject:
    """Write the Note, tell the local people concerned, and queue its Create."""
    me = ActorUrls(base_url, author.username).id
    people = [uri for uri in await participants(session, parent) if uri != me]
    remote = await _remote_actors(session, people)
    mentions = []
    for uri in people:
        local = None
        if uri not in remote and uri.startswith(base_url.rstrip("/") + "/users/"):
            local = await accounts.find_actor(session, uri.rsplit("/", 1)[-1])
        mention = _mention(uri, base_url, remote.get(uri), local)
        if mention:
            mentions.append(mention)
    # Only the author answered is named in the text, as Mastodon does; all are addressed.
    note = await threads.create_reply(session, base_url=base_url, author=author, parent=parent, text=text,
                                      mentions=mentions[:1] if parent.author_uri != me else [])
    note.extra = {"mentions": mentions}
    await session.flush()
    await notifying.on_new_object(session, base_url, note)
    activity = documents.create_or_update("Create", note, base_url, activity_uri(base_url))
    await enqueue(session, actor=author, activity=activity,
                  inboxes=await _audience_inboxes(session, base_url, note, author, people))
    return note


async def withdraw(session: AsyncSession, base_url: str, note: StoredObject) -> StoredObject:
    """A local reply taken back (by its author or a moderator): its Delete goes where its Create went."""
    if note.deleted_at is not None or not note.is_local:
        return note
    author = await session.get(LocalActor, note.local_author_id)
    people = [m["href"] for m in (note.extra or {}).get("mentions", []) if isinstance(m, dict) and m.get("href")]
    inboxes = await _audience_inboxes(session, base_url, note, author, people)
    await content.withdraw(session, note)
    await enqueue(session, actor=author, activity=documents.delete(note, activity_uri(base_url)), inboxes=inboxes)
    return note
