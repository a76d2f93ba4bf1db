"""Search over everything the island shows, local and replicated: words, facets, pages.

A search is a `SearchRequest` (what the address says: the words, the chosen facet values, the
page) run against the index (archipel/search_index.py): the words select and rank items in each
database's own full-text table, the facets filter `search_documents`, and `content.public_items`
decides, as for every listing, which items the island shows. Facet counts are *disjunctive*:
the counts of one facet apply every other choice but not its own, so a reader sees the other
values they could add (several values of one facet are alternatives; facets combine with AND).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy import Float, Integer, exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import content, search_terms, search_totals
from archipel.search_terms import Query
from archipel.storage.tables import ItemTheme, SearchCombination, SearchDocument, SearchFacetTotal, StoredObject
from archipel.themes import theme_key

PAGE_SIZE = 20
MAX_PAGE = 500
FACET_VALUES = 12     # values shown per facet, the most frequent first
MAX_CHOSEN = 10       # values of one facet a request may choose
MAX_VALUE = 200

# Facets, in the order pages show them, and the column each filters on.
COLUMN_FACETS = {
    "kind": SearchDocument.kind, "island": SearchDocument.island, "region": SearchDocument.region,
    "place": SearchDocument.place, "language": SearchDocument.language,
    "licence": SearchDocument.licence, "audience": SearchDocument.audience,
    "year": SearchDocument.started_year,
}
FACETS = ("island", "theme", "kind", "region", "place", "language", "licence", "audience", "year")

# Title and pitch weigh more than the body (SQLite: bm25 column weights; PostgreSQL: weights of
# the tsvector's classes D, C, B, A).
_FTS5_WEIGHTS = "10.0, 4.0, 1.0"
_TS_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    chosen: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (facet, values), facets in FACETS order
    page: int = 1
    newest_first: bool = False  # words rank the results unless the newest are asked first

    @classmethod
    def from_params(cls, params: Mapping, *, page: int = 1) -> "SearchRequest":
        """From an address's parameters (a MultiDict: a facet may repeat). Unknown parameters
        are ignored, values bounded; never an error."""
        chosen = []
        for facet in FACETS:
            values = [" ".join(str(v).split())[:MAX_VALUE] for v in _all(params, facet)]
            values = tuple(dict.fromkeys(v for v in values if v))[:MAX_CHOSEN]
            if facet == "year":
                values = tuple(v for v in values if re.fullmatch(r"\d{4}", v))
            if values:
                chosen.append((facet, values))
        text_value = " ".join(str(params.get("q", "")).split())[:search_terms.MAX_QUERY_LENGTH]
        return cls(text=text_value, chosen=tuple(chosen), page=min(max(page, 1), MAX_PAGE),
                   newest_first=params.get("tri") == "date")

    def values(self, facet: str) -> tuple[str, ...]:
        return dict(self.chosen).get(facet, ())

    def params(self) -> list[tuple[str, str]]:
        """The parameters that say this request in an address (the page only past the first)."""
        pairs = [("q", self.text)] if self.text else []
        pairs += [(facet, value) for facet, values in self.chosen for value in values]
        pairs += [("tri", "date")] if self.newest_first else []
        return pairs + ([("page", str(self.page))] if self.page > 1 else [])

    def toggled(self, facet: str, value: str) -> "SearchRequest":
        """The same search with one facet value added or removed, from its first page."""
        current = dict(self.chosen)
        values = current.get(facet, ())
        current[facet] = tuple(v for v in values if v != value) if value in values else (*values, value)
        chosen = tuple((name, current[name]) for name in FACETS if current.get(name))
        return replace(self, chosen=chosen, page=1)

    def at_page(self, page: int) -> "SearchRequest":
        return replace(self, page=page)


def _all(params: Mapping, name: str) -> list:
    getall = getattr(params, "getall", None)
    if getall is not None:
        return list(getall(name, []))
    value = params.get(name)
    return list(value) if isinstance(value, (list, tuple)) else ([value] if value is not None else [])


@dataclass
class SearchResult:
    request: SearchRequest
    query: Query
    total: int
    items: list[StoredObject]
    facets: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)  # facet -> (value, label, count)

    @property
    def pages(self) -> int:
        return min(MAX_PAGE, max(1, -(-self.total // PAGE_SIZE)))


# ---- the words, in each database's full-text table ---------------------------------------------

def fts5_expression(query: Query) -> str:
    def group(words: tuple[str, ...]) -> str:
        return "(" + " OR ".join('"' + " ".join(v) + '"' for v in search_terms.variants(words)) + ")"

    expression = " AND ".join(group(words) for words in query.required)
    for words in query.excluded:
        expression += " NOT " + group(words)
    return expression


def tsquery_expression(query: Query) -> str:
    def group(words: tuple[str, ...]) -> str:
        return "(" + " | ".join("(" + " <-> ".join(f"'{t}'" for t in v) + ")"
                                for v in search_terms.variants(words)) + ")"

    expression = " & ".join(group(words) for words in query.required)
    for words in query.excluded:
        expression += " & !" + group(words)
    return expression


def _matches(dialect: str, query: Query):
    """(object_id, rank) of the items whose words match; a lower rank is a better match."""
    if dialect == "sqlite":
        statement = text(f"SELECT rowid AS object_id, bm25(search_text, {_FTS5_WEIGHTS}) AS rank "
                         "FROM search_text WHERE search_text MATCH :match").bindparams(match=fts5_expression(query))
    else:
        statement = text(f"SELECT object_id, -ts_rank('{_TS_WEIGHTS}'::float4[], vector, to_tsquery('simple', :match)) AS rank "
                         "FROM search_text WHERE vector @@ to_tsquery('simple', :match)"
                         ).bindparams(match=tsquery_expression(query))
    return statement.columns(object_id=Integer, rank=Float).subquery("matches")


# ---- the facets --------------------------------------------------------------------------------

def _facet_condition(facet: str, values: tuple[str, ...]):
    if facet == "theme":
        keys = [key for key in (theme_key(value)[:100] for value in values) if key]
        return exists(select(ItemTheme.id).where(ItemTheme.object_id == SearchDocument.object_id,
                                                 ItemTheme.key.in_(keys)))
    column = COLUMN_FACETS[facet]
    if facet == "year":
        return column.in_([int(value) for value in values])
    return column.in_(values)


def _shown():
    """The items the island shows, as content.in_archipelago says, read from the index alone
    (which holds only published, visible items): its own, those from a followed island, and
    those a followed island re-shared here."""
    followed = content.followed_island_hosts()
    return or_(SearchDocument.local.is_(True), SearchDocument.island.in_(followed), SearchDocument.via.in_(followed))


def _shown_in(table):
    """_shown, for the counts kept per origin (SearchFacetTotal, SearchCombination)."""
    followed = content.followed_island_hosts()
    return or_(table.local.is_(True), table.island.in_(followed), table.via.in_(followed))


def _scope(request: SearchRequest, matches, *, leaving_out: str | None = None) -> list:
    """The conditions of the search, every chosen facet but `leaving_out`."""
    conditions = [_shown()]
    if matches is not None:
        conditions.append(SearchDocument.object_id == matches.c.object_id)
    conditions += [_facet_condition(facet, values) for facet, values in request.chosen if facet != leaving_out]
    return conditions


def _from(matches):
    table = SearchDocument.__table__
    return table.join(matches, matches.c.object_id == SearchDocument.object_id) if matches is not None else table


async def _theme_counts(session: AsyncSession, request: SearchRequest, matches) -> list[tuple]:
    """Themes are many per item: counted from each item's set of theme keys (one GROUP BY over
    the matching rows, every other choice applied), then split here; reading item_themes for
    every match would cost an index look-up per theme of each."""
    rows = await session.execute(
        select(SearchDocument.themes, func.count()).select_from(_from(matches))
        .where(*_scope(request, matches, leaving_out="theme"), SearchDocument.themes != "")
        .group_by(SearchDocument.themes))
    counts: dict[str, int] = {}
    for themes, number in rows:
        for key in themes.split():
            counts[key] = counts.get(key, 0) + number
    top = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:FACET_VALUES]
    labels = await search_totals.theme_labels(session, [key for key, _ in top])
    return [(key, labels.get(key, key), number) for key, number in top]


async def _combinations(session: AsyncSession, request: SearchRequest, matches) -> list[tuple]:
    """How many shown items match the words (and the chosen themes) for each combination of the
    other facets' values: one pass over the matches, from which every count is summed here.
    Counting each facet by its own GROUP BY would read the matches once per facet."""
    # Led by `kind` (unindexed): led by `island`, SQLite walks the island index and reads every
    # row out of order, twice as slow at 100,000 items.
    columns = list(COLUMN_FACETS.values())
    theme = [_facet_condition("theme", request.values("theme"))] if request.values("theme") else []
    rows = await session.execute(select(*columns, func.count()).select_from(_from(matches))
                                 .where(_shown(), *theme).group_by(*columns))
    return [tuple(row) for row in rows]


def _summed(request: SearchRequest, combinations: list[tuple]) -> tuple[int, dict[str, list[tuple]]]:
    """The total (every choice applied) and each column facet's counts (every other choice)."""
    names = list(COLUMN_FACETS)
    # Values as the database gives them (the year is a number).
    chosen = {names.index(facet): {int(v) for v in values} if facet == "year" else set(values)
              for facet, values in request.chosen if facet in COLUMN_FACETS}

    # Each combination's failed choices as bits: it counts for facet i when no other choice fails.
    failed = [sum(1 << i for i, values in chosen.items() if combination[i] not in values)
              for combination in combinations] if chosen else [0] * len(combinations)
    total = sum(combination[-1] for combination, fails in zip(combinations, failed) if not fails)
    facets = {}
    for index, facet in enumerate(names):
        others = ~(1 << index)
        counts: dict[str, int] = {}
        for combination, fails in zip(combinations, failed):
            value = combination[index]
            if value and not fails & others:  # None and "" are no value
                counts[value] = counts.get(value, 0) + combination[-1]
        counts = {str(value): count for value, count in counts.items()}
        counted = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:FACET_VALUES]
        listed = {value for value, _ in counted}
        # A chosen value stays listed (to be removed) even when no longer among the most frequent.
        counted += [(value, 0) for value in request.values(facet) if value not in listed]
        facets[facet] = [(value, value, count) for value, count in counted]
    return total, facets


