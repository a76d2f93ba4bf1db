"""Every saved change of a published item is a revision: who, when, and the whole public text.

A diff between any two revisions compares them field by field, line by line, and inside a line
that changed, word by word, so that a reader sees what changed in a fiche without reading it
twice. An earlier version can be restored: its text becomes a new revision.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
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
        raise NotFound("Ce contenu n'a pas de version %(number)s.", number=number)
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
# ---- word by word ------------------------------------------------------------------------------

_TOKENS = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
MAX_PAIRED_LINE = 5000  # characters: longer lines are shown whole (the word matcher is quadratic)


@dataclass(frozen=True)
class WordLine:
    """One line of a word diff: " " kept, "-" removed, "+" added, "~" changed inside; its
    segments are (" " | "-" | "+", text)."""

    op: str
    segments: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class WordFieldDiff:
    label: str
    lines: list[WordLine]


def _words(old: str, new: str) -> tuple[tuple[str, str], ...]:
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    segments: list[tuple[str, str]] = []
    removed, added = "", ""
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for number, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag != "equal":
            removed, added = removed + "".join(a[i1:i2]), added + "".join(b[j1:j2])
            continue
        kept = "".join(a[i1:i2])
        if kept.isspace() and (removed or added) and number + 1 < len(opcodes):
            # A lone space between two changes belongs to them: one marked phrase, not four words.
            removed, added = removed + kept, added + kept
            continue
        segments += [(kind, text) for kind, text in (("-", removed), ("+", added)) if text]
        removed, added = "", ""
        segments.append((" ", kept))
    segments += [(kind, text) for kind, text in (("-", removed), ("+", added)) if text]
    return tuple(segments)


def _word_lines(a: list[str], b: list[str]) -> list[WordLine]:
    lines = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            lines += [WordLine(" ", ((" ", line),)) for line in a[i1:i2]]
            continue
        old, new = a[i1:i2], b[j1:j2]
        for index in range(max(len(old), len(new))):
            before = old[index] if index < len(old) else None
            after = new[index] if index < len(new) else None
            if before is not None and after is not None and len(before) + len(after) <= MAX_PAIRED_LINE:
                lines.append(WordLine("~", _words(before, after)))
                continue
            if before is not None:
                lines.append(WordLine("-", (("-", before),)))
            if after is not None:
                lines.append(WordLine("+", (("+", after),)))
    return lines


def word_diff(old: dict, new: dict,
              written: Callable[[str, str], str] | None = None) -> list[WordFieldDiff]:
    """The fields that differ between two snapshots; a line replaced by another is compared word
    by word, so only the words that changed are marked. `written(label, value)` writes a line's
    value as a reader reads it (a date, a duration) before it is compared."""
    before, after = _as_lines(old), _as_lines(new)
    if written is not None:
        before = {label: [written(label, line) for line in lines] for label, lines in before.items()}
        after = {label: [written(label, line) for line in lines] for label, lines in after.items()}
    return [WordFieldDiff(label, _word_lines(before.get(label, []), after[label]))
            for label in after if before.get(label, []) != after[label]]


# ---- restoring ---------------------------------------------------------------------------------

def restored_changes(item: StoredObject, revision: Revision) -> dict:
    """The changes (for content.update_item) that bring back the text of an earlier revision.

    The state, the cover and the attached files stay as they are now: a replaced file is gone for
    good, and a restore is about the words. Private contacts of the project holders come back
    for the holders whose names are the same."""
    snap = revision.snapshot
    data = dict(snap.get("fields") or {})
    for name, value in (item.fields or {}).items():  # written since that version: emptied
        if name not in data:
            data[name] = "" if isinstance(value, str) else [] if isinstance(value, list) else \
                {} if isinstance(value, dict) else None
    data["files"] = (item.fields or {}).get("files", [])
    if item.kind == "fiche":
        contacts = {holder.get("name"): contact["contact"]
                    for contact in (item.private_fields or {}).get("contacts", [])
                    for index, holder in enumerate(item.fields.get("holders", [])) if index == contact["holder"]}
        data["holders"] = [{**holder, **({"contact": contacts[holder.get("name")]}
                                         if holder.get("name") in contacts else {})}
                           for holder in data.get("holders", [])]
    changes = {"title": snap.get("title") or item.name, "summary": snap.get("summary") or "",
               "source": snap.get("source") or "", "tags": list(snap.get("tags") or []),
               "language": snap.get("language") or item.language, "data": data}
    if item.kind != "article" and snap.get("licence"):
        changes["licence"] = snap["licence"]
    return changes
