"""Proposals: a fiche or resource (or an improvement to one) proposed by someone without an
account, from the public form or by mentioning the island from the fediverse.

`fields` holds what was proposed in the shape `content.create_item` takes (title, summary,
source, tags, language, licence, and `data`, the structured fields of fiches.py), plus `credit`
(may the proposer's name appear in the published credits). The proposer's status link carries a
random token of which only the SHA-256 is kept. Every decision is written to the audit log in
the transaction that makes it; publishing itself is federation's job (federation/proposals.py).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import audit, fiches, notifications
from archipel.content import MAX_TITLE
from archipel.errors import InvalidInput, NotFound
from archipel.storage.tables import LocalActor, Proposal, StoredObject, User, utcnow
from archipel.text import MAX_SOURCE_CHARS
from archipel.themes import clean_tags

KINDS = ("new", "edit")
ITEM_KINDS = ("fiche", "resource")
ORIGINS = ("form", "mention")
STATES = ("pending", "accepted", "refused")
MAX_NAME = 200
MAX_REASON = 5000

# What the public form shows of each kind: an improvement changes only these, so that what a
# visitor could not see (holders' private contacts, coordinates, steps...) is never erased.
SHOWN_DATA = {
    "fiche": ("pitch", "sections", "territory", "audience"),
    "resource": ("learning_goals", "audience", "duration", "territory"),
}

_LINK = re.compile(r"(?:https?://|www\.)", re.IGNORECASE)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _texts(value) -> list[str]:
    """Every string inside a JSON value (for counting links and sizes)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for inner in value.values() for text in _texts(inner)]
    if isinstance(value, list):
        return [text for inner in value for text in _texts(inner)]
    return []


def count_links(fields: dict) -> int:
    return sum(len(_LINK.findall(text)) for text in _texts(fields))


def total_chars(fields: dict) -> int:
    return sum(len(text) for text in _texts(fields))


def check_fields(item_kind: str, fields: dict) -> dict:
    """The proposed fields, checked like a trainer's form and normalised; InvalidInput if wrong."""
    if item_kind not in ITEM_KINDS:
        raise InvalidInput("On propose une fiche ou une ressource, pas %(kind)s.", kind=item_kind)
    if not isinstance(fields, dict):
        raise InvalidInput("Les champs proposés doivent être une table de valeurs.")
    title = " ".join(str(fields.get("title") or "").split())
    if not title:
        raise InvalidInput("Donnez un titre.")
    if len(title) > MAX_TITLE:
        raise InvalidInput("Le titre dépasse %(limit)s caractères.", limit=MAX_TITLE)
    source = str(fields.get("source") or "")
    if len(source) > MAX_SOURCE_CHARS:
        raise InvalidInput("Le texte dépasse %(limit)s caractères.", limit=MAX_SOURCE_CHARS)
    data, _private = fiches.fields_for(item_kind, fields.get("data") or {})
    if not (source.strip() or data.get("pitch") or data.get("sections") or fields.get("summary")):
        raise InvalidInput("Dites-en quelques mots : une accroche ou un texte.")
    return {
        "title": title,
        "summary": str(fields.get("summary") or "").strip()[:1000],
        "source": source,
        "tags": clean_tags(fields.get("tags") or []),
        "language": str(fields.get("language") or "fr")[:16],
        "licence": fiches.check_licence(fields.get("licence")),
        "data": data,
        "credit": bool(fields.get("credit", True)),
    }


