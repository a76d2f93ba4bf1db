"""Search over everything the island shows, local and replicated: words, facets, pages.

A search is a `SearchRequest` (what the address says: the words, the chosen facet values, the
page) run against the index (archipel/search_index.py): the words select and rank items in each
database's own full-text table, the facets filter `search_documents`, and `content.public_items`
decides, as for every listing, which items the island shows. Facet counts are *disjunctive*:
the counts of one facet apply every other choice but not its own, so a reader sees the other
values they could add (several values of one facet are alternatives; facets combine with AND).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy import Float, Integer, String, and_, bindparam, cast, func, literal, literal_column, or_, select, text, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import content, search_index, search_rarity, search_terms, search_totals
from archipel.search_terms import Query
from archipel.storage.tables import (
    ItemTheme,
    SearchCombination,
    SearchDocument,
    SearchFacetTotal,
    SearchPairTotal,
    SearchValueTotal,
    StoredObject,
)
from archipel.themes import theme_key

PAGE_SIZE = 20
MAX_PAGE = 500
FACET_VALUES = 12     # values shown per facet, the most frequent first
MAX_CHOSEN = 10       # values of one facet a request may choose
MAX_VALUE = 200
# Words found in more than this share of the items shown are counted by what they miss (below
# this many matches, counting the matches is cheap anyway).
BROAD_SHARE = 0.5
BROAD_MIN_MATCHES = 2000

# Facets, in the order pages show them, and the column each filters on.
COLUMN_FACETS = {
    "kind": SearchDocument.kind, "island": SearchDocument.island, "region": SearchDocument.region,
    "place": SearchDocument.place, "language": SearchDocument.language,
    "licence": SearchDocument.licence, "audience": SearchDocument.audience,
    "year": SearchDocument.started_year,
}
FACETS = ("island", "theme", "kind", "region", "place", "language", "licence", "audience", "year")

# Title and pitch weigh more than the body (SQLite: bm25 column weights; PostgreSQL: weights of
# the tsvector's classes D, C, B, A, in _TS_RANK).
_FTS5_WEIGHTS = "10.0, 4.0, 1.0"


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


def tsquery_expression(query: Query, tag: str | None = None) -> str:
    """The query as PostgreSQL's tsquery: every language's version of each word, or only the
    version of the language `tag` (search_terms.TAGS)."""
    def group(words: tuple[str, ...]) -> str:
        versions = search_terms.variants(words) if tag is None else [search_terms.tagged(words, tag)]
        return "(" + " | ".join("(" + " <-> ".join(f"'{t}'" for t in v) + ")" for v in versions) + ")"

    expression = " & ".join(group(words) for words in query.required)
    for words in query.excluded:
        expression += " & !" + group(words)
    return expression


_TS_MATCHES = "FROM search_text WHERE vector @@ to_tsquery('simple', :match)"
# Each item ranked against its own language's version of the words, the only one its terms can
# meet: ts_rank sorts the query's words and looks each one up in every match's vector, and the
# ten languages' versions made it cost as much as finding the matches (« réemploi », 5,295
# matches, its one-pass statement: 63 → 54 ms, median of 30 on a slow machine). The order is the
# same: one word's rank is the same share of the query (a tenth) for every item, and several
# words' are not divided by their number.
_TS_RANK = ("-ts_rank('{weights}'::float4[], vector, CASE split_part(lower(language), '-', 1) {cases} "
            "ELSE to_tsquery('simple', :match_{unstemmed}) END)").format(
    weights="{0.1, 0.2, 0.4, 1.0}", unstemmed=search_terms.UNSTEMMED,
    cases=" ".join(f"WHEN '{tag}' THEN to_tsquery('simple', :match_{tag})" for tag in search_terms.STEMMED_LANGUAGES))


def _tsquery_bound(statement, query: Query, *, ranked: bool = False):
    """A PostgreSQL statement on _TS_MATCHES (and _TS_RANK when `ranked`) with the words written
    in (see _matches)."""
    statement = statement.bindparams(bindparam("match", tsquery_expression(query), literal_execute=True))
    if ranked:
        statement = statement.bindparams(*(bindparam(f"match_{tag}", tsquery_expression(query, tag), literal_execute=True)
                                           for tag in search_terms.TAGS))
    return statement


def _matches(dialect: str, query: Query, *, ranked: bool = True, with_facets: bool = False):
    """(object_id, rank) of the items whose words match; a lower rank is a better match.
    Unranked: object_id alone (ranking reads every match's positions). `with_facets`, on
    PostgreSQL: with the copy of the facets search_text keeps (see _matched_rows)."""
    facet_columns = {}
    if dialect == "sqlite":
        rank = f", bm25(search_text, {_FTS5_WEIGHTS}) AS rank" if ranked else ""
        statement = text(f"SELECT rowid AS object_id{rank} "
                         "FROM search_text WHERE search_text MATCH :match").bindparams(match=fts5_expression(query))
    else:
        facet_columns = search_index.TEXT_FACETS if with_facets else {}
        rank = f", {_TS_RANK} AS rank" if ranked else ""
        facets = "".join(f", {name}" for name in facet_columns)
        # The query written into the statement: a prepared statement's generic plan cannot know
        # how many items the words match, and PostgreSQL switched to one after five searches.
        # Flattened into the joins: a page of words in every item is then ranked by parallel
        # workers, the map's newest matches found walking the newest items.
        statement = _tsquery_bound(text(f"SELECT object_id{rank}{facets} {_TS_MATCHES}"), query, ranked=ranked)
    columns = {"object_id": Integer, **({"rank": Float} if ranked else {}), **facet_columns}
    return statement.columns(**columns).subquery("matches")


@dataclass(frozen=True)
class _MatchedRows:
    """Where a search reads the matching items: `source` (a FROM clause), `columns` (the facets,
    named as search_documents' columns) and `rank` (None without words)."""
    source: object
    columns: object
    rank: object = None


async def _matched_rows(session: AsyncSession, query: Query) -> _MatchedRows:
    """Without words, search_documents. SQLite: search_documents joined to FTS5's ranked matches,
    each rank brought to one scale for every language (search_rarity). PostgreSQL: search_text
    alone, which keeps a copy of the facets (migration 0022): the matches found by its GIN index,
    ranked and counted without a join to every row of search_documents (« réemploi »'s one pass:
    62 → 40 ms; the page of « atelier », in nine items of ten: 117 → 85)."""
    dialect = session.bind.dialect.name
    if not query:
        return _MatchedRows(SearchDocument.__table__, SearchDocument.__table__.c)
    if dialect == "sqlite":
        matches = _matches(dialect, query)
        rank = search_rarity.per_language(matches.c.rank, SearchDocument.language,
                                          await search_rarity.rarity_sums(session, query))
        return _MatchedRows(_from(matches), SearchDocument.__table__.c, rank)
    matches = _matches(dialect, query, with_facets=True)
    return _MatchedRows(matches, matches.c, matches.c.rank)


async def _counted_more_than(session: AsyncSession, query: Query, number: int) -> bool:
    """SQLite: whether the words match more than `number` items, reading at most number + 1
    matches of FTS5's lists."""
    found = select(_matches("sqlite", query, ranked=False).c.object_id).limit(max(0, number + 1)).subquery()
    return await session.scalar(select(func.count()).select_from(found)) > number


async def _estimated_matches(session: AsyncSession, query: Query) -> int:
    """PostgreSQL: the planner's estimate of the items the words match, from the words'
    statistics, as counting visits every match's row (a word in every item: ~90 ms to learn it
    is in more than half of them)."""
    plan = await session.scalar(_tsquery_bound(text(f"EXPLAIN (FORMAT JSON) SELECT object_id {_TS_MATCHES}"), query))
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]


async def _words_are_broad(session: AsyncSession, query: Query) -> bool:
    """Whether the words match at least BROAD_MIN_MATCHES items and more than BROAD_SHARE of
    the items shown, to choose how to count them (both ways give the same counts). Rare words
    are told apart before the items shown are counted."""
    if session.bind.dialect.name == "sqlite":
        if not await _counted_more_than(session, query, BROAD_MIN_MATCHES - 1):
            return False
        shown_count = await search_totals.shown_count(session, content.followed_island_hosts())
        return await _counted_more_than(session, query, int(BROAD_SHARE * shown_count))
    estimate = await _estimated_matches(session, query)  # one plan for both comparisons
    if estimate < BROAD_MIN_MATCHES:
        return False
    return estimate > int(BROAD_SHARE * await search_totals.shown_count(session, content.followed_island_hosts()))


# ---- the facets --------------------------------------------------------------------------------

def _theme_keys(values: tuple[str, ...]) -> list[str]:
    return [key for key in (theme_key(value)[:100] for value in values) if key]


def _facet_condition(facet: str, values: tuple[str, ...], *, walked: bool = False,
                     columns=SearchDocument.__table__.c):
    """The condition of a facet's chosen values, on `columns` (search_documents', or the copy of
    the facets PostgreSQL's search_text keeps)."""
    if facet == "theme":
        keys = _theme_keys(values)
        if walked:  # see _theme_walked
            return select(ItemTheme.id).where(ItemTheme.object_id == columns.object_id, ItemTheme.key.in_(keys)).exists()
        # The theme's items as a list the database reads first (its index on key): correlated
        # (EXISTS per row), a rare theme made SQLite walk every item of the index in date order.
        return columns.object_id.in_(select(ItemTheme.object_id).where(ItemTheme.key.in_(keys)))
    column = columns[COLUMN_FACETS[facet].key]
    if facet == "year":
        return column.in_([int(value) for value in values])
    return column.in_(values)


def _shown(table=SearchDocument):
    """The items the island shows, as content.in_archipelago says, read from the index alone
    (which holds only published, visible items) or from the counts kept per origin."""
    return search_totals.shown(table, content.followed_island_hosts())


def _scope(request: SearchRequest, columns=SearchDocument.__table__.c, *, leaving_out: str | None = None,
           theme_walked: bool = False) -> list:
    """The conditions of the search on `columns` (the shown items, every chosen facet but
    `leaving_out`); the words' match is the FROM clause's (_from, _matched_rows)."""
    return [_shown(columns)] + [_facet_condition(facet, values, walked=theme_walked, columns=columns)
                                for facet, values in request.chosen if facet != leaving_out]


async def _theme_walked(session: AsyncSession, request: SearchRequest, page_size: int) -> bool:
    """Whether the page of a theme chosen alone, no words, is found walking the items newest first
    and checking each one's themes, rather than reading every item of the theme and sorting them:
    on SQLite, when the theme is common enough for the walk to be the shorter (a theme with 15,848
    of 99,081 items: 17 ms listed, 0.07 ms walked; one with ten items would be walked through
    every item). The counts are every origin's, shown or not: enough to choose. PostgreSQL's
    planner weighs the two from its own statistics."""
    if session.bind.dialect.name != "sqlite" or [facet for facet, _ in request.chosen] != ["theme"]:
        return False
    totals = SearchValueTotal
    rows = await session.execute(select(totals.facet, func.sum(totals.count)).where(or_(
        totals.facet == "kind", and_(totals.facet == "theme", totals.value.in_(_theme_keys(request.values("theme"))))
    )).group_by(totals.facet))
    counts = {facet: int(number or 0) for facet, number in rows}
    return walk_is_shorter(counts.get("theme", 0), counts.get("kind", 0), request.page * page_size)


def walk_is_shorter(theme_items: int, items: int, needed: int) -> bool:
    """Walking the items in date order meets `needed` items of a theme after about
    items × needed / theme_items of them (the theme's items spread over time); reading the
    theme's list reads theme_items. Both cost about the same per item (measured on SQLite)."""
    return theme_items * theme_items > items * needed


def _from(matches):
    table = SearchDocument.__table__
    return table.join(matches, matches.c.object_id == SearchDocument.object_id) if matches is not None else table


def _top_themes(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:FACET_VALUES]


async def _labelled_top_themes(session: AsyncSession, counts: dict[str, int]) -> list[tuple[str, str, int]]:
    """The themes to show, (key, label, count), from key -> count."""
    top = _top_themes(counts)
    labels = await search_totals.theme_labels(session, [key for key, _ in top])
    return [(key, labels.get(key, key), number) for key, number in top]


async def _theme_counts(session: AsyncSession, request: SearchRequest) -> list[tuple]:
    """The themes of a search without words (with words, the one pass counts them). Themes are
    many per item: each item's keys read from its row and counted per key by the database (one
    GROUP BY over the chosen rows, every other choice applied); reading item_themes for every
    item would cost an index look-up per theme of each. When the other choices are one facet's
    (a theme and a kind), from the pairs kept per origin instead."""
    counts: dict[str, int] = {}
    others = _paired_choice(replace(request, chosen=tuple(
        (facet, values) for facet, values in request.chosen if facet != "theme")))
    if others is not None and others[0] != "island":  # the island is the origin: no pairs of it
        facet, values = others
        pairs = SearchPairTotal
        rows = await session.execute(select(pairs.counted_value, func.sum(pairs.count)).where(
            pairs.facet == facet, pairs.value.in_(values), pairs.counted == "theme", _shown(pairs))
            .group_by(pairs.counted_value))
        counts = {key: int(number) for key, number in rows if number > 0}
    else:
        keys = _each_theme_key(SearchDocument.themes, session.bind.dialect.name)
        rows = await session.execute(
            select(keys.c.value, func.count()).select_from(SearchDocument.__table__.join(keys, true()))
            .where(*_scope(request, leaving_out="theme"), SearchDocument.themes != "")
            .group_by(keys.c.value))
        counts = {key: int(number) for key, number in rows}
    return await _labelled_top_themes(session, counts)


def _counts_statement(source, base: list, request: SearchRequest, count, column, *, read_elsewhere=frozenset(),
                      themes_dialect: str | None = None):
    """One statement counting every column facet disjunctively, in the database: a total and one
    GROUP BY per facet (UNION ALL), rows ('*', '', total) and (facet, value, count). The rows every
    choice lets through are read once (a materialized CTE) for the total and the facets not chosen;
    a chosen facet is counted over `source` with every other choice. Summing the combinations in
    Python cost ~10 µs a row: with 100,000 items, a region chosen summed 82,000 kept combinations.
    `source` has the column facets (column(facet) gives each) and `count` (1 a document, or the
    count of a kept combination); `base` holds the conditions of every count (shown, themes);
    the chosen facets in `read_elsewhere` are not counted (their caller reads them elsewhere);
    `themes_dialect` (the database's dialect, which writes the splitting of each item's keys):
    with rows ('theme', a theme key, count) of the rows every choice lets through (`source`
    being search_documents)."""
    chosen = {facet: _column_choice(column(facet), facet, values)
              for facet, values in request.chosen if facet in COLUMN_FACETS}
    kept_themes = [source.c.themes.label("themes")] if themes_dialect else []
    kept = (select(*(column(facet).label(facet) for facet in COLUMN_FACETS), *kept_themes, count.label("n"))
            .select_from(source).where(*base, *chosen.values()).cte("kept").prefix_with("MATERIALIZED"))
    parts = [select(literal_column("'*'").label("facet"), literal_column("''").label("value"),
                    func.sum(kept.c.n).label("n"))]
    for facet in COLUMN_FACETS:
        label = literal_column(f"'{facet}'")
        if facet in read_elsewhere:
            continue
        if facet in chosen:
            others = [condition for other, condition in chosen.items() if other != facet]
            parts.append(select(label, cast(column(facet), String), func.sum(count)).select_from(source)
                         .where(*base, *others).group_by(column(facet)))
        else:
            parts.append(select(label, cast(kept.c[facet], String), func.sum(kept.c.n)).group_by(kept.c[facet]))
    if themes_dialect:
        keys = _each_theme_key(kept.c.themes, themes_dialect)
        parts.append(select(literal_column("'theme'"), keys.c.value, func.sum(kept.c.n))
                     .select_from(kept.join(keys, true())).where(kept.c.themes != "").group_by(keys.c.value))
    return union_all(*parts)


def _column_choice(column, facet: str, values: tuple[str, ...]):
    return column.in_([int(value) for value in values] if facet == "year" else values)


async def _column_counts(session: AsyncSession, request: SearchRequest, statement) -> tuple[int, dict]:
    """The total (every choice applied) and each column facet's values to show (every other
    choice applied), from a _counts_statement."""
    total = 0
    counts: dict[str, dict[str, int]] = {facet: {} for facet in COLUMN_FACETS}
    for facet, value, number in await session.execute(statement):
        if facet == "*":
            total = int(number or 0)
        elif value not in (None, "") and number and number > 0 and not (facet == "year" and value == "0"):
            counts[facet][value] = int(number)  # "" and a kept year of 0 are no value
    return total, {facet: _listed(request, facet, counts[facet]) for facet in COLUMN_FACETS}


def _listed(request: SearchRequest, facet: str, counts: dict[str, int]) -> list[tuple[str, str, int]]:
    """A facet's values to show, the most frequent first, from value -> count."""
    counted = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:FACET_VALUES]
    listed = {value for value, _ in counted}
    # A chosen value stays listed (to be removed) even when no longer among the most frequent.
    counted += [(value, 0) for value in request.values(facet) if value not in listed]
    return [(value, value, count) for value, count in counted]


