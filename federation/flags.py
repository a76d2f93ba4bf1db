"""Reports between servers as `Flag` activities, in Mastodon's shape.

Received: `{"type": "Flag", "actor": <instance actor>, "object": [account, status, ...],
"content": comment}`, signed by the reporting server's instance actor; `object` may also be a
single IRI. Only what concerns this island is kept: our actors, and objects stored here.

Sent: the same shape, from the island actor, to the reported account's server (its shared inbox
when it has one), addressed to nobody else: a report is not public.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from archipel import content, reports
from archipel.accounts import island_actor
from archipel.errors import InvalidInput
from archipel.identity import activity_uri
from archipel.storage.tables import LocalActor, Report, StoredObject
from federation.as2 import host_of, ids_of, text_value
from federation.documents import ActorUrls
from federation.outbox import enqueue
from federation.vocabulary import ACTIVITY_CONTEXT

MAX_OBJECTS = reports.MAX_OBJECTS


# ---- received -----------------------------------------------------------------------------------

async def receive_flag(ctx, local_actor_at, ignored) -> Report:
    """The handler's work (federation/handlers.py registers it): `local_actor_at` finds our actor
    for a URI, `ignored` is the exception that records an activity we have no use for."""
    if not ctx.incoming.body_trusted:
        raise ignored(f"signed by {ctx.incoming.signer_uri}, not by its actor: body not trusted")
    activity = ctx.activity
    reporter = ctx.incoming.actor_uri
    mentioned = list(dict.fromkeys(ids_of(activity.get("object"))))[:MAX_OBJECTS * 5]
    ours_actors: list[LocalActor] = []
    items: list[StoredObject] = []
    kept: list[str] = []
    for uri in mentioned:
        actor = await local_actor_at(ctx, uri)
        if actor is not None:
            ours_actors.append(actor)
            continue
        item = await content.find_object(ctx.session, uri)
        if item is not None:
            items.append(item)
            kept.append(uri)
    if not ours_actors and not items:
        raise ignored("a report about nothing of ours")
    base = ctx.base_url
    if ours_actors:
        target = ActorUrls(base, ours_actors[0].username).id
    else:
        target = items[0].author_uri
    concerned = list(ours_actors)
    for item in items:
        if item.local_author_id is not None:
            author = await ctx.session.get(LocalActor, item.local_author_id)
            if author is not None:
                concerned.append(author)
    report = await reports.receive(
        ctx.session, activity_uri=activity.get("id") if isinstance(activity.get("id"), str) else None,
        reporter_uri=reporter, target_actor_uri=target, object_uris=kept,
        comment=text_value(activity, "content"), concerned=concerned)
    if report is None:
        raise ignored("report already recorded")
    return report


# ---- sent ---------------------------------------------------------------------------------------

def flag_document(*, id: str, actor: str, account: str, objects: list[str], comment: str) -> dict:
    """Mastodon's Flag: the account first, then the reported statuses; no addressing."""
    return {"@context": ACTIVITY_CONTEXT, "id": id, "type": "Flag", "actor": actor,
            "object": [account, *[uri for uri in objects if uri != account]], "content": comment}


async def resolve_target(session: AsyncSession, directory, target: str) -> tuple[str, list[str]]:
    """(account URI, reported object URIs) for a remote object stored here or a remote actor URI."""
    target = (target or "").strip()
    if not target.startswith(("http://", "https://")):
        raise InvalidInput("Donnez l'adresse d'un contenu ou d'un compte d'un autre serveur.")
    if directory.is_local(target) or host_of(target) == host_of(directory.base_url):
        raise InvalidInput("C'est un contenu de cette île : masquez-le ou supprimez-le plutôt que de le signaler.")
    item = await content.find_object(session, target)
    if item is not None:
        if item.is_local:
            raise InvalidInput("C'est un contenu de cette île : masquez-le ou supprimez-le plutôt que de le signaler.")
        return item.author_uri, [item.uri]
    return target, []


async def send_report(session: AsyncSession, *, base_url: str, account, objects: list[str], comment: str,
                      moderator: LocalActor | None) -> Report:
    """Queue the island's Flag to the account's server and record the report, in one transaction.
    `account` is the RemoteActor reported (or the author of the reported objects)."""
    comment = reports.clean_comment(comment)
    if not comment:
        raise InvalidInput("Dites pourquoi vous signalez ceci : la modération de l'autre serveur le lira.")
    island = await island_actor(session)
    urls = ActorUrls(base_url, island.username)
    flag = flag_document(id=activity_uri(base_url), actor=urls.id, account=account.uri, objects=objects,
                         comment=comment)
    await enqueue(session, actor=island, activity=flag, inboxes=[account.shared_inbox or account.inbox],
                  public=False)
    return await reports.record_sent(session, activity_uri=flag["id"], reporter_uri=urls.id,
                                     target_actor_uri=account.uri, object_uris=objects, comment=comment,
                                     moderator=moderator)