async def create(session: AsyncSession, *, item_kind: str, fields: dict, origin: str,
                 proposer_name: str = "", proposer_email: str | None = None,
                 proposer_actor_uri: str | None = None, target: StoredObject | None = None,
                 activity_uri: str | None = None) -> tuple[Proposal, str]:
    """A pending proposal and the proposer's secret token (shown once, never stored)."""
    if origin not in ORIGINS:
        raise InvalidInput("Origine de proposition inconnue : %(origin)s.", origin=origin)
    if target is not None:
        if not target.is_local or target.deleted_at is not None or target.kind not in ITEM_KINDS:
            raise InvalidInput("Seule une fiche ou une ressource publiée ici peut être améliorée.")
        item_kind = target.kind
    checked = check_fields(item_kind, fields)
    token = secrets.token_urlsafe(24)
    proposal = Proposal(
        token_hash=hash_token(token), kind="edit" if target is not None else "new", item_kind=item_kind,
        target_uri=target.uri if target is not None else None, origin=origin, activity_uri=activity_uri,
        proposer_name=" ".join((proposer_name or "").split())[:MAX_NAME],
        proposer_email=(proposer_email or "").strip()[:320] or None,
        proposer_actor_uri=proposer_actor_uri, fields=checked, state="pending")
    session.add(proposal)
    await session.flush()
    for moderator_id in await moderator_ids(session):
        await notifications.notify(session, moderator_id, "proposal", actor_uri=proposer_actor_uri,
                                   object_uri=proposal.target_uri, detail=checked["title"])
    return proposal, token


async def moderator_ids(session: AsyncSession) -> list[int]:
    """The actors of the island's moderators and admins."""
    return list(await session.scalars(select(User.actor_id).where(User.role.in_(("moderator", "admin")))
                                      .order_by(User.id)))


async def get(session: AsyncSession, proposal_id: int) -> Proposal:
    proposal = await session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound("Aucune proposition n°%(number)s.", number=proposal_id)
    return proposal


async def find_by_token(session: AsyncSession, token: str) -> Proposal | None:
    if not token or len(token) > 100:
        return None
    return await session.scalar(select(Proposal).where(Proposal.token_hash == hash_token(token)))


async def find_by_activity(session: AsyncSession, activity_uri: str) -> Proposal | None:
    return await session.scalar(select(Proposal).where(Proposal.activity_uri == activity_uri))


async def pending(session: AsyncSession, *, limit: int = 200) -> list[Proposal]:
    return list(await session.scalars(select(Proposal).where(Proposal.state == "pending")
                                      .order_by(Proposal.id.desc()).limit(limit)))


async def decided(session: AsyncSession, *, limit: int = 50) -> list[Proposal]:
    return list(await session.scalars(select(Proposal).where(Proposal.state != "pending")
                                      .order_by(Proposal.decided_at.desc(), Proposal.id.desc()).limit(limit)))


async def recent_from_host(session: AsyncSession, host_prefix: str, within: timedelta) -> int:
    """How many proposals arrived by mention from actors under `host_prefix` (scheme://host/)."""
    return await session.scalar(select(func.count(Proposal.id)).where(
        Proposal.origin == "mention", Proposal.proposer_actor_uri.startswith(host_prefix, autoescape=True),
        Proposal.created_at > utcnow() - within)) or 0


def _require_pending(proposal: Proposal) -> None:
    if proposal.state != "pending":
        raise InvalidInput("Cette proposition a déjà été traitée.")