def matching_ids(dialect: str, request: SearchRequest):
    """The ids of the items a search finds, as a select (for the map); None for a search with no
    words and no choice (everything shown)."""
    query = search_terms.parse(request.text)
    if not query and not request.chosen and not request.text:
        return None
    if request.text and not query:
        return select(SearchDocument.object_id).where(False)
    matches = _matches(dialect, query) if query else None
    return select(SearchDocument.object_id).select_from(_from(matches)).where(*_scope(request, matches))


# ---- the search --------------------------------------------------------------------------------

async def search(session: AsyncSession, request: SearchRequest, *, page_size: int = PAGE_SIZE,
                 with_facets: bool = True) -> SearchResult:
    query = search_terms.parse(request.text)
    dialect = session.bind.dialect.name
    matches = _matches(dialect, query) if query else None
    if request.text and not query:
        return SearchResult(request, query, 0, [], {facet: [] for facet in FACETS} if with_facets else {})
    conditions = _scope(request, matches)
    order = ([matches.c.rank] if matches is not None and not request.newest_first else []) + [
        SearchDocument.published.desc(), SearchDocument.object_id.desc()]
    ids = list(await session.scalars(
        select(SearchDocument.object_id).select_from(_from(matches)).where(*conditions).order_by(*order)
        .limit(page_size).offset((request.page - 1) * page_size)))
    found = {item.id: item for item in await session.scalars(select(StoredObject).where(StoredObject.id.in_(ids)))}
    items = [found[i] for i in ids if i in found]
    if not with_facets:  # a feed: the items only
        return SearchResult(request, query, len(items), items, {})
    if matches is None and not request.chosen:
        # Everything shown: the totals kept per origin, not a pass over every item.
        total, facets = await search_totals.summed(session, _shown_in(SearchFacetTotal))
        facets = {facet: facets[facet][:FACET_VALUES] for facet in FACETS}
    elif matches is None and not request.values("theme"):
        # Choices, no words: every column facet from the combinations kept per origin.
        kept = await search_totals.combinations(session, _shown_in(SearchCombination),
                                                [column.key for column in COLUMN_FACETS.values()])
        total, facets = _summed(request, kept)
        facets["theme"] = await _theme_counts(session, request, matches)
        facets = {facet: facets[facet] for facet in FACETS}
    else:
        total, facets = _summed(request, await _combinations(session, request, matches))
        facets["theme"] = await _theme_counts(session, request, matches)
        facets = {facet: facets[facet] for facet in FACETS}
    return SearchResult(request, query, total, items, facets)


async def themes_of(session: AsyncSession, items: list[StoredObject]) -> dict[int, list[tuple[str, str]]]:
    """(key, label) of the themes of each item, for a page of results in one query."""
    themes: dict[int, list[tuple[str, str]]] = {item.id: [] for item in items}
    if items:
        rows = await session.execute(select(ItemTheme.object_id, ItemTheme.key, ItemTheme.label)
                                     .where(ItemTheme.object_id.in_(list(themes))).order_by(ItemTheme.id))
        for object_id, key, label in rows:
            themes[object_id].append((key, label))
    return themes

