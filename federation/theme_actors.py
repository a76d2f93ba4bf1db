"""Theme actors: one followable Group per theme present on the island (`@transition-alimentaire@…`)
that re-shares every fiche, resource and article of its theme, local or replicated from an island
this island follows (content.in_archipelago), so that a fediverse account can follow a subject
across the whole archipelago. What anyone else sends is never shared and never makes a theme.

A theme actor's shares follow the item: an Announce when it enters the theme (published,
received, or edited into it), an Undo(Announce) when it leaves (edited out, withdrawn). Each
share is a row of `shares`, so that a re-delivered activity never shares twice.

Limits, on purpose: items stored by a catalog walk (backfill, catch-up) make their themes
followable but are not shared (a new follow of an island would flood theme followers with old
fiches); the Update of a received item cannot be relayed (servers accept it from its author
only), so followers of a theme see received items as their origin serves them when fetched.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import delete as sql_delete
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import accounts, content
from archipel.handles import theme_slug
from archipel.identity import activity_uri
from archipel.storage.tables import ItemTheme, LocalActor, OutgoingActivity, Share, StoredObject, utcnow
from archipel.themes import theme_key
from federation import documents
from federation.documents import ActorUrls
from federation.keys import new_key_pair
from federation.outbox import enqueue, follower_inboxes
from federation.vocabulary import PUBLIC

SHARED_KINDS = ("fiche", "resource", "article", "event")
# Received articles may come from any fediverse account a member follows: their hashtags are not
# the archipelago's themes. Only fiches, resources and events from elsewhere are shared.
SHARED_REPLICA_KINDS = ("fiche", "resource", "event")


def theme_summary(label: str) -> str:
    return (f"Les fiches et ressources du thème « {label} », publiées sur cette île ou reçues des "
            "autres îles de l'archipel. Suivez ce compte pour les recevoir.")


async def find(session: AsyncSession, spelling: str) -> LocalActor | None:
    """The theme actor of any spelling of its theme: 'TransitionAlimentaire', 'transition_alimentaire'."""
    key = theme_key(spelling)[:100]
    return await accounts.theme_actor(session, key) if key else None


async def ensure(session: AsyncSession, label: str) -> LocalActor | None:
    """The theme's actor, created the first time the theme appears here (None for an empty label).

    Inserted with ON CONFLICT DO NOTHING: two workers meeting a new theme at once both end with
    the one row."""
    key = theme_key(label)[:100]
    slug = theme_slug(label)
    if not key or not slug:
        return None
    existing = await accounts.theme_actor(session, key)
    if existing is not None:
        return existing
    private_pem, public_pem = await asyncio.to_thread(new_key_pair)
    insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    for _ in range(3):  # a name taken meanwhile by another new actor: take the next free one
        username = await accounts.free_username(session, slug, "theme")
        await session.execute(insert(LocalActor).values(
            username=username, kind="theme", display_name=label[:200], summary=theme_summary(label),
            private_key_pem=private_pem, public_key_pem=public_pem, manually_approves_followers=False,
            theme_key=key, links=[]).on_conflict_do_nothing())
        actor = await accounts.theme_actor(session, key)
        if actor is not None:
            return actor
    return None


async def ensure_for(session: AsyncSession, item: StoredObject) -> None:
    """Every theme of a shareable item has its actor (items walked from a catalog are not
    shared, which would flood followers with old fiches, but their themes become followable).
    Nothing from outside the archipelago creates a theme actor."""
    if await _shareable(session, item):
        for label in item.tags or []:
            await ensure(session, label)


async def ensure_present(session: AsyncSession, spelling: str) -> LocalActor | None:
    """The actor of a theme that items here carry, made now if it does not exist yet (themes of
    items stored before theme actors existed)."""
    actor = await find(session, spelling)
    key = theme_key(spelling)[:100]
    if actor is not None or not key:
        return actor
    visible = content.public_items(local=None, kinds=SHARED_KINDS).where(
        StoredObject.is_local.is_(True) | StoredObject.kind.in_(SHARED_REPLICA_KINDS))
    label = await session.scalar(
        select(ItemTheme.label).where(ItemTheme.key == key, ItemTheme.object_id.in_(
            visible.with_only_columns(StoredObject.id).order_by(None))).limit(1))
    return await ensure(session, label) if label else None


async def _shareable(session: AsyncSession, item: StoredObject) -> bool:
    """A public item of this island, or of an island it follows (content.in_archipelago):
    what the README promises theme actors share, and nothing else."""
    return (item.deleted_at is None and item.hidden_at is None and item.public
            and item.state in content.PUBLIC_STATES
            and item.in_reply_to is None
            and item.kind in (SHARED_KINDS if item.is_local else SHARED_REPLICA_KINDS)
            and await content.is_in_archipelago(session, item))


async def sync_shares(session: AsyncSession, base_url: str, item: StoredObject, *, fresh: bool = False) -> None:
    """Make the theme actors' shares of this item match its themes now: Announce where it
    entered a theme, Undo(Announce) where it left one (or was withdrawn). `fresh`: the item was
    just stored, nothing shares it yet."""
    await session.flush()
    wanted: dict[str, str] = {}
    if await _shareable(session, item):
        rows = await session.execute(select(ItemTheme.key, ItemTheme.label)
                                     .where(ItemTheme.object_id == item.id).order_by(ItemTheme.id))
        wanted = {key: label for key, label in rows}
    if fresh and not wanted:
        return
    current = [] if fresh else await session.execute(
        select(Share, LocalActor).join(LocalActor, LocalActor.id == Share.actor_id)
        .where(Share.object_uri == item.uri, LocalActor.kind == "theme"))
    shared_keys = set()
    for share, actor in current:
        if actor.theme_key in wanted:
            shared_keys.add(actor.theme_key)
        else:
            await _undo(session, base_url, actor, share)
    for key, label in wanted.items():
        if key in shared_keys:
            continue
        actor = await ensure(session, label)
        if actor is not None:
            await _announce(session, base_url, actor, item)


async def _announce(session: AsyncSession, base_url: str, actor: LocalActor, item: StoredObject) -> None:
    urls = ActorUrls(base_url, actor.username)
    announce_id = activity_uri(base_url)
    insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    new_id = await session.scalar(insert(Share).values(
        actor_id=actor.id, object_uri=item.uri, activity_uri=announce_id)
        .on_conflict_do_nothing().returning(Share.id))
    if new_id is None:
        return  # shared already (a re-delivered activity, or another worker)
    inboxes = await follower_inboxes(session, urls.id)
    if not inboxes:
        return  # nobody to tell; the share row is kept, so an Undo follows if it leaves the theme
    announce = documents.activity("Announce", id=announce_id, actor=urls.id, object=item.uri,
                                  to=[PUBLIC], cc=[urls.followers], published=utcnow())
    await enqueue(session, actor=actor, activity=announce, inboxes=inboxes)


async def _undo(session: AsyncSession, base_url: str, actor: LocalActor, share: Share) -> None:
    urls = ActorUrls(base_url, actor.username)
    inner = documents.strip_context(documents.activity(
        "Announce", id=share.activity_uri, actor=urls.id, object=share.object_uri, to=[PUBLIC],
        cc=[urls.followers]))
    undo = documents.activity("Undo", id=activity_uri(base_url), actor=urls.id, object=inner,
                              to=[PUBLIC], cc=[urls.followers])
    await session.execute(sql_delete(Share).where(Share.id == share.id))
    # The undone Announce leaves the theme's outbox.
    await session.execute(update(OutgoingActivity).where(OutgoingActivity.activity_uri == share.activity_uri)
                          .values(public=False))
    inboxes = await follower_inboxes(session, urls.id)
    if inboxes:
        await enqueue(session, actor=actor, activity=undo, inboxes=inboxes, public=False)


async def sharer_inboxes(session: AsyncSession, base_url: str, item_uri: str) -> set[str]:
    """Inboxes of the followers of every theme actor that shared the item: who saw it only
    through a theme still needs its Update and Delete."""
    actors = await session.scalars(select(LocalActor).join(Share, Share.actor_id == LocalActor.id)
                                   .where(Share.object_uri == item_uri))
    inboxes: set[str] = set()
    for actor in actors:
        inboxes.update(await follower_inboxes(session, ActorUrls(base_url, actor.username).id))
    return inboxes
