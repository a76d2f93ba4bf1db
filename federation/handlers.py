"""One small handler per (activity type, object type): the inbox worker's dispatch table.

A handler raises Ignored for an activity we have no use for (recorded, never an error); it
trusts nothing in a body that was signed by someone other than its actor.
"""

from __future__ import annotations

from sqlalchemy import delete as sql_delete
from sqlalchemy import select

from archipel import content, social
from archipel.accounts import find_actor, island_actor
from archipel.storage.tables import Follow, Interaction, LocalActor, RemoteActor, StoredObject
from federation import (actions, catalog_sync, flags, items, mentions, notify_hooks, replicas,
                        theme_actors)
from federation.as2 import as_list, has_type, host_of, id_of, ids_of, same_host, types_of
from federation.client import FetchError
from federation.domains import mark_if_silenced
from federation.jsonld import normalize
from federation.vocabulary import ACTOR_TYPES


class Ignored(Exception):
    """Nothing to do with this activity; the message says why."""


def object_type_of(activity: dict) -> str | None:
    obj = activity.get("object")
    if isinstance(obj, list) and len(obj) == 1:
        obj = obj[0]
    kinds = types_of(obj) if isinstance(obj, dict) else []
    for kind in kinds:
        if kind in ACTOR_TYPES:
            return "Actor"
        if kind in replicas.CONTENT_TYPES:
            return "Content"
    return kinds[0] if kinds else None


# ---- helpers ---------------------------------------------------------------------------------

async def local_actor_at(ctx, uri: str | None) -> LocalActor | None:
    prefix = ctx.base_url.rstrip("/") + "/users/"
    if not uri or not uri.startswith(prefix):
        return None
    return await find_actor(ctx.session, uri[len(prefix):])


def require_trusted(ctx) -> None:
    if not ctx.incoming.body_trusted:
        raise Ignored(f"signed by {ctx.incoming.signer_uri}, not by its actor: body not trusted")


def actor_of(ctx) -> str:
    return ctx.incoming.actor_uri


async def hub_reshare(ctx, item: StoredObject, *, fresh: bool = False) -> None:
    """A hub re-shares what changed here, and only that: a cycle of hubs therefore ends.
    Theme actors share (or stop sharing) every received item whatever the mode. Both only
    for items of the islands this island follows (content.in_archipelago). `fresh`: just stored."""
    await theme_actors.sync_shares(ctx.session, ctx.base_url, item, fresh=fresh)
    if (ctx.hub and not item.is_local and item.kind in items.RICH_KINDS + ("article",)
            and await content.is_in_archipelago(ctx.session, item)):
        await actions.reshare(ctx.session, ctx.base_url, item)


async def followed_by_island(ctx, actor_uri: str) -> bool:
    """Is this one of the islands (or accounts) the island itself follows? A member's follow of
    a person brings that person's posts here, never into what the island shows or shares."""
    island = await island_actor(ctx.session)
    relation = await social.find_follow(ctx.session, f"{ctx.base_url}/users/{island.username}", actor_uri)
    return relation is not None and relation.state == "accepted"


# ---- follows ----------------------------------------------------------------------------------

async def on_follow(ctx) -> None:
    require_trusted(ctx)
    target = await local_actor_at(ctx, id_of(ctx.activity.get("object")))
    if target is None:
        raise Ignored("Follow of an actor that is not ours")
    follower = await ctx.directory.get(actor_of(ctx))
    activity_id = id_of(ctx.activity)
    if not activity_id:
        raise Ignored("Follow without an id cannot be answered")
    state = "pending" if target.manually_approves_followers else "accepted"
    followed_uri = f"{ctx.base_url}/users/{target.username}"
    relation, previous = await social.upsert_follow(ctx.session, follower_uri=follower.uri, followed_uri=followed_uri,
                                                    activity_uri=activity_id, state=state)
    if previous is None:  # a repeated Follow (a flood, a retry) tells nobody again
        await notify_hooks.followed(ctx, follower_uri=follower.uri, followed_uri=followed_uri, state=state)
    if relation.state == "accepted":
        if previous == "accepted" and await actions.accept_outstanding(ctx.session, target, follower,
                                                                       ctx.incoming.received_at):
            raise Ignored("Follow repeated while its Accept is on its way")
        # A Follow repeated later is answered again: its server lost our Accept (Mastodon re-answers).
        await actions.answer_follow(ctx.session, ctx.base_url, target, follower, ctx.incoming.payload,
                                    accept=True)
        if previous != "accepted" and ctx.follow_back and target.kind == "island" and follower.type == "Group":
            ours = f"{ctx.base_url}/users/{target.username}"
            if await social.find_follow(ctx.session, ours, follower.uri) is None:
                await actions.follow(ctx.session, ctx.base_url, target, follower)


