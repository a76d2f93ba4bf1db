"""The inbox handlers' one-line hooks into notifications (archipel/notifying.py): what an
incoming activity means for the local actors it concerns."""

from __future__ import annotations

from archipel import notifying
from archipel.storage.tables import StoredObject
from federation.as2 import as_list, has_type, id_of


async def followed(ctx, *, follower_uri: str, followed_uri: str, state: str) -> None:
    await notifying.on_follow(ctx.session, ctx.base_url, follower_uri=follower_uri, followed_uri=followed_uri,
                              pending=state == "pending")


async def created(ctx, stored: StoredObject, obj: dict) -> None:
    """A reply, a reuse, or a post naming one of our actors (its Mention tags)."""
    mentioned = [id_of(tag.get("href")) for tag in as_list(obj.get("tag"))
                 if isinstance(tag, dict) and has_type(tag, "Mention")]
    await notifying.on_new_object(ctx.session, ctx.base_url, stored, [m for m in mentioned if m])


async def interacted(ctx, kind: str, object_uri: str) -> None:
    await notifying.on_interaction(ctx.session, ctx.base_url, kind=kind, actor=ctx.incoming.actor_uri,
                                   object_uri=object_uri)
