"""Who hears of what: turns an event (a follow, a reply, a like, a boost, a reuse) into
notifications for the local actors it concerns. Each inbox handler or page calls one function
here, in the transaction of the event.

Nobody is told of their own doing, and one event gives a person at most one notification.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import accounts, content, notifications, read_cache
from archipel.identity import actor_uri
from archipel.storage.tables import ItemAuthor, LocalActor, StoredObject, User

INTERACTION_KINDS = {"Like": "like", "Announce": "boost"}


def _username_of(base_url: str, uri: str | None) -> str | None:
    prefix = actor_uri(base_url, "")
    return uri[len(prefix):] if uri and uri.startswith(prefix) and "/" not in uri[len(prefix):] else None


async def _local_actors(session: AsyncSession, base_url: str, uris) -> list[LocalActor]:
    names = tuple(sorted({n for n in (_username_of(base_url, uri) for uri in uris) if n}))
    if not names:
        return []

    async def load() -> list[LocalActor]:
        return list(await session.scalars(select(LocalActor).where(LocalActor.username.in_(names))))
    return await read_cache.remembered(session, ("local actors", names), load,
                                       keep=lambda actors: len(actors) == len(names))


async def _authors(session: AsyncSession, base_url: str, item: StoredObject) -> list[LocalActor]:
    """The local authors of an item (co-authors of a fiche too)."""
    async def load() -> list[str]:
        return list(await session.scalars(select(ItemAuthor.actor_uri).where(ItemAuthor.object_id == item.id)))
    # Those of our own items do not change while other servers' activities are handled.
    uris = await read_cache.remembered(session, ("authors", item.id), load, keep=lambda _: item.is_local)
    return await _local_actors(session, base_url, uris or [item.author_uri])


async def _tell(session, base_url: str, recipients, kind: str, *, actor: str, object_uri: str,
                detail: str = "", told: set[int] | None = None) -> set[int]:
    told = set() if told is None else told
    for recipient in recipients:
        if recipient.id in told or actor == actor_uri(base_url, recipient.username):
            continue
        told.add(recipient.id)
        await notifications.notify(session, recipient.id, kind, actor_uri=actor, object_uri=object_uri,
                                   detail=detail)
    return told


async def on_follow(session: AsyncSession, base_url: str, *, follower_uri: str, followed_uri: str,
                    pending: bool = False) -> None:
    """A person hears of their followers; the island's admins hear of the island's (a theme's
    followers are nobody's concern)."""
    name = _username_of(base_url, followed_uri)
    target = await accounts.find_actor(session, name) if name else None
    if target is None:
        return
    if target.kind == "person":
        recipients = [target]
    elif target.kind == "island":
        async def admins() -> list[LocalActor]:
            return list(await session.scalars(
                select(LocalActor).join(User, User.actor_id == LocalActor.id).where(User.role == "admin")))
        recipients = await read_cache.remembered(session, "admins", admins)
    else:
        return
    for recipient in recipients:
        if actor_uri(base_url, recipient.username) == follower_uri:
            continue
        # A server may send the same Follow again (a retry, a refresh): one unread notice is enough.
        await notifications.notify(session, recipient.id, "follow", actor_uri=follower_uri,
                                   object_uri=followed_uri, detail="request" if pending else "",
                                   unless_unread=True)


async def on_new_object(session: AsyncSession, base_url: str, obj: StoredObject,
                        mentioned: list[str] = ()) -> None:
    """A reply (to an item or to a reply of ours), a mention, or a reuse of one of our items.
    `mentioned`: the actors the object names (its Mention tags)."""
    told: set[int] = set()
    author = obj.author_uri
    if obj.in_reply_to:
        parent = await content.find_object(session, obj.in_reply_to)
        if parent is not None:
            await _tell(session, base_url, await _authors(session, base_url, parent), "reply", actor=author,
                        object_uri=obj.uri, told=told)
            root = parent
            for _ in range(60):  # the item the conversation hangs under: its authors follow it
                if not root.in_reply_to:
                    break
                up = await content.find_object(session, root.in_reply_to)
                if up is None:
                    break
                root = up
            if root is not parent:
                await _tell(session, base_url, await _authors(session, base_url, root), "reply", actor=author,
                            object_uri=obj.uri, told=told)
    if obj.based_on:
        origin = await content.find_object(session, obj.based_on)
        if origin is not None and origin.is_local:
            await _tell(session, base_url, await _authors(session, base_url, origin), "reuse", actor=author,
                        object_uri=obj.uri, detail=origin.uri, told=told)
    mentioned = [*mentioned, *(m.get("href") for m in (obj.extra or {}).get("mentions", []) if isinstance(m, dict))]
    if mentioned:
        await _tell(session, base_url, await _local_actors(session, base_url, mentioned), "mention", actor=author,
                    object_uri=obj.uri, told=told)


async def on_interaction(session: AsyncSession, base_url: str, *, kind: str, actor: str, object_uri: str) -> None:
    """A like or a boost of a local item (or of a local reply)."""
    item = await content.find_object(session, object_uri)
    if item is None or kind not in INTERACTION_KINDS:
        return
    await _tell(session, base_url, await _authors(session, base_url, item), INTERACTION_KINDS[kind], actor=actor,
                object_uri=object_uri)