async def on_undo_follow(ctx) -> None:
    require_trusted(ctx)
    inner = ctx.activity["object"]
    if id_of(inner.get("actor")) != actor_of(ctx):
        raise Ignored("Undo of someone else's Follow")
    if not await social.remove_follow(ctx.session, actor_of(ctx), id_of(inner.get("object")) or ""):
        raise Ignored("Undo of a follow we did not know")


async def _our_follow(ctx) -> Follow:
    """The Follow we sent that an Accept/Reject answers: by its id, and sent to the answerer."""
    follow_id = id_of(ctx.activity.get("object"))
    relation = await ctx.session.scalar(
        select(Follow).where(Follow.activity_uri == follow_id, Follow.followed_uri == actor_of(ctx))
    ) if follow_id else None
    if relation is None:
        # Some servers answer with a new id for our Follow: match on the pair instead.
        inner = ctx.activity.get("object")
        follower = id_of(inner.get("actor")) if isinstance(inner, dict) else None
        if follower:
            relation = await social.find_follow(ctx.session, follower, actor_of(ctx))
    if relation is None or await local_actor_at(ctx, relation.follower_uri) is None:
        raise Ignored("answer to a Follow we never sent")
    return relation


async def on_accept_follow(ctx) -> None:
    require_trusted(ctx)
    await social.set_follow_state(ctx.session, await _our_follow(ctx), "accepted")
    # An island with a catalog: import what it already published (backfill), then keep up.
    actor = await ctx.directory.get(actor_of(ctx))
    catalog = id_of((actor.document or {}).get("catalog"))
    if catalog and same_host(catalog, actor.uri):
        await catalog_sync.start_sync(ctx.session, actor.uri, catalog)


async def on_reject_follow(ctx) -> None:
    require_trusted(ctx)
    relation = await _our_follow(ctx)
    await social.remove_follow(ctx.session, relation.follower_uri, relation.followed_uri)


# ---- content --------------------------------------------------------------------------------

async def _trusted_object(ctx) -> dict:
    """The object of a Create/Update, from the body when trusted, else from its origin."""
    obj = ctx.activity.get("object")
    object_id = id_of(obj)
    if not object_id:
        raise Ignored("object without an id")
    if ctx.incoming.body_trusted and isinstance(obj, dict):
        if not same_host(object_id, actor_of(ctx)):
            raise Ignored(f"object {object_id} is claimed for a foreign host by {actor_of(ctx)}")
        return obj
    # Not trusted, or only a reference: ask the origin (signed GET), which then vouches for it.
    fetched = normalize((await ctx.directory.client.fetch_object(object_id, ctx.directory.signer)).document)
    if fetched.get("id") != object_id:
        raise Ignored(f"{object_id} answered with another id ({fetched.get('id')})")
    return fetched


async def _is_relevant(ctx, obj: dict, author: str) -> bool:
    """We keep replies to our items, posts addressing our actors, and posts of actors we follow."""
    in_reply_to = id_of(obj.get("inReplyTo"))
    if in_reply_to and await content.find_object(ctx.session, in_reply_to):
        return True
    based_on = id_of(obj.get("isBasedOn"))
    if based_on and host_of(based_on) == host_of(ctx.base_url) and await content.find_object(ctx.session, based_on):
        return True  # a reuse of one of our items, made on another island
    addressed = ids_of(obj.get("to")) + ids_of(obj.get("cc"))
    addressed += [id_of(tag.get("href")) for tag in as_list(obj.get("tag"))
                  if isinstance(tag, dict) and has_type(tag, "Mention")]
    for uri in addressed:
        if uri and await local_actor_at(ctx, uri):
            return True
    followed = await ctx.session.scalar(
        select(Follow.id).where(Follow.followed_uri == author, Follow.state == "accepted").limit(1)
    )
    return followed is not None


