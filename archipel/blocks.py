"""Moderation of the federation: blocks and silences of remote accounts and whole domains.

A block cuts a remote account or server off: nothing received from it, nothing sent to it,
follows both ways removed, its content and interactions removed from the island. A silence
keeps it federating but hides its content from public pages.

Domain rules: an entry 'example.org' covers its subdomains and every port; an entry with a port
('127.0.0.2:8002') names exactly that host and port ("host" means host and port everywhere).

What a silence hid is marked by `hidden_at` equal to the silence's own `created_at`: lifting the
silence un-hides exactly those objects, never one a moderator hid by hand (hidden at another
moment). The federation side keeps an in-memory copy of these rules (federation/domains.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import delete as sql_delete
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.queue_states import DeliveryStates, IncomingStates
from archipel import audit, content
from archipel.errors import InvalidInput, NotFound
from archipel.storage.tables import (
    Block,
    CatalogSync,
    Delivery,
    Follow,
    IncomingActivity,
    Interaction,
    LocalActor,
    RemoteActor,
    StoredObject,
    utcnow,
)

KINDS = ("account", "domain")
SEVERITIES = ("block", "silence")
MAX_REASON = 2000


# ---- matching -------------------------------------------------------------------------------

def normalise_domain(entry: str) -> str:
    """'Social.Example.org.' -> 'social.example.org'; a URL is reduced to its host[:port]."""
    entry = (entry or "").strip().lower()
    if "://" in entry:
        entry = urlsplit(entry).netloc
    return entry.split("/")[0].rstrip(".")


def host_of(uri: str | None) -> str:
    try:
        return urlsplit(uri or "").netloc.lower()
    except ValueError:
        return ""


def host_matches(host: str, entry: str) -> bool:
    """Does a domain entry cover host[:port]? (subdomains included; a port names one server)"""
    host = normalise_domain(host)
    if not host or not entry:
        return False
    if entry.count(":") == 1:
        return host == entry
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name == entry or name.endswith("." + entry)


def uri_matches(uri: str | None, kind: str, target: str) -> bool:
    if not uri:
        return False
    if kind == "account":
        return uri == target or uri.startswith(target + "/") or uri.startswith(target + "#")
    return host_matches(host_of(uri), target)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def uri_condition(column, kind: str, target: str):
    """A SQL pre-filter of the URIs a rule covers (refined in Python with uri_matches)."""
    if kind == "account":
        return or_(column == target, column.like(_like(target) + "/%", escape="\\"))
    host = _like(target)
    patterns = [f"%://{host}/%", f"%.{host}/%"]
    if target.count(":") != 1:  # any port
        patterns += [f"%://{host}:%", f"%.{host}:%"]
    return or_(*(column.like(pattern, escape="\\") for pattern in patterns))


# ---- the rules --------------------------------------------------------------------------------

def check_target(kind: str, target: str, own_host: str) -> str:
    if kind not in KINDS:
        raise InvalidInput("Type de blocage inconnu : %(kind)s.", kind=kind)
    if kind == "domain":
        target = normalise_domain(target)
        if not target or " " in target or "@" in target:
            raise InvalidInput("Donnez un domaine, par exemple exemple.org.")
        if host_matches(own_host, target):
            raise InvalidInput("L'île ne peut pas se bloquer elle-même.")
        return target
    target = (target or "").strip()
    if not target.startswith(("http://", "https://")) or not host_of(target):
        raise InvalidInput("Donnez l'adresse d'un compte : @nom@serveur ou son adresse web.")
    if host_of(target) == own_host.lower():
        raise InvalidInput("Un compte de cette île ne se bloque pas ici.")
    return target


async def rules(session: AsyncSession) -> list[Block]:
    return list(await session.scalars(select(Block).order_by(Block.kind, Block.target)))


async def add(session: AsyncSession, *, kind: str, target: str, severity: str, reason: str,
              moderator: LocalActor | None, own_host: str) -> Block:
    """Record a block or a silence and apply it at once (in the caller's transaction)."""
    if severity not in SEVERITIES:
        raise InvalidInput("Mesure inconnue : %(severity)s.", severity=severity)
    reason = " ".join((reason or "").split())[:MAX_REASON]
    if not reason:
        raise InvalidInput("Donnez une raison.")
    target = check_target(kind, target, own_host)
    existing = await session.scalar(select(Block).where(Block.kind == kind, Block.target == target))
    if existing is not None:
        raise InvalidInput("Une mesure vise déjà ce compte ou ce domaine : levez-la d'abord.")
    block = Block(kind=kind, target=target, severity=severity, reason=reason,
                  created_by_id=moderator.id if moderator else None, created_at=utcnow())
    session.add(block)
    await session.flush()
    if severity == "block":
        effects = await _apply_block(session, kind, target)
    else:
        effects = {"hidden": await _hide(session, block)}
    action = f"{severity}_{kind}"  # block_domain, block_account, silence_domain, silence_account
    await audit.record(session, moderator=moderator, action=action, subject=target, reason=reason,
                       block_id=block.id, **effects)
    return block


async def remove(session: AsyncSession, block_id: int, *, moderator: LocalActor | None,
                 reason: str = "") -> Block:
    """Lift a rule. A lifted silence shows again what it hid; a lifted block restores nothing
    (follows and removed content are gone): it only lets the server be heard again."""
    block = await session.get(Block, block_id)
    if block is None:
        raise NotFound("Cette mesure n'existe pas.")
    shown = await _unhide(session, block) if block.severity == "silence" else 0
    await audit.record(session, moderator=moderator, action=f"un{block.severity}",
                       subject=block.target, reason=" ".join((reason or "").split())[:MAX_REASON],
                       kind=block.kind, original_reason=block.reason, shown_again=shown)
    await session.delete(block)
    await session.flush()
    return block


# ---- effects ----------------------------------------------------------------------------------

async def _matching(session, model, column, kind: str, target: str, *conditions) -> list:
    rows = await session.scalars(select(model).where(uri_condition(column, kind, target), *conditions))
    return [row for row in rows if uri_matches(getattr(row, column.key), kind, target)]


async def _apply_block(session: AsyncSession, kind: str, target: str) -> dict:
    """Follows both ways, their content and interactions, queued traffic both ways."""
    follows = [f for f in await session.scalars(select(Follow).where(or_(
        uri_condition(Follow.follower_uri, kind, target), uri_condition(Follow.followed_uri, kind, target))))
        if uri_matches(f.follower_uri, kind, target) or uri_matches(f.followed_uri, kind, target)]
    for follow in follows:
        await session.delete(follow)
    interactions = await _matching(session, Interaction, Interaction.actor_uri, kind, target)
    if interactions:
        await session.execute(sql_delete(Interaction).where(Interaction.id.in_([i.id for i in interactions])))
    withdrawn = 0
    for item in await _matching(session, StoredObject, StoredObject.author_uri, kind, target,
                                StoredObject.is_local.is_(False), StoredObject.deleted_at.is_(None)):
        await content.withdraw(session, item)
        withdrawn += 1
    queued = await _matching(session, IncomingActivity, IncomingActivity.actor_uri, kind, target,
                             IncomingActivity.state == IncomingStates.RECEIVED)
    if queued:
        await session.execute(update(IncomingActivity).where(IncomingActivity.id.in_([q.id for q in queued]))
                              .values(state=IncomingStates.IGNORED, last_error="blocked by a moderator",
                                      processed_at=utcnow()))
    cancelled = await cancel_deliveries(session, kind, target)
    syncs = await _matching(session, CatalogSync, CatalogSync.actor_uri, kind, target)
    for sync in syncs:
        await session.delete(sync)
    await session.flush()
    return {"follows_removed": len(follows), "interactions_removed": len(interactions),
            "objects_withdrawn": withdrawn, "incoming_dropped": len(queued),
            "deliveries_cancelled": cancelled}


async def cancel_deliveries(session: AsyncSession, kind: str, target: str) -> int:
    """Give up pending deliveries to a blocked server, or to a blocked account's own inbox."""
    if kind == "domain":
        hosts = [h for h in await session.scalars(
            select(Delivery.host).where(Delivery.state == DeliveryStates.PENDING).distinct()) if host_matches(h, target)]
        condition = Delivery.host.in_(hosts) if hosts else None
    else:
        inbox = await session.scalar(select(RemoteActor.inbox).where(RemoteActor.uri == target))
        condition = Delivery.inbox_url == inbox if inbox else None
    if condition is None:
        return 0
    result = await session.execute(
        update(Delivery).where(Delivery.state == DeliveryStates.PENDING, condition)
        .values(state=DeliveryStates.GAVE_UP, finished_at=utcnow(), last_error="blocked by a moderator"))
    return result.rowcount or 0


async def _hide(session: AsyncSession, block: Block) -> int:
    items = await _matching(session, StoredObject, StoredObject.author_uri, block.kind, block.target,
                            StoredObject.is_local.is_(False), StoredObject.hidden_at.is_(None))
    for item in items:
        item.hidden_at = block.created_at
    await session.flush()
    return len(items)


async def _unhide(session: AsyncSession, block: Block) -> int:
    items = await _matching(session, StoredObject, StoredObject.author_uri, block.kind, block.target,
                            StoredObject.is_local.is_(False), StoredObject.hidden_at == block.created_at)
    for item in items:
        item.hidden_at = None
    await session.flush()
    return len(items)


def hide_if_silenced(item: StoredObject, silenced_at) -> None:
    """A new object from a silenced author: hidden with the silence's mark (see above)."""
    if silenced_at is not None and item.hidden_at is None and not item.is_local:
        item.hidden_at = silenced_at