def _each_theme_key(themes, dialect: str):
    """A FROM clause of one row per key of `themes` (an item's theme keys, space-separated, each
    of [a-z0-9] only: themes.theme_key), column `value`: themes counted by the database per key
    rather than per set of keys, a set being nearly one per item. For « réemploi » at 100,000
    items, ~3,000 sets came back to be split in Python: ~10 ms of the main thread per search."""
    if dialect == "sqlite":
        as_json = literal('["') + func.replace(themes, " ", '","') + literal('"]')
        return func.json_each(as_json).table_valued("value")
    return func.unnest(func.string_to_array(themes, " ")).table_valued("value").render_derived()


def _one_pass_statement(dialect: str, request: SearchRequest, matched: _MatchedRows, page_size: int):
    """The page of results and every count of a search with words, the themes included, in one
    statement that finds the shown matching items once (a materialized CTE: the words' match,
    its ranking and the look-up of each match's facets are most of the cost) and groups them per
    facet, each facet with every choice but its own (a chosen theme: a column of the CTE saying
    whether the item has it). Rows as _counts_statement's, ('theme', a theme key,
    count), and ('#', an id of the page, its position)."""
    found = matched.columns
    columns = [found[COLUMN_FACETS[facet].key].label(facet) for facet in COLUMN_FACETS] + [
        found.themes.label("themes"), found.object_id.label("object_id"),
        found.published.label("published"), matched.rank.label("rank")]
    if request.values("theme"):
        columns.append(_facet_condition("theme", request.values("theme"), columns=found).label("theme_chosen"))
    kept = select(*columns).select_from(matched.source).where(_shown(found)).cte("kept").prefix_with("MATERIALIZED")
    choices = {facet: _column_choice(kept.c[facet], facet, values)
               for facet, values in request.chosen if facet in COLUMN_FACETS}
    if request.values("theme"):
        choices["theme"] = kept.c.theme_chosen.is_(True)

    def applying(leaving_out: str | None = None) -> list:
        return [condition for facet, condition in choices.items() if facet != leaving_out]

    order = [kept.c.rank] if not request.newest_first else []
    order += [kept.c.published.desc(), kept.c.object_id.desc()]
    page = (select(kept.c.object_id, kept.c.rank, kept.c.published).where(*applying()).order_by(*order)
            .limit(page_size).offset((request.page - 1) * page_size).subquery("page"))
    # Numbered after the limit: a window over every match would sort them all once more.
    page_order = [page.c.rank] if not request.newest_first else []
    page_order += [page.c.published.desc(), page.c.object_id.desc()]
    numbered = select(literal_column("'#'"), cast(page.c.object_id, String),
                      func.row_number().over(order_by=page_order))
    return union_all(*_count_parts(dialect, kept, applying), numbered)