async def claim(session: AsyncSession, proposal: Proposal) -> None:
    """Take the decision on a pending proposal for this transaction: a conditional UPDATE, so that
    two moderators deciding at once cannot both publish (the second waits, then finds it taken)."""
    _require_pending(proposal)
    taken = await session.execute(update(Proposal).where(Proposal.id == proposal.id, Proposal.state == "pending")
                                  .values(decided_at=utcnow()).execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        raise InvalidInput("Cette proposition a déjà été traitée.")


async def edit(session: AsyncSession, proposal: Proposal, moderator: LocalActor, fields: dict) -> bool:
    """A moderator's changes to what was proposed, kept and logged; False if nothing changed."""
    _require_pending(proposal)
    checked = check_fields(proposal.item_kind, {**fields, "credit": proposal.fields.get("credit", True)})
    if checked == proposal.fields:
        return False
    changed = sorted(key for key in checked if checked[key] != proposal.fields.get(key))
    proposal.fields = checked
    await audit.record(session, moderator=moderator, action="edit_proposal", subject=_subject(proposal),
                       changed=changed, title=checked["title"])
    return True


def credit_line(proposal: Proposal) -> str:
    """The credit the published item carries (French, like the rest of the rendered body)."""
    name = proposal.proposer_name if proposal.fields.get("credit", True) and proposal.proposer_name else ""
    if proposal.proposer_actor_uri:
        name = f"{name} ({proposal.proposer_actor_uri})" if name else proposal.proposer_actor_uri
    who = name or "une personne de passage"
    return f"{'Amélioration proposée' if proposal.kind == 'edit' else 'Proposée'} par {who}."


def with_credit(attribution: str, line: str) -> str:
    """The attribution text with the credit added (kept within the field's limit)."""
    attribution = (attribution or "").strip()
    if line in attribution:
        return attribution
    joined = f"{attribution} {line}".strip()
    return joined if len(joined) <= 2000 else attribution


def improvement(item: StoredObject, proposal: Proposal) -> dict:
    """The changes an accepted improvement makes to `item` (for content.update_item): only what the
    form showed; the territory keeps its coordinates; the credit is added to the attribution."""
    proposed = proposal.fields
    data = {key: proposed["data"][key] for key in SHOWN_DATA[item.kind] if key in proposed["data"]}
    if "territory" in data:
        current = dict(item.fields.get("territory") or {})
        data["territory"] = {**current, "place": data["territory"].get("place") or "",
                             "region": data["territory"].get("region") or ""}
    data["attribution"] = with_credit(item.fields.get("attribution") or "", credit_line(proposal))
    return {"title": proposed["title"], "summary": proposed["summary"], "source": proposed["source"],
            "tags": proposed["tags"], "data": data}


def new_item_arguments(proposal: Proposal) -> dict:
    """The arguments of `content.create_item` for an accepted new proposal, credit included."""
    proposed = proposal.fields
    data = dict(proposed["data"])
    data["attribution"] = with_credit(data.get("attribution") or "", credit_line(proposal))
    return {"kind": proposal.item_kind, "title": proposed["title"], "summary": proposed["summary"],
            "source": proposed["source"], "tags": proposed["tags"], "language": proposed["language"],
            "licence": proposed["licence"], "data": data, "state": "published"}


def proposed_snapshot(item: StoredObject, current: dict, proposal: Proposal) -> dict:
    """`current` (a revisions.snapshot of the item) as it would be once the improvement is made."""
    changes = improvement(item, proposal)
    return {**current, "title": changes["title"], "summary": changes["summary"], "source": changes["source"],
            "tags": changes["tags"], "fields": {**(current.get("fields") or {}), **changes["data"]}}


def _subject(proposal: Proposal) -> str:
    return f"proposal:{proposal.id}"


async def mark_accepted(session: AsyncSession, proposal: Proposal, moderator: LocalActor,
                        published_uri: str) -> None:
    _require_pending(proposal)
    proposal.state, proposal.decided_by_id, proposal.decided_at = "accepted", moderator.id, utcnow()
    proposal.published_uri = published_uri
    await audit.record(session, moderator=moderator, action="accept_proposal", subject=_subject(proposal),
                       item=published_uri, kind=proposal.kind, title=proposal.fields.get("title", ""))


async def mark_refused(session: AsyncSession, proposal: Proposal, moderator: LocalActor, reason: str) -> None:
    _require_pending(proposal)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Donnez la raison du refus : la personne qui propose la lira.")
    if len(reason) > MAX_REASON:
        raise InvalidInput("La raison dépasse %(limit)s caractères.", limit=MAX_REASON)
    proposal.state, proposal.decided_by_id, proposal.decided_at = "refused", moderator.id, utcnow()
    proposal.reason = reason
    await audit.record(session, moderator=moderator, action="refuse_proposal", subject=_subject(proposal),
                       reason=reason, kind=proposal.kind, title=proposal.fields.get("title", ""))
