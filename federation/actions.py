"""Local actions that other servers must hear of: the domain change and the outgoing activity
are written in the caller's transaction (see outbox.enqueue).

The command line, the pages and the inbox worker all come through here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete as sql_delete
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.queue_states import DeliveryStates
from archipel import accounts, content, social
from archipel.errors import NotFound
from archipel.identity import activity_uri
from archipel.storage.tables import (CatalogSync, Delivery, Follow, LocalActor, OutgoingActivity, RemoteActor,
                                     StoredObject)
from federation import documents, theme_actors
from federation.documents import ActorUrls
from federation.outbox import enqueue, follower_inboxes
from federation.vocabulary import PUBLIC

FEDERATED_STATES = ("published", "archived")


async def publish_item(session: AsyncSession, base_url: str, authors: list[LocalActor], **fields) -> StoredObject:
    """Create an item; a published one goes to its authors' followers as a Create."""
    item = await content.create_item(session, base_url=base_url, authors=authors, **fields)
    if item.state in FEDERATED_STATES:
        await _announce_change(session, base_url, item, "Create")
    return item


async def edit_item(session: AsyncSession, base_url: str, item: StoredObject, *, editor: LocalActor,
                    **changes) -> StoredObject:
    """Change an item: followers get an Update (or its first Create when a draft is published)."""
    was_federated = item.state in FEDERATED_STATES
    item = await content.update_item(session, item, editor_uri=ActorUrls(base_url, editor.username).id,
                                     **changes)
    if item.state in FEDERATED_STATES:
        await _announce_change(session, base_url, item, "Update" if was_federated else "Create")
    return item


async def publish_article(session: AsyncSession, base_url: str, author: LocalActor, **fields) -> StoredObject:
    return await publish_item(session, base_url, [author], **fields)


async def update_article(session: AsyncSession, base_url: str, author: LocalActor,
                         article: StoredObject, **fields) -> StoredObject:
    return await edit_item(session, base_url, article, editor=author,
                           **{k: v for k, v in fields.items() if v is not None})


async def withdraw_article(session: AsyncSession, base_url: str, author: LocalActor,
                           article: StoredObject) -> StoredObject:
    if article.deleted_at is not None:
        return article
    was_federated = article.state in FEDERATED_STATES
    article = await content.withdraw(session, article)
    if was_federated:
        # Whoever received the item, from its authors or through the island's re-share, hears of it.
        inboxes = await _audience_inboxes(session, base_url, await content.authors_of(session, article),
                                          article.uri)
        await enqueue(session, actor=author, activity=documents.delete(article, activity_uri(base_url)),
                      inboxes=sorted(inboxes))
        await theme_actors.sync_shares(session, base_url, article)
    return article


async def _audience_inboxes(session, base_url: str, author_uris: list[str], item_uri: str) -> set[str]:
    """Inboxes of the followers of every author, of the island (which re-shares their items) and
    of the theme actors that shared the item."""
    island = await accounts.island_actor(session)
    inboxes = await theme_actors.sharer_inboxes(session, base_url, item_uri)
    for uri in [*author_uris, ActorUrls(base_url, island.username).id]:
        inboxes.update(await follower_inboxes(session, uri))
    return inboxes


async def _announce_change(session, base_url: str, item: StoredObject, kind: str) -> None:
    """Create or Update, from the first author, to the followers of every author."""
    authors = await content.authors_of(session, item)
    author = await session.get(LocalActor, item.local_author_id)
    activity = documents.create_or_update(kind, item, base_url, activity_uri(base_url), authors=authors)
    inboxes = await _audience_inboxes(session, base_url, authors, item.uri) if kind == "Update" else set()
    for uri in authors:
        inboxes.update(await follower_inboxes(session, uri))
    origin_author = await _remote_origin_author(session, item)
    if origin_author is not None:
        # A reuse tells the origin's author (and so its island) that their work lives on.
        activity["cc"] = [*activity["cc"], origin_author.uri]
        activity["object"]["cc"] = activity["cc"]
        inboxes.add(origin_author.shared_inbox or origin_author.inbox)
    await enqueue(session, actor=author, activity=activity, inboxes=sorted(inboxes))
    if kind == "Create":
        await reshare(session, base_url, item, activity)
    await theme_actors.sync_shares(session, base_url, item)


async def reshare(session, base_url: str, item: StoredObject, activity: dict | None = None) -> None:
    """The island re-shares an item: what its members publish (following one island is enough),
    and in hub mode what it receives, again each time that changes.

    Announce of the object IRI (what Mastodon understands), with FEP-1b12's `audience`; a
    receiver that already holds the item refreshes it from its origin. For a member's new
    item, group followers (islands, Lemmy-like communities) also get FEP-1b12's own form, the
    Announce of the Create activity itself; Mastodon ignores that form, so others never get it."""
    island = await accounts.island_actor(session)
    urls = ActorUrls(base_url, island.username)
    inboxes = await follower_inboxes(session, urls.id)
    if not inboxes:
        return
    announce = documents.activity("Announce", id=activity_uri(base_url), actor=urls.id, object=item.uri,
                                  to=[PUBLIC], cc=[urls.followers], published=item.published)
    announce["audience"] = urls.id
    await enqueue(session, actor=island, activity=announce, inboxes=inboxes)
    groups = await follower_inboxes(session, urls.id, actor_types=("Group",)) if activity else []
    if groups:
        wrapped = documents.activity("Announce", id=activity_uri(base_url), actor=urls.id,
                                     object=documents.strip_context(activity), to=[PUBLIC],
                                     cc=[urls.followers], published=item.published,
                                     context=documents.OBJECT_CONTEXT)
        wrapped["audience"] = urls.id
        await enqueue(session, actor=island, activity=wrapped, inboxes=groups)


