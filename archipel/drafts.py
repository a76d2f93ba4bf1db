"""Drafts saved while writing: what the item form held, kept on the server per person and form.

The editor script posts the form every few seconds when something changed; the form opens with
the draft when there is one (on any device), and the draft goes when the item is saved. A draft
is what was typed, not yet checked: it is only ever shown back to its writer, in the form, which
escapes it. Its size is bounded (MAX_BYTES of JSON, MAX_FIELDS fields, MAX_VALUES values each).
"""

from __future__ import annotations

import json

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.errors import InvalidInput
from archipel.ids import is_ulid
from archipel.storage.tables import Draft, utcnow

MAX_BYTES = 512_000  # the longest fiche is far below; a bigger body is not a form
MAX_FIELDS = 300
MAX_VALUES = 25  # a field posted several times: attached files kept, files to remove
MAX_NAME = 60
MAX_PER_PERSON = 30  # beyond, the oldest go: drafts of items edited long ago
NEW_KINDS = ("fiche", "resource")


def new_key(kind: str) -> str:
    """The draft of a form for a new item of this kind."""
    return f"new-{kind}"


def valid_key(key: str) -> bool:
    return key in {new_key(kind) for kind in NEW_KINDS} or is_ulid(key)


def checked_fields(pairs) -> dict[str, list[str]]:
    """The (name, value) pairs of a posted form as a draft's fields; InvalidInput when too big."""
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        if not isinstance(value, str) or not isinstance(name, str):
            continue
        if len(name) > MAX_NAME:
            raise InvalidInput("Nom de champ trop long dans le brouillon.")
        values = fields.setdefault(name, [])
        if len(fields) > MAX_FIELDS or len(values) >= MAX_VALUES:
            raise InvalidInput("Trop de champs dans le brouillon.")
        values.append(value)
    if len(json.dumps(fields, ensure_ascii=False).encode()) > MAX_BYTES:
        raise InvalidInput("Brouillon trop volumineux.")
    return fields


async def find(session: AsyncSession, user_id: int, key: str) -> Draft | None:
    return await session.scalar(select(Draft).where(Draft.user_id == user_id, Draft.key == key))


async def save(session: AsyncSession, user_id: int, key: str, fields: dict[str, list[str]]) -> Draft:
    """Keep the latest state of a form (the caller commits)."""
    if not valid_key(key):
        raise InvalidInput("Formulaire inconnu.")
    draft = await find(session, user_id, key)
    if draft is None:
        await _make_room(session, user_id)
        draft = Draft(user_id=user_id, key=key, fields=fields, updated_at=utcnow())
        try:
            async with session.begin_nested():  # two tabs saving the first draft at once
                session.add(draft)
            return draft
        except IntegrityError:
            draft = await find(session, user_id, key)
    draft.fields, draft.updated_at = fields, utcnow()
    await session.flush()
    return draft


async def _make_room(session: AsyncSession, user_id: int) -> None:
    oldest = list(await session.scalars(select(Draft.id).where(Draft.user_id == user_id)
                                        .order_by(Draft.updated_at.desc(), Draft.id.desc())
                                        .offset(MAX_PER_PERSON - 1)))
    if oldest:
        await session.execute(delete(Draft).where(Draft.id.in_(oldest)))


async def discard(session: AsyncSession, user_id: int, key: str) -> None:
    await session.execute(delete(Draft).where(Draft.user_id == user_id, Draft.key == key))
