"""Every saved change of a published item is a revision: who, when, and the whole public text.

A diff between any two revisions compares them field by field, line by line, so that a reader
sees what changed in a fiche without reading it twice.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.errors import NotFound
from archipel.fiches import FICHE_SECTIONS
from archipel.storage.tables import Revision, StoredObject


def snapshot(item: StoredObject) -> dict:
    """What a revision keeps: everything public about the item (no private contacts)."""
    return {
        "title": item.name, "summary": item.summary, "source": item.source or "", "tags": list(item.tags),
        "language": item.language, "licence": item.licence, "state": item.state, "based_on": item.based_on,
        "fields": item.fields, "cover": item.cover,
    }


async def record(session: AsyncSession, item: StoredObject, editor_uri: str) -> Revision:
    number = (await session.scalar(select(func.max(Revision.number)).where(Revision.object_id == item.id)) or 0) + 1
    revision = Revision(object_id=item.id, number=number, editor_uri=editor_uri, snapshot=snapshot(item))
    session.add(revision)
    await session.flush()
    return revision


async def history(session: AsyncSession, item: StoredObject) -> list[Revision]:
    return list(await session.scalars(
        select(Revision).where(Revision.object_id == item.id).order_by(Revision.number.desc())))


async def get(session: AsyncSession, item: StoredObject, number: int) -> Revision:
    revision = await session.scalar(
        select(Revision).where(Revision.object_id == item.id, Revision.number == number))
    if revision is None:
        raise NotFound(f"no revision {number} of this item")
    return revision


@dataclass(frozen=True)
class FieldDiff:
    label: str
    lines: list[tuple[str, str]]  # (" " | "-" | "+", text)


def _as_lines(snap: dict) -> dict[str, list[str]]:
    """The snapshot as labelled blocks of lines (French labels, as shown to people)."""
    fields = snap.get("fields") or {}
    blocks = {
        "Titre": [snap.get("title") or ""],
        "Résumé": [snap.get("summary") or ""],
        "Texte": (snap.get("source") or "").splitlines(),
        "Thèmes": [", ".join(snap.get("tags") or [])],
        "Licence": [snap.get("licence") or ""],
        "Accroche": [fields.get("pitch") or ""],
    }
    for name, label in FICHE_SECTIONS.items():
        blocks[label] = ((fields.get("sections") or {}).get(name) or "").splitlines()
    blocks["Mode d'emploi"] = [f"{n}. {step}" for n, step in enumerate(fields.get("steps") or [], 1)]
    territory = fields.get("territory") or {}
    blocks["Territoire"] = [", ".join(str(v) for v in territory.values() if v not in (None, ""))]
    blocks["Porteurs"] = [h["name"] for h in fields.get("holders") or []]
    for key, label in (("audience", "Public"), ("started", "Démarrage"), ("duration", "Durée"),
                       ("format", "Format"), ("prerequisites", "Prérequis")):
        blocks[label] = str(fields.get(key) or "").splitlines()
    blocks["Objectifs pédagogiques"] = list(fields.get("learning_goals") or [])
    blocks["Matériel"] = [m["url"] for m in fields.get("materials") or []]
    for key, label in (("start", "Début"), ("end", "Fin"), ("time_zone", "Fuseau horaire"),
                       ("online", "En ligne"), ("registration", "Inscription")):
        blocks[label] = [str(fields[key])] if fields.get(key) else []
    blocks["Organisation"] = [o["name"] for o in fields.get("organisers") or []]
    blocks["Fiches et ressources utilisées"] = list(fields.get("uses") or [])
    return blocks


def diff(old: dict, new: dict) -> list[FieldDiff]:
    """The fields that differ between two snapshots, each as a line diff."""
    before, after = _as_lines(old), _as_lines(new)
    changes = []
    for label in after:
        a, b = before.get(label, []), after[label]
        if a == b:
            continue
        lines = []
        for line in difflib.ndiff(a, b):
            if line.startswith("? "):
                continue
            lines.append((line[0] if line[0] in "+-" else " ", line[2:]))
        changes.append(FieldDiff(label, lines))
    return changes


async def latest_numbers(session: AsyncSession, items: list[StoredObject]) -> dict[int, int]:
    """The number of each item's latest revision (0 when it has none), for a page in one query:
    a calendar's SEQUENCE."""
    numbers = {item.id: 0 for item in items}
    if numbers:
        rows = await session.execute(select(Revision.object_id, func.max(Revision.number))
                                     .where(Revision.object_id.in_(list(numbers))).group_by(Revision.object_id))
        numbers.update({object_id: int(number or 0) for object_id, number in rows})
    return numbers