async def on_create(ctx) -> None:
    obj = await _trusted_object(ctx)
    author = replicas.author_of(obj)
    if not author or not same_host(author, obj["id"]):
        raise Ignored(f"{obj['id']} is attributed to {author}, not an actor of its host")
    if ctx.incoming.body_trusted and author != actor_of(ctx):
        raise Ignored(f"{actor_of(ctx)} created an object attributed to {author}")
    existing = await content.find_object(ctx.session, obj["id"])
    if existing is not None:
        raise Ignored("already known" if existing.deleted_at is None else "deleted: never re-created")
    if host_of(obj["id"]) == host_of(ctx.base_url):
        raise Ignored("an object of ours cannot be created from outside")
    if await mentions.take_proposal(ctx, obj, author):
        return  # a post mentioning the island is a proposal for the moderators' queue
    if not await _is_relevant(ctx, obj, author):
        raise Ignored("not addressed to us, not a reply to our items, not from someone we follow")
    stored = await _store(ctx, obj, author)
    await notify_hooks.created(ctx, stored, obj)
    await hub_reshare(ctx, stored, fresh=True)


async def _store(ctx, obj: dict, author: str, *, shared_by: str | None = None) -> StoredObject:
    try:
        return mark_if_silenced(ctx.directory.client.policy,
                                await replicas.store(ctx.session, obj, author, shared_by=shared_by))
    except replicas.AlreadyStored:
        raise Ignored("already known (stored meanwhile by another worker)") from None


async def on_update(ctx) -> None:
    obj = await _trusted_object(ctx)
    existing = await content.find_object(ctx.session, obj["id"])
    if existing is None or existing.is_local:
        raise Ignored("update of an object we do not hold")
    if existing.author_uri != replicas.author_of(obj) or (ctx.incoming.body_trusted and existing.author_uri != actor_of(ctx)):
        raise Ignored(f"{actor_of(ctx)} may not update {obj['id']}")
    if existing.deleted_at is not None:
        raise Ignored("update of a deleted object")
    if not await replicas.update(ctx.session, existing, obj, actor_of(ctx)):
        raise Ignored("update not newer than what we have")
    await hub_reshare(ctx, existing)


async def on_update_actor(ctx) -> None:
    require_trusted(ctx)
    obj = ctx.activity["object"]
    if obj.get("id") != actor_of(ctx):
        raise Ignored("an actor may only update itself")
    await ctx.directory.store(obj, actor_of(ctx))


async def on_delete(ctx) -> None:
    require_trusted(ctx)
    target = id_of(ctx.activity.get("object"))
    if target == actor_of(ctx):
        await _forget_actor(ctx, target)
        return
    existing = await content.find_object(ctx.session, target) if target else None
    if existing is None or existing.is_local:
        raise Ignored("delete of an object we do not hold")
    if existing.author_uri != actor_of(ctx) and not await _gone_at_origin(ctx, existing):
        raise Ignored(f"{actor_of(ctx)} may not delete {target}")
    await content.withdraw(ctx.session, existing)
    await hub_reshare(ctx, existing)


async def _gone_at_origin(ctx, existing: StoredObject) -> bool:
    """A group's event is deleted by one of its organisers, not by the group it is attributed to
    (Mobilizon: the Delete's actor is the member who deleted it). Such a Delete, from an actor of
    the event's own server, is believed when that server says so: the event's id answers 404 or
    410. Anyone else's Delete changes nothing."""
    if existing.kind != "event" or not same_host(actor_of(ctx), existing.uri):
        return False
    try:
        await ctx.directory.client.fetch_object(existing.uri, ctx.directory.signer)
    except FetchError as error:
        return error.status in (404, 410)
    return False