async def _remote_origin_author(session, item: StoredObject) -> RemoteActor | None:
    if not item.based_on:
        return None
    origin = await content.find_object(session, item.based_on)
    if origin is None or origin.is_local:
        return None
    return await session.scalar(select(RemoteActor).where(RemoteActor.uri == origin.author_uri))


async def _send_to_followers(session, base_url: str, actor: LocalActor, activity: dict) -> None:
    urls = ActorUrls(base_url, actor.username)
    await enqueue(session, actor=actor, activity=activity,
                  inboxes=await follower_inboxes(session, urls.id))


async def follow(session: AsyncSession, base_url: str, actor: LocalActor, target: RemoteActor) -> Follow:
    """Send a Follow; the relation stays pending until the target's Accept arrives."""
    urls = ActorUrls(base_url, actor.username)
    follow_id = activity_uri(base_url)
    relation = await social.record_follow(session, follower_uri=urls.id, followed_uri=target.uri,
                                          activity_uri=follow_id, state="pending")
    activity = documents.activity("Follow", id=follow_id, actor=urls.id, object=target.uri)
    await enqueue(session, actor=actor, activity=activity, inboxes=[target.inbox], public=False)
    return relation


async def unfollow(session: AsyncSession, base_url: str, actor: LocalActor, target: RemoteActor) -> bool:
    urls = ActorUrls(base_url, actor.username)
    relation = await social.find_follow(session, urls.id, target.uri)
    if relation is None:
        return False
    inner = documents.strip_context(
        documents.activity("Follow", id=relation.activity_uri, actor=urls.id, object=target.uri))
    undo = documents.activity("Undo", id=activity_uri(base_url), actor=urls.id, object=inner)
    await social.remove_follow(session, urls.id, target.uri)
    await session.execute(sql_delete(CatalogSync).where(CatalogSync.actor_uri == target.uri))
    await enqueue(session, actor=actor, activity=undo, inboxes=[target.inbox], public=False)
    return True


async def answer_follow(session: AsyncSession, base_url: str, actor: LocalActor, follower: RemoteActor,
                        follow_activity: dict, *, accept: bool) -> None:
    """Accept or Reject, signed by the followed actor, embedding the Follow it answers."""
    urls = ActorUrls(base_url, actor.username)
    embedded = documents.strip_context(follow_activity)
    answer = documents.activity("Accept" if accept else "Reject", id=activity_uri(base_url),
                                actor=urls.id, object=embedded)
    await enqueue(session, actor=actor, activity=answer, inboxes=[follower.inbox], public=False)




# A Follow repeated this soon after an Accept of the same relation is part of a burst (a flood,
# a retry): that Accept answers it.
REANSWER_AFTER = timedelta(minutes=1)


async def accept_outstanding(session: AsyncSession, actor: LocalActor, follower: RemoteActor,
                             received_at: datetime) -> bool:
    """Is there an Accept from `actor` to the follower's inbox that answers a repeated Follow
    received at `received_at` too: one still to deliver (or in flight), or one made less than
    REANSWER_AFTER before it, or since?

    A burst of Follows gets one Accept however fast that Accept is delivered; a Follow repeated
    later (a server that lost our Accept, an account re-following after a block was lifted) gets
    a new one, as Mastodon answers."""
    return await session.scalar(
        select(Delivery.id).join(OutgoingActivity, Delivery.outgoing_id == OutgoingActivity.id)
        .where(OutgoingActivity.actor_id == actor.id, OutgoingActivity.activity_type == "Accept",
               Delivery.inbox_url == follower.inbox,
               or_(Delivery.state.in_((DeliveryStates.PENDING, DeliveryStates.IN_FLIGHT)),
                   OutgoingActivity.created_at >= received_at - REANSWER_AFTER,
                   Delivery.finished_at >= received_at))
        .limit(1)) is not None


async def pending_requests(session: AsyncSession, base_url: str, actor: LocalActor) -> list[Follow]:
    urls = ActorUrls(base_url, actor.username)
    return list(await session.scalars(select(Follow).where(
        Follow.followed_uri == urls.id, Follow.state == "pending").order_by(Follow.id)))


async def decide_follow_request(session: AsyncSession, base_url: str, actor: LocalActor,
                                follower: RemoteActor, *, accept: bool) -> Follow:
    """Manual approval: answer a pending Follow. The answer embeds the Follow as we received it
    (its id is what the follower's server matches)."""
    urls = ActorUrls(base_url, actor.username)
    relation = await social.find_follow(session, follower.uri, urls.id)
    if relation is None or relation.state != "pending":
        raise NotFound("Aucune demande d'abonnement de %(follower)s à %(username)s n'attend de réponse.",
                       follower=follower.uri, username=actor.username)
    follow_activity = {"id": relation.activity_uri, "type": "Follow", "actor": follower.uri,
                       "object": urls.id}
    await answer_follow(session, base_url, actor, follower, follow_activity, accept=accept)
    if accept:
        await social.set_follow_state(session, relation, "accepted")
    else:
        await social.remove_follow(session, follower.uri, urls.id)
    return relation


async def update_profile(session: AsyncSession, base_url: str, actor: LocalActor, **changes) -> bool:
    """Change a profile; its followers get an Update of the actor, so their servers refresh it."""
    if not await accounts.update_profile(session, actor, **changes):
        return False
    activity = documents.actor_update(actor, base_url, activity_uri(base_url))
    await _send_to_followers(session, base_url, actor, activity)
    return True