def _count_parts(dialect: str, kept, applying) -> list:
    """The total and one GROUP BY per facet over `kept` (a CTE with every facet's column and
    `themes`), rows (facet, value, count); `applying(facet)` gives the choices that facet's counts
    apply (every choice but its own; None: every choice)."""
    parts = [select(literal_column("'*'").label("facet"), literal_column("''").label("value"),
                    func.count().label("n")).select_from(kept).where(*applying())]
    parts += [select(literal_column(f"'{facet}'"), cast(kept.c[facet], String), func.count())
              .where(*applying(facet)).group_by(kept.c[facet]) for facet in COLUMN_FACETS]
    keys = _each_theme_key(kept.c.themes, dialect)
    parts.append(select(literal_column("'theme'"), keys.c.value, func.count()).select_from(kept.join(keys, true()))
                 .where(*applying("theme"), kept.c.themes != "").group_by(keys.c.value))
    return parts


def _missed_statement(dialect: str, query: Query):
    """The counts of the shown items the words do not match (rows as _count_parts')."""
    matched = _matches(dialect, query, ranked=False)
    if dialect == "sqlite":  # the matches' ids read once into a set; a correlated MATCH per item is not
        missed = SearchDocument.object_id.not_in(select(matched.c.object_id))
    else:  # an anti-join; NOT IN a large set is a subplan per row once past work_mem
        missed = ~select(matched.c.object_id).where(matched.c.object_id == SearchDocument.object_id).exists()
    columns = [COLUMN_FACETS[facet].label(facet) for facet in COLUMN_FACETS] + [SearchDocument.themes.label("themes")]
    kept = select(*columns).where(_shown(), missed).cte("missed").prefix_with("MATERIALIZED")
    return union_all(*_count_parts(dialect, kept, lambda leaving_out=None: []))


