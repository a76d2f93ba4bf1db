"""Facet totals per origin: what a search with no words and no choice counts, read from a few
thousand rows instead of every indexed item.

Each indexed item counts once for each of its facet values, under its origin (its island,
whether it is local, the island that re-shared it): `search_facet_totals`. search_index calls
`apply` with the facets of the rows it removes and of those it adds, in the same transaction,
so the totals always equal what search_documents holds. Which origins are shown depends on whom
the island follows at the time of the search; the totals are summed over those.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from archipel.storage.statements import prepared
from archipel.storage.tables import SearchCombination, SearchFacetTotal

COMBINED = ("island", "local", "via", "kind", "region", "place", "language", "licence", "audience", "started_year")
COUNTED = ("kind", "island", "region", "place", "language", "licence", "audience", "year", "theme")
_KEY = ("island", "local", "via", "facet", "value")


def _values(document: dict) -> list[tuple[str, str, str]]:
    """(facet, value, label) of one search_documents row (a mapping of its columns)."""
    values = []
    for facet in COUNTED[:-1]:
        value = document["started_year"] if facet == "year" else document[facet]
        if value not in (None, ""):
            values.append((facet, str(value)[:200], str(value)[:200]))
    labels = document.get("theme_labels") or {}
    for key in (document.get("themes") or "").split():
        values.append(("theme", key[:200], str(labels.get(key, key))[:200]))
    return values


def changes(removed: list[dict], added: list[dict]) -> tuple[Counter, dict]:
    """The net change of each total, and a label for each value added."""
    delta: Counter = Counter()
    labels = {}
    for sign, documents in ((-1, removed), (1, added)):
        for document in documents:
            origin = (document["island"], bool(document["local"]), document["via"])
            for facet, value, label in _values(document):
                delta[(*origin, facet, value)] += sign
                if sign > 0:
                    labels[(*origin, facet, value)] = label
    return Counter({key: n for key, n in delta.items() if n}), labels


@prepared
def _increment(insert):
    statement = insert(SearchFacetTotal)
    return statement.on_conflict_do_update(
        index_elements=list(_KEY), set_={"count": SearchFacetTotal.count + statement.excluded.count})


def _combination(document: dict) -> tuple:
    return tuple(bool(document[name]) if name == "local" else (document[name] or 0) if name == "started_year"
                 else document[name] for name in COMBINED)


def combination_changes(removed: list[dict], added: list[dict]) -> Counter:
    delta = Counter(_combination(document) for document in added)
    delta.subtract(_combination(document) for document in removed)
    return Counter({key: n for key, n in delta.items() if n})


@prepared
def _increment_combination(insert):
    statement = insert(SearchCombination)
    return statement.on_conflict_do_update(
        index_elements=list(COMBINED), set_={"count": SearchCombination.count + statement.excluded.count})


def apply(connection: Connection, removed: list[dict], added: list[dict]) -> None:
    combined = combination_changes(removed, added)
    if combined:
        connection.execute(_increment_combination(connection),
                           [dict(zip(COMBINED, key), count=combined[key]) for key in sorted(combined)])
        if any(n < 0 for n in combined.values()):
            connection.execute(delete(SearchCombination).where(SearchCombination.count <= 0))
    delta, labels = changes(removed, added)
    if not delta:
        return
    # In key order: two transactions changing the same totals lock them in the same order.
    rows = [dict(zip(_KEY, key), count=delta[key], label=labels.get(key, key[-1])) for key in sorted(delta)]
    connection.execute(_increment(connection), rows)
    if any(n < 0 for n in delta.values()):
        connection.execute(delete(SearchFacetTotal).where(SearchFacetTotal.count <= 0))


def clear(connection: Connection) -> None:
    connection.execute(delete(SearchFacetTotal))
    connection.execute(delete(SearchCombination))


async def summed(session, shown) -> tuple[int, dict[str, list[tuple[str, str, int]]]]:
    """(total, facet -> [(value, label, count)], most frequent first) over the origins `shown`
    (a condition on SearchFacetTotal's island, local and via)."""
    rows = await session.execute(
        select(SearchFacetTotal.facet, SearchFacetTotal.value, func.min(SearchFacetTotal.label),
               func.sum(SearchFacetTotal.count))
        .where(shown).group_by(SearchFacetTotal.facet, SearchFacetTotal.value))
    facets: dict[str, list[tuple[str, str, int]]] = {facet: [] for facet in COUNTED}
    for facet, value, label, count in rows:
        if facet in facets:
            facets[facet].append((value, label, int(count)))
    for counted in facets.values():
        counted.sort(key=lambda row: (-row[2], row[0]))
    return sum(count for _, _, count in facets["kind"]), facets


async def theme_labels(session, keys: list[str]) -> dict[str, str]:
    """A label for each theme key (from the totals: a few rows per key)."""
    if not keys:
        return {}
    rows = await session.execute(
        select(SearchFacetTotal.value, func.min(SearchFacetTotal.label))
        .where(SearchFacetTotal.facet == "theme", SearchFacetTotal.value.in_(keys)).group_by(SearchFacetTotal.value))
    return dict(rows.all())


async def combinations(session, shown, columns: list[str]) -> list[tuple]:
    """(the `columns` values..., count) of every combination of the origins `shown` (a
    condition on SearchCombination's island, local and via); a year of 0 is no year."""
    rows = await session.execute(select(*(getattr(SearchCombination, name) for name in columns),
                                        SearchCombination.count).where(shown))
    year = columns.index("started_year") if "started_year" in columns else None
    return [tuple(None if i == year and value == 0 else value for i, value in enumerate(row)) for row in rows]