async def _forget_actor(ctx, actor_uri: str) -> None:
    await ctx.session.execute(sql_delete(Follow).where(
        (Follow.follower_uri == actor_uri) | (Follow.followed_uri == actor_uri)))
    await catalog_sync.stop_if_unfollowed(ctx.session, actor_uri)
    await ctx.session.execute(sql_delete(Interaction).where(Interaction.actor_uri == actor_uri))
    for item in await ctx.session.scalars(select(StoredObject).where(
            StoredObject.author_uri == actor_uri, StoredObject.deleted_at.is_(None))):
        await content.withdraw(ctx.session, item)
    await ctx.session.execute(sql_delete(RemoteActor).where(RemoteActor.uri == actor_uri))
    ctx.directory.forget(actor_uri)


# ---- likes and boosts -------------------------------------------------------------------------

async def _on_interaction(ctx, kind: str) -> None:
    require_trusted(ctx)
    target = id_of(ctx.activity.get("object"))
    item = await content.find_object(ctx.session, target) if target else None
    if item is None or not item.is_local:
        raise Ignored(f"{kind} of an object that is not ours")
    if item.deleted_at is not None:
        raise Ignored(f"{kind} of a withdrawn item")
    if not id_of(ctx.activity):
        raise Ignored(f"{kind} without an id")
    if not await social.record_interaction(ctx.session, kind=kind, activity_uri=id_of(ctx.activity),
                                           actor_uri=actor_of(ctx), object_uri=target):
        raise Ignored(f"{kind} already recorded")
    await notify_hooks.interacted(ctx, kind, target)


async def on_like(ctx) -> None:
    await _on_interaction(ctx, "Like")


async def on_announce_activity(ctx) -> None:
    """FEP-1b12's Announce(Create|Update|Delete): islands also send the Announce of the object,
    which carries the same item and is what we act on."""
    raise Ignored("FEP-1b12 form: the Announce of the object carries this item")


async def on_announce(ctx) -> None:
    """A boost of one of our items is counted; a re-share by an actor we follow (an island, a
    person) brings the item here, fetched from its origin."""
    target = id_of(ctx.activity.get("object"))
    if target and host_of(target) == host_of(ctx.base_url):
        await _on_interaction(ctx, "Announce")
        return
    require_trusted(ctx)
    followed = await ctx.session.scalar(select(Follow.id).where(
        Follow.followed_uri == actor_of(ctx), Follow.state == "accepted").limit(1))
    if not followed or not target:
        raise Ignored("re-share by an actor nobody here follows")
    existing = await content.find_object(ctx.session, target)
    if existing is not None and (existing.deleted_at is not None or existing.is_local):
        raise Ignored("deleted: never re-created" if existing.deleted_at else "one of ours")
    try:
        obj = normalize((await ctx.directory.client.fetch_object(target, ctx.directory.signer)).document)
    except FetchError as error:
        if existing is not None and error.status == 410:  # re-shared because it was withdrawn
            await content.withdraw(ctx.session, existing)
            await hub_reshare(ctx, existing)
            return
        raise
    if obj.get("id") != target:
        raise Ignored(f"{target} answered with another id ({obj.get('id')})")
    author = replicas.author_of(obj)
    if not author or not same_host(author, target):
        raise Ignored(f"{target} is attributed to {author}, not an actor of its host")
    if not has_type(obj, *replicas.CONTENT_TYPES):
        raise Ignored(f"re-share of something that is not content ({types_of(obj)})")
    by_island = await followed_by_island(ctx, actor_of(ctx))
    if existing is not None:
        if existing.author_uri != author:
            raise Ignored("already known, by another author")
        # Re-shared by an island we follow (a hub): part of the archipelago from now on. Marked
        # once only, so that hubs re-sharing each other's shares stop.
        joined = by_island and not await content.is_in_archipelago(ctx.session, existing)
        if joined:
            replicas.mark_shared_by(existing, actor_of(ctx))
        # Known already: the re-share says it changed; its origin tells how (the newest wins).
        if not await replicas.update(ctx.session, existing, obj, author) and not joined:
            raise Ignored("already known, unchanged")
        await hub_reshare(ctx, existing)
        return
    await hub_reshare(ctx, await _store(ctx, obj, author, shared_by=actor_of(ctx) if by_island else None),
                      fresh=True)