def _read_counts(rows) -> tuple[int, dict[str, dict[str, int]], list[tuple[int, int]]]:
    """(total, facet -> value -> count, [(position, id)] of the page) from _count_parts' rows
    (and a page's '#' rows)."""
    total = 0
    counts: dict[str, dict[str, int]] = {facet: {} for facet in FACETS}
    page: list[tuple[int, int]] = []
    for facet, value, number in rows:
        if facet == "#":
            page.append((number, int(value)))
        elif facet == "*":
            total = int(number or 0)
        elif facet == "theme":
            counts["theme"][value] = int(number)
        elif value not in (None, "") and number:
            counts[facet][value] = int(number)
    return total, counts, page


async def _matched_search(session: AsyncSession, request: SearchRequest, matched: _MatchedRows,
                          page_size: int) -> tuple[list[int], int, dict]:
    """The ids of the page, in order, and the counts over the shown items that match the words
    (and every choice), the themes included, from _one_pass_statement."""
    total, counts, page = _read_counts(await session.execute(
        _one_pass_statement(session.bind.dialect.name, request, matched, page_size)))
    facets = {facet: _listed(request, facet, counts[facet]) for facet in COLUMN_FACETS}
    facets["theme"] = await _labelled_top_themes(session, counts["theme"])
    return [object_id for _, object_id in sorted(page)], total, facets


