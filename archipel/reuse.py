"""Reuse: a new item based on another one, local or received from another island.

The copy starts as a draft of the person who reuses, linked to its origin (`based_on`), with
the attribution text that the origin's licence asks for. Share-alike origins keep their licence.
It starts with a title of its own (« Titre — adaptation pour Île de Brest »), so that the two
never look identical in a listing; its author is expected to make it their own.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import content, fiches
from archipel.errors import InvalidInput
from archipel.storage.tables import LocalActor, StoredObject

SHARE_ALIKE = {"CC-BY-SA-4.0"}
ADAPTED_FOR = {"fr": " — adaptation pour ", "en": " — adapted for "}  # in the item's own language
MAX_TITLE = 300


def adapted_title(title: str, language: str, adapted_for: str) -> str:
    """« <title> — adaptation pour <adapted_for> », the origin's own suffix replaced (a reuse of a
    reuse is not « … pour A — adaptation pour B »), cut to fit the title's limit."""
    suffix = ADAPTED_FOR.get(language, ADAPTED_FOR["fr"])
    for known in ADAPTED_FOR.values():
        if known in title:
            title = title.rsplit(known, 1)[0]
    ending = f"{suffix}{adapted_for}"[:MAX_TITLE // 2]
    room = MAX_TITLE - len(ending)
    return (title if len(title) <= room else title[:room - 1].rstrip() + "…") + ending


def attribution_text(origin: StoredObject, author_names: list[str], island_name: str = "") -> str:
    """« D'après « Titre », par A et B (île), sous licence CC BY-SA 4.0 : URL » — what the licence asks."""
    licence = fiches.LICENCES.get(origin.licence or "", ("", ""))[0]
    names = " et ".join(n for n in author_names if n) or "ses auteur·ices"
    where = f" ({island_name})" if island_name else ""
    if origin.licence == "CC0-1.0":
        return f"D'après « {origin.name} », par {names}{where}, placé dans le domaine public (CC0) : {origin.url or origin.uri}"
    return f"D'après « {origin.name} », par {names}{where}, sous licence {licence} : {origin.url or origin.uri}"


async def derive(session: AsyncSession, *, base_url: str, origin: StoredObject, author: LocalActor,
                 author_names: list[str], island_name: str = "", adapted_for: str = "") -> StoredObject:
    if origin.kind not in ("fiche", "resource"):
        raise InvalidInput("Seules les fiches et les ressources de formation se réutilisent.")
    if origin.deleted_at is not None:
        raise InvalidInput("Ce contenu a été retiré : il ne peut plus être réutilisé.")
    # origin.fields never holds contacts (they are private_fields): nothing private is copied.
    data = {**origin.fields, "attribution": attribution_text(origin, author_names, island_name)}
    return await content.create_item(
        session, base_url=base_url, authors=[author], kind=origin.kind,
        title=adapted_title(origin.name, origin.language, adapted_for) if adapted_for else origin.name,
        source=origin.source or "", summary=origin.summary, tags=origin.tags, language=origin.language,
        licence=origin.licence if origin.licence in SHARE_ALIKE else (origin.licence or None),
        state="draft", based_on=origin.uri, data=data)


async def derivatives_of(session: AsyncSession, uri: str) -> list[StoredObject]:
    """Published reuses of an item, here or on other islands that told us."""
    # Only `based_on` in SQL: with `deleted_at IS NULL` and this order, SQLite (no statistics) would
    # rather walk the listings' index (deleted_at, published, id) through every item of the island.
    reuses = await session.scalars(select(StoredObject).where(StoredObject.based_on == uri)
                                   .order_by(StoredObject.published))
    return [item for item in reuses if item.deleted_at is None and item.state in ("published", "archived")]