async def _on_undo_interaction(ctx, kind: str) -> None:
    require_trusted(ctx)
    inner = ctx.activity.get("object")
    inner_id = id_of(inner)
    inner_object = id_of(inner.get("object")) if isinstance(inner, dict) else None
    if isinstance(inner, dict) and id_of(inner.get("actor")) not in (None, actor_of(ctx)):
        raise Ignored("Undo of someone else's activity")
    if not await social.remove_interaction(ctx.session, kind=kind, actor_uri=actor_of(ctx),
                                           activity_uri=inner_id, object_uri=inner_object):
        raise Ignored(f"Undo of a {kind} we did not know")


async def on_undo_like(ctx) -> None:
    await _on_undo_interaction(ctx, "Like")


async def on_undo_announce(ctx) -> None:
    await _on_undo_interaction(ctx, "Announce")


async def on_undo_reference(ctx) -> None:
    """Undo whose object is only an id: find what it was among what this actor did."""
    require_trusted(ctx)
    inner_id = id_of(ctx.activity.get("object"))
    for kind in ("Like", "Announce"):
        if await social.remove_interaction(ctx.session, kind=kind, actor_uri=actor_of(ctx),
                                           activity_uri=inner_id, object_uri=None):
            return
    relation = await ctx.session.scalar(select(Follow).where(
        Follow.activity_uri == inner_id, Follow.follower_uri == actor_of(ctx)))
    if relation is None:
        raise Ignored("Undo of an activity we did not know")
    await social.remove_follow(ctx.session, relation.follower_uri, relation.followed_uri)


# ---- blocks ------------------------------------------------------------------------------------

async def on_block(ctx) -> None:
    """A remote account blocked one of our actors (Mastodon, GoToSocial): the follows between
    the two end, both ways, as on their side. Nobody is told: a block is not a public event."""
    require_trusted(ctx)
    blocked = await local_actor_at(ctx, id_of(ctx.activity.get("object")))
    if blocked is None:
        raise Ignored("Block of an actor that is not ours")
    blocker = actor_of(ctx)
    ours = f"{ctx.base_url}/users/{blocked.username}"
    await social.remove_follow(ctx.session, blocker, ours)
    await social.remove_follow(ctx.session, ours, blocker)
    await catalog_sync.stop_if_unfollowed(ctx.session, blocker)


async def on_undo_block(ctx) -> None:
    """The block is lifted: nothing comes back by itself (follows are asked for again)."""
    require_trusted(ctx)
    inner = ctx.activity.get("object")
    if id_of(inner.get("actor")) not in (None, actor_of(ctx)):
        raise Ignored("Undo of someone else's Block")


# ---- reports -----------------------------------------------------------------------------------

async def on_flag(ctx) -> None:
    await flags.receive_flag(ctx, local_actor_at, Ignored)


HANDLERS = {
    ("Follow", None): on_follow,
    ("Follow", "Actor"): on_follow,
    ("Undo", "Follow"): on_undo_follow,
    ("Undo", "Like"): on_undo_like,
    ("Undo", "Announce"): on_undo_announce,
    ("Undo", None): on_undo_reference,
    ("Accept", "Follow"): on_accept_follow,
    ("Accept", None): on_accept_follow,
    ("Reject", "Follow"): on_reject_follow,
    ("Reject", None): on_reject_follow,
    ("Create", "Content"): on_create,
    ("Create", None): on_create,
    ("Update", "Content"): on_update,
    ("Update", "Actor"): on_update_actor,
    ("Delete", None): on_delete,
    ("Delete", "Tombstone"): on_delete,
    ("Delete", "Actor"): on_delete,
    ("Like", None): on_like,
    ("Like", "Content"): on_like,
    ("Announce", None): on_announce,
    ("Announce", "Create"): on_announce_activity,
    ("Announce", "Update"): on_announce_activity,
    ("Announce", "Delete"): on_announce_activity,
    ("Announce", "Content"): on_announce,
    ("Block", None): on_block,
    ("Block", "Actor"): on_block,
    ("Undo", "Block"): on_undo_block,
    ("Flag", None): on_flag,  # any object shape: one IRI, a list, embedded objects
}