async def _broad_counts(session: AsyncSession, request: SearchRequest, query: Query) -> tuple[int, dict] | None:
    """The counts of words found in most items shown, no choice made: the totals kept per origin
    minus the counts of the shown items the words miss, fewer to read than the matches (a word
    in every item: the matches' facets cost ~0.8 s at 100,000 items). None when the words are
    not that broad."""
    dialect = session.bind.dialect.name
    if request.chosen:
        return None
    if not await _words_are_broad(session, query):
        return None
    shown_total, shown = await search_totals.summed(session, content.followed_island_hosts())
    missed_total, missed, _ = _read_counts(await session.execute(_missed_statement(dialect, query)))
    counts = {facet: {value: number - missed[facet].get(value, 0) for value, _, number in shown[facet]}
              for facet in FACETS}
    facets = {facet: _listed(request, facet, {v: n for v, n in counts[facet].items() if n > 0})
              for facet in COLUMN_FACETS}
    labels = {value: label for value, label, _ in shown["theme"]}
    facets["theme"] = [(key, labels.get(key, key), number)
                       for key, number in _top_themes({k: n for k, n in counts["theme"].items() if n > 0})]
    return shown_total - missed_total, {facet: facets[facet] for facet in FACETS}


async def _chosen_counts(session: AsyncSession, request: SearchRequest) -> tuple[int, dict]:
    """Column counts of choices with a theme and no words, over the shown items."""
    theme = _facet_condition("theme", request.values("theme"))
    return await _column_counts(session, request, _counts_statement(
        SearchDocument.__table__, [_shown(), theme], request, literal_column("1"), lambda facet: COLUMN_FACETS[facet]))


