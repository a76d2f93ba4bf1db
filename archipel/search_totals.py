"""Counts kept per origin, so that a search without words reads a few thousand rows instead of
every indexed item.

Each indexed item counts under its origin (its island, whether it is local, the island that
re-shared it): once for each of its facet values in `search_facet_totals` (the empty search),
and the same without its origin in `search_value_totals` (its sums over every origin: the
islands shown are nearly all, so their sums are those minus the few origins not shown),
once for each pair of values of two facets in `search_pair_totals` (a search choosing one facet),
once for its combination of column facet values in `search_combinations` (other choices).
search_index calls `apply` with the rows it removes and those it adds, in the same transaction,
so the counts always equal what search_documents holds.

They are written as rows of +n / -n that reads sum, never by updating a shared count: two
transactions changing items of the same island (the inbox's lanes on PostgreSQL) never wait on
each other, nor deadlock. `compact` folds the rows into one per key now and then (a worker of
`archipel serve`); reads give the same sums before and after.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from sqlalchemy import and_, bindparam, delete, func, insert, not_, or_, select, tuple_
from sqlalchemy.engine import Connection

from archipel.storage.tables import (
    SearchCombination,
    SearchDocument,
    SearchFacetTotal,
    SearchPairTotal,
    SearchValueTotal,
)

ORIGIN = ("island", "local", "via")
COMBINED = (*ORIGIN, "kind", "region", "place", "language", "licence", "audience", "started_year")
COUNTED = ("kind", "island", "region", "place", "language", "licence", "audience", "year", "theme")
_TOTAL_KEY = (*ORIGIN, "facet", "value")
# The island is the origin: its pairs would repeat search_facet_totals.
PAIRED = tuple(facet for facet in COUNTED if facet != "island")
_PAIR_KEY = (*ORIGIN, "facet", "value", "counted", "counted_value")
_VALUE_KEY = ("facet", "value")
HIDDEN_PER_STATEMENT = 300  # origins not shown whose rows one statement subtracts


def shown(table, followed, *, local: bool | None = None):
    """The origins the island shows, on any table with the origin columns (search_documents and
    the counts kept here): its own items, those of an island it follows and those such an island
    re-shared (content.in_archipelago's rule; `followed` is content.followed_island_hosts()).
    `local` True: its own only; False: received only."""
    archipelago = or_(table.island.in_(followed), table.via.in_(followed))
    if local is None:
        return or_(table.local.is_(True), archipelago)
    return table.local.is_(True) if local else and_(table.local.is_(False), archipelago)


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


def _origin(document: dict) -> tuple:
    return document["island"], bool(document["local"]), document["via"]


def total_changes(removed: list[dict], added: list[dict]) -> tuple[Counter, dict]:
    """The net change of each facet total, and a label for each value added."""
    delta: Counter = Counter()
    labels = {}
    for sign, documents in ((-1, removed), (1, added)):
        for document in documents:
            for facet, value, label in _values(document):
                key = (*_origin(document), facet, value)
                delta[key] += sign
                if sign > 0:
                    labels[key] = label
    return Counter({key: n for key, n in delta.items() if n}), labels


def _combination(document: dict) -> tuple:
    return (*_origin(document), *(document[name] for name in COMBINED[3:-1]), document["started_year"] or 0)


def combination_changes(removed: list[dict], added: list[dict]) -> Counter:
    delta = Counter(_combination(document) for document in added)
    delta.subtract(_combination(document) for document in removed)
    return Counter({key: n for key, n in delta.items() if n})


def _pairs(document: dict) -> list[tuple]:
    """(facet, value, counted, counted_value) of one document: every value of a facet with every
    value of each other facet (~64 per item: 7 column facets and 2 or 3 themes)."""
    values = [(facet, value) for facet, value, _ in _values(document) if facet in PAIRED]
    return [(facet, value, counted, counted_value) for facet, value in values
            for counted, counted_value in values if counted != facet]


def pair_changes(removed: list[dict], added: list[dict]) -> Counter:
    """The net change of each pair count: an edit that keeps an item's facets writes none."""
    delta: Counter = Counter()
    for sign, documents in ((-1, removed), (1, added)):
        for document in documents:
            origin = _origin(document)
            for pair in _pairs(document):
                delta[(*origin, *pair)] += sign
    return Counter({key: n for key, n in delta.items() if n})


_SQLITE_PAIRS = (f"INSERT INTO search_pair_totals ({', '.join(_PAIR_KEY)}, count) "
                 f"VALUES ({', '.join('?' * (len(_PAIR_KEY) + 1))})")


def apply(connection: Connection, removed: list[dict], added: list[dict], *, pairs: bool = True) -> None:
    """Write the changes of the counts; `pairs` False leaves search_pair_totals to rebuild_pairs
    (a whole reindex: counted once at the end rather than written per batch and folded)."""
    if pairs:
        paired = pair_changes(removed, added)
        if paired and connection.dialect.name == "sqlite":
            # ~64 rows a new item: as tuples, SQLAlchemy's per-row work on dicts cost a third of it.
            connection.exec_driver_sql(_SQLITE_PAIRS, [(*key, n) for key, n in paired.items()])
        elif paired:
            connection.execute(insert(SearchPairTotal), [dict(zip(_PAIR_KEY, key), count=n)
                                                         for key, n in paired.items()])
    combined = combination_changes(removed, added)
    if combined:
        connection.execute(insert(SearchCombination),
                           [dict(zip(COMBINED, key), count=n) for key, n in combined.items()])
    totals, labels = total_changes(removed, added)
    if totals:
        connection.execute(insert(SearchFacetTotal), [dict(zip(_TOTAL_KEY, key), count=n,
                                                           label=labels.get(key, key[-1]))
                                                      for key, n in totals.items()])
        values: Counter = Counter()
        value_labels = {}
        for key, n in totals.items():
            values[key[-2:]] += n
            if key in labels:
                value_labels.setdefault(key[-2:], labels[key])
        connection.execute(insert(SearchValueTotal), [
            dict(zip(_VALUE_KEY, key), count=n, label=value_labels.get(key, key[-1]))
            for key, n in values.items() if n])


def clear(connection: Connection) -> None:
    connection.execute(delete(SearchFacetTotal))
    connection.execute(delete(SearchValueTotal))
    connection.execute(delete(SearchCombination))
    connection.execute(delete(SearchPairTotal))


async def rebuild_pairs(session, *, batch: int = 5000) -> int:
    """Count search_pair_totals again from search_documents, one origin at a time (pairs never
    span two origins: the memory is that of the largest origin's pairs); the rows written."""
    await session.execute(delete(SearchPairTotal))
    origins = (await session.execute(select(*(getattr(SearchDocument, name) for name in ORIGIN)).distinct())).all()
    written = 0
    for island, local, via in origins:
        counts: Counter = Counter()
        documents = await session.execute(select(SearchDocument.__table__).where(
            SearchDocument.island == island, SearchDocument.local == local, SearchDocument.via == via))
        for document in documents.mappings():
            counts.update(_pairs(document))
        rows = [dict(zip(_PAIR_KEY, (island, local, via, *pair)), count=n) for pair, n in counts.items()]
        for start in range(0, len(rows), batch):
            await session.execute(insert(SearchPairTotal), rows[start:start + batch])
        written += len(rows)
    return written


_KEPT = ((SearchFacetTotal, _TOTAL_KEY), (SearchValueTotal, _VALUE_KEY), (SearchCombination, COMBINED),
         (SearchPairTotal, _PAIR_KEY))


async def compact(session, marks: dict[str, int] | None = None) -> int:
    """Fold each table's rows into one per key (a zero sum: none), in the caller's transaction;
    the rows removed. The rows deleted are exactly those summed (DELETE … RETURNING): a row
    another transaction commits meanwhile is left for the next time, never lost.
    Only the keys that have several rows are read (search_pair_totals holds ~10 rows per item:
    deleting and writing again a million rows at 100,000 items, to fold a few, cost half a
    minute). `marks` (table name → id, updated here): only the keys of rows written after the
    mark, the others being folded already (no pass over the whole table); on PostgreSQL a row
    committed after a round under a lower id (sequences are not commit order) stays unfolded
    until a round without marks (the first after a start): its sums are right meanwhile."""
    removed = 0
    for table, key in _KEPT:
        columns = [getattr(table, name) for name in key]
        has_label = "label" in table.__table__.c
        if marks is not None and table.__tablename__ in marks:
            folded = select(*columns).where(table.id > marks[table.__tablename__])
        else:
            folded = select(*columns).group_by(*columns).having(func.count() > 1)
        statement = delete(table).where(tuple_(*columns).in_(folded))
        rows = (await session.execute(statement.returning(
            *columns, *([table.label] if has_label else []), table.count))).all()
        sums: Counter = Counter()
        labels: dict = {}
        for row in rows:
            sums[tuple(row[:len(key)])] += row[-1]
            if has_label:
                labels.setdefault(tuple(row[:len(key)]), row[len(key)])
        kept = [dict(zip(key, values), count=n, **({"label": labels[values]} if has_label else {}))
                for values, n in sums.items() if n]
        if kept:
            await session.execute(insert(table), kept)
        removed += len(rows) - len(kept)
        if marks is not None:
            marks[table.__tablename__] = await session.scalar(select(func.max(table.id))) or 0
    return removed


class Compactor:
    """`compact` when the tables have grown since the last time (a round of `archipel serve`'s
    workers, every minute or so: reads sum the rows between two rounds)."""

    GROWTH = 2000  # rows written since the last compaction

    def __init__(self, sessions):
        self.sessions = sessions
        self.kept = 0
        self.marks: dict[str, int] = {}  # the first round folds every key, the next ones the new rows'

    async def run_once(self) -> int:
        async with self.sessions() as session:
            if await _rows(session) - self.kept >= self.GROWTH:
                marks = dict(self.marks)
                await compact(session, marks)
                await session.commit()
                self.marks = marks  # once committed: a rolled-back fold must be folded again
                self.kept = await _rows(session)
        return 0  # never busy: the next round waits its interval


async def _rows(session) -> int:
    return sum([await session.scalar(select(func.count()).select_from(table)) or 0
                for table, _ in _KEPT])


async def shown_totals(session, followed, facet: str | None = None) -> list[tuple[str, str, str, int]]:
    """(facet, value, label, count) of every value with items the island shows (`followed`:
    content.followed_island_hosts()), or of one facet's: the sums over every origin
    (search_value_totals) minus the rows of the origins not shown, found among the counts of
    kinds (every item has one)."""
    summing, hiding, subtracting = _shown_totals_statements(followed, facet)
    sums = {(name, value): [label, int(count)] for name, value, label, count in await session.execute(summing)}
    hidden = (await session.execute(hiding)).all()
    for start in range(0, len(hidden), HIDDEN_PER_STATEMENT):
        chunk = [tuple(row) for row in hidden[start:start + HIDDEN_PER_STATEMENT]]
        rows = await session.execute(subtracting, {"islands": list({island for island, _, _ in chunk}),
                                                   "origins": chunk})
        for name, value, count in rows:
            if (name, value) in sums:
                sums[(name, value)][1] -= int(count)
    return [(name, value, label, count) for (name, value), (label, count) in sums.items() if count > 0]


@lru_cache(maxsize=16)
def _shown_totals_statements(followed, facet: str | None) -> tuple:
    """shown_totals' three statements, built once per facet (building them cost as much as
    running them); the origins subtracted are parameters."""
    of_facet = [] if facet is None else [SearchValueTotal.facet == facet]
    summing = (select(SearchValueTotal.facet, SearchValueTotal.value, func.min(SearchValueTotal.label),
                      func.sum(SearchValueTotal.count)).where(*of_facet)
               .group_by(SearchValueTotal.facet, SearchValueTotal.value))
    hiding = (select(SearchFacetTotal.island, SearchFacetTotal.local, SearchFacetTotal.via)
              .where(SearchFacetTotal.facet == "kind", not_(shown(SearchFacetTotal, followed)))
              .group_by(SearchFacetTotal.island, SearchFacetTotal.local, SearchFacetTotal.via)
              .having(func.sum(SearchFacetTotal.count) > 0))
    origin = tuple_(SearchFacetTotal.island, SearchFacetTotal.local, SearchFacetTotal.via)
    subtracting = (select(SearchFacetTotal.facet, SearchFacetTotal.value, func.sum(SearchFacetTotal.count))
                   # By island (ix_search_facet_totals_origin), every facet: with the facet too, SQLite
                   # reads that facet's rows of every origin (ix_search_facet_totals_facet) instead.
                   .where(SearchFacetTotal.island.in_(bindparam("islands", expanding=True)),
                          origin.in_(bindparam("origins", expanding=True)))
                   .group_by(SearchFacetTotal.facet, SearchFacetTotal.value))
    return summing, hiding, subtracting


@lru_cache(maxsize=16)
def _shown_count_statement(followed):
    return select(func.coalesce(func.sum(SearchFacetTotal.count), 0)).where(
        SearchFacetTotal.facet == "kind", shown(SearchFacetTotal, followed))


async def shown_count(session, followed) -> int:
    """How many items the island shows (every item has one kind): the kinds' rows of the origins
    shown, a few hundred, when the counts of every facet are not needed."""
    return int(await session.scalar(_shown_count_statement(followed)))


async def summed(session, followed) -> tuple[int, dict[str, list[tuple[str, str, int]]]]:
    """(total, facet -> [(value, label, count)], most frequent first) over the items the island
    shows (`followed`: content.followed_island_hosts())."""
    facets: dict[str, list[tuple[str, str, int]]] = {facet: [] for facet in COUNTED}
    for facet, value, label, count in await shown_totals(session, followed):
        if facet in facets:
            facets[facet].append((value, label, count))
    for counted in facets.values():
        counted.sort(key=lambda row: (-row[2], row[0]))
    return sum(count for _, _, count in facets["kind"]), facets


async def theme_labels(session, keys: list[str]) -> dict[str, str]:
    """A label for each theme key (from the sums over every origin: a row or two per key)."""
    if not keys:
        return {}
    rows = await session.execute(
        select(SearchValueTotal.value, func.min(SearchValueTotal.label))
        .where(SearchValueTotal.facet == "theme", SearchValueTotal.value.in_(keys)).group_by(SearchValueTotal.value))
    return dict(rows.all())