async def _kept_counts(session: AsyncSession, request: SearchRequest) -> tuple[int, dict]:
    """Counts of choices without words (nor themes), from the combinations kept per origin."""
    return await _column_counts(session, request, _counts_statement(
        SearchCombination.__table__, [_shown(SearchCombination)], request, SearchCombination.count,
        lambda facet: getattr(SearchCombination, COLUMN_FACETS[facet].key)))


async def _two_choice_counts(session: AsyncSession, request: SearchRequest) -> tuple[int, dict]:
    """Two column facets chosen, no words: each one's values apply the other choice alone, which
    the pairs kept per origin hold; the total, the other facets and the themes apply both, counted
    over the items both let through, read once. At 100,000 items, Bretagne and fiches, the counts
    took 180 ms from the combinations kept per origin (the regions of every fiche summed ~60,000
    of them) and a second pass for the themes; 59 ms this way (min of 7, one run)."""
    (first, first_values), (second, second_values) = ((facet, _kept_values(facet, values))
                                                      for facet, values in request.chosen)
    given = {first: await _counts_with(session, second, second_values, first),
             second: await _counts_with(session, first, first_values, second)}
    statement = _counts_statement(SearchDocument.__table__, [_shown()], request, literal_column("1"),
                                  lambda facet: COLUMN_FACETS[facet], read_elsewhere=frozenset(given),
                                  themes_dialect=session.bind.dialect.name)
    total, counts, _ = _read_counts(await session.execute(statement))
    counts.update(given)
    facets = {facet: _listed(request, facet, counts[facet]) for facet in COLUMN_FACETS}
    facets["theme"] = await _labelled_top_themes(session, counts["theme"])
    return total, {facet: facets[facet] for facet in FACETS}


async def _counts_with(session: AsyncSession, facet: str, values: tuple[str, ...], counted: str) -> dict[str, int]:
    """The values of the column facet `counted` among the shown items whose `facet` has one of
    `values` (as _kept_values gives them), from the counts kept per origin: search_facet_totals
    when either is the island (the origin), else the pairs."""
    totals, pairs = SearchFacetTotal, SearchPairTotal
    if facet == "island":
        rows = select(totals.value, func.sum(totals.count)).where(
            totals.island.in_(values), totals.facet == counted, _shown(totals)).group_by(totals.value)
    elif counted == "island":
        rows = select(totals.island, func.sum(totals.count)).where(
            totals.facet == facet, totals.value.in_(values), _shown(totals)).group_by(totals.island)
    else:
        rows = select(pairs.counted_value, func.sum(pairs.count)).where(
            pairs.facet == facet, pairs.value.in_(values), pairs.counted == counted, _shown(pairs)
        ).group_by(pairs.counted_value)
    return {value: int(number) for value, number in await session.execute(rows) if number > 0}


def _kept_values(facet: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """Chosen values as the counts kept per origin hold them: a year as "2015" for 2015 and for
    "2015"."""
    if facet == "year":
        return tuple(dict.fromkeys(str(int(value)) for value in values))
    return values


def _paired_choice(request: SearchRequest) -> tuple[str, tuple[str, ...]] | None:
    """(facet, values as the kept counts hold them) when the counts of a search without words
    can come from search_pair_totals: one facet chosen; several values of it add up (an item has
    one value of each column facet), except themes (an item may have several): one theme only."""
    if len(request.chosen) != 1:
        return None
    facet, values = request.chosen[0]
    if facet == "theme":
        key = theme_key(values[0])[:100]
        return (facet, (key,)) if len(values) == 1 and key else None
    return facet, _kept_values(facet, values)


async def _pair_counts(session: AsyncSession, request: SearchRequest, facet: str,
                       values: tuple[str, ...]) -> tuple[int, dict]:
    """The counts of one chosen facet, no words, from the counts kept per origin: the chosen
    facet's own values (no other choice: every item shown), the total and the islands (the rows of
    the chosen values in search_facet_totals, per origin), every other facet (the pairs of the
    chosen values; for an island, its rows in search_facet_totals). A few thousand index entries,
    however many items the choice keeps."""
    totals = SearchFacetTotal
    shown_totals = _shown(totals)
    # The chosen facet's own values: every origin's sums minus the origins not shown (a row per
    # value), rather than every origin's rows of the facet (a theme: ~15,000 rows summed).
    own = await search_totals.shown_totals(session, content.followed_island_hosts(), facet)
    counts: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    counts[facet] = {value: number for _, value, _, number in own}
    if facet != "island":
        islands = await session.execute(select(totals.island, func.sum(totals.count)).where(
            totals.facet == facet, totals.value.in_(values), shown_totals).group_by(totals.island))
        counts["island"] = {island: int(number) for island, number in islands if number > 0}
        pairs = SearchPairTotal
        others = select(pairs.counted, pairs.counted_value, func.sum(pairs.count)).where(
            pairs.facet == facet, pairs.value.in_(values), _shown(pairs)).group_by(pairs.counted, pairs.counted_value)
    else:
        others = select(totals.facet, totals.value, func.sum(totals.count)).where(
            totals.island.in_(values), totals.facet != "island", shown_totals).group_by(totals.facet, totals.value)
    for counted, value, number in await session.execute(others):
        if number > 0:
            counts[counted][value] = int(number)
    total = sum(counts["island"].get(island, 0) for island in values) if facet == "island" else \
        sum(counts["island"].values())
    facets = {name: _listed(request, name, counts[name]) for name in COLUMN_FACETS}
    facets["theme"] = await _labelled_top_themes(session, counts["theme"])
    return total, {name: facets[name] for name in FACETS}


def matching_ids(dialect: str, request: SearchRequest):
    """The ids of the items a search finds, as a select (for the map); None for a search with no
    words and no choice (everything shown)."""
    query = search_terms.parse(request.text)
    if not query and not request.chosen and not request.text:
        return None
    if request.text and not query:
        return select(SearchDocument.object_id).where(False)
    matches = _matches(dialect, query, ranked=False) if query else None
    return select(SearchDocument.object_id).select_from(_from(matches)).where(*_scope(request))


# ---- the search --------------------------------------------------------------------------------

async def search(session: AsyncSession, request: SearchRequest, *, page_size: int = PAGE_SIZE,
                 with_facets: bool = True) -> SearchResult:
    query = search_terms.parse(request.text)
    words = bool(query)
    if request.text and not words:
        return SearchResult(request, query, 0, [], {facet: [] for facet in FACETS} if with_facets else {})
    broad = await _broad_counts(session, request, query) if words and with_facets else None
    if words and with_facets and broad is None:
        # The page and the counts from one pass over the matches.
        ids, total, facets = await _matched_search(session, request, await _matched_rows(session, query), page_size)
        facets = {facet: facets[facet] for facet in FACETS}
        return SearchResult(request, query, total, await _items(session, ids), facets)
    walked = not words and await _theme_walked(session, request, page_size)
    rows = await _matched_rows(session, query)
    found = rows.columns
    order = ([rows.rank] if rows.rank is not None and not request.newest_first else []) + [
        found.published.desc(), found.object_id.desc()]
    ids = list(await session.scalars(
        select(found.object_id).select_from(rows.source).where(*_scope(request, found, theme_walked=walked))
        .order_by(*order).limit(page_size).offset((request.page - 1) * page_size)))
    items = await _items(session, ids)
    if not with_facets:  # a feed: the items only
        return SearchResult(request, query, len(items), items, {})
    if broad is not None:  # words in most items: their page ranked above, the counts by what they miss
        total, facets = broad
        return SearchResult(request, query, total, items, facets)
    if not words and not request.chosen:
        # Everything shown: the totals kept per origin, not a pass over every item.
        total, facets = await search_totals.summed(session, content.followed_island_hosts())
        facets = {facet: facets[facet][:FACET_VALUES] for facet in FACETS}
    elif not words and (paired := _paired_choice(request)):
        # One facet chosen, no words: the pairs kept per origin.
        total, facets = await _pair_counts(session, request, *paired)
    elif not words and not request.values("theme"):
        # Choices, no words: every column facet from the combinations kept per origin.
        if len(request.chosen) == 2:
            total, facets = await _two_choice_counts(session, request)
        else:
            total, facets = await _kept_counts(session, request)
            facets["theme"] = await _theme_counts(session, request)
        facets = {facet: facets[facet] for facet in FACETS}
    else:
        # Themes and other choices, no words: one pass would read every item shown; the rows of
        # every choice, then each chosen facet's, are fewer.
        total, facets = await _chosen_counts(session, request)
        facets["theme"] = await _theme_counts(session, request)
        facets = {facet: facets[facet] for facet in FACETS}
    return SearchResult(request, query, total, items, facets)


async def _items(session: AsyncSession, ids: list[int]) -> list[StoredObject]:
    found = {item.id: item for item in await session.scalars(select(StoredObject).where(StoredObject.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


async def themes_of(session: AsyncSession, items: list[StoredObject]) -> dict[int, list[tuple[str, str]]]:
    """(key, label) of the themes of each item, for a page of results in one query."""
    themes: dict[int, list[tuple[str, str]]] = {item.id: [] for item in items}
    if items:
        rows = await session.execute(select(ItemTheme.object_id, ItemTheme.key, ItemTheme.label)
                                     .where(ItemTheme.object_id.in_(list(themes))).order_by(ItemTheme.id))
        for object_id, key, label in rows:
            themes[object_id].append((key, label))
    return themes

