"""The map's data: public fiches, resources and events with a position, and their grouping into
clusters by the world's grid at the view's zoom (archipel/map_cells.py), so that a map stays
light at 100,000 items: whatever the bounding box and zoom, an answer holds at most
(GRID_SIDE + 1)² clusters or MAX_POINTS points.

Without a filter (or with islands only), the clusters, count and extent are read from the cells
kept per zoom (map_cells); otherwise the items are grouped by the same grid in SQL (the same
statement on SQLite and PostgreSQL), with the same sums: both give the same answer.

Every query takes `base_ids`, a select of `StoredObject.id` to restrict to: the search's
(archipel/search.py matching_ids)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from sqlalchemy import BigInteger, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from archipel import content, map_cells, search_totals
from archipel.errors import InvalidInput
from archipel.storage.tables import MapCell, SearchDocument, StoredObject

KINDS = map_cells.KINDS
MAX_ZOOM = 20  # tiles go no further; a bigger zoom is clamped
GRID_SIDE = 32  # at most this many cells across the box, whatever the zoom says
POINTS_ZOOM = 16  # from this zoom on, every item is a point (if there are few enough)
MAX_POINTS = 500  # the most points one answer carries


@dataclass(frozen=True)
class Bbox:
    south: float
    west: float
    north: float
    east: float


def parse_bbox(text: str) -> Bbox:
    """`west,south,east,north` in degrees (Leaflet's `toBBoxString()`). A box reaching past the
    world's edges (a map scrolled sideways) is clamped; anything not four finite numbers, or
    upside down, is refused."""
    parts = text.split(",")
    if len(parts) != 4 or len(text) > 200:
        raise InvalidInput("Le cadre de la carte s'écrit ouest,sud,est,nord.")
    try:
        west, south, east, north = (float(part) for part in parts)
    except ValueError:
        raise InvalidInput("Le cadre de la carte est fait de quatre nombres.") from None
    if not all(math.isfinite(value) for value in (west, south, east, north)):
        raise InvalidInput("Le cadre de la carte est fait de quatre nombres.")
    box = Bbox(south=max(-90.0, south), west=max(-180.0, west), north=min(90.0, north), east=min(180.0, east))
    if box.south > box.north or box.west > box.east:
        raise InvalidInput("Le cadre de la carte doit aller d'ouest en est et du sud au nord, sur la Terre.")
    return box


def parse_zoom(text: str) -> int:
    """A map zoom level, clamped to 0..MAX_ZOOM; not an integer: refused."""
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 4:
        raise InvalidInput("Le niveau de zoom est un nombre entier.")
    return min(max(int(text), 0), MAX_ZOOM)


def public_ids():
    """Every public fiche and resource of the archipelago (content.public_items' rules)."""
    return content.public_items(local=None, kinds=KINDS).with_only_columns(StoredObject.id).order_by(None)


def positioned(base_ids=None):
    """The items to put on a map: public (listed, and not addressed to followers only: what the
    search indexes and the kept cells count), with a position, among `base_ids` if given.
    Without `base_ids`, the same statement every time (content.page_of pages it)."""
    query = _all_positioned()
    if base_ids is not None:
        query = query.where(StoredObject.id.in_(base_ids))
    return query


# What the list beside a map shows of an item (web/templates/_map_list.html): a card's columns
# and its position, not whole items (a page lists a hundred).
LISTED = (*content.CARD_COLUMNS, StoredObject.region, StoredObject.latitude, StoredObject.longitude)


def listed(base_ids=None):
    """positioned(), as the columns of LISTED (the same statement every time without `base_ids`)."""
    return _all_listed() if base_ids is None else positioned(base_ids).with_only_columns(*LISTED)


@cache
def _all_listed():
    return _all_positioned().with_only_columns(*LISTED)


@cache
def _all_positioned():
    return content.public_items(local=None, kinds=KINDS).where(
        StoredObject.public.is_not(False), StoredObject.latitude.is_not(None), StoredObject.longitude.is_not(None))


def in_box(query, box: Bbox):
    """The items of `query` inside the box: a range of ix_objects_map (kind, latitude, longitude
    and every other column the map reads), whatever the box's size; without it, SQLite read a
    city's items through the listings' index (every item, 0.6 s at 100,000) and a country's
    from the wide rows."""
    return query.where(StoredObject.latitude.between(box.south, box.north),
                       StoredObject.longitude.between(box.west, box.east))


class _floor(FunctionElement):
    """floor() of a non-negative number as an integer. PostgreSQL's CAST rounds, SQLite's
    truncates (and its floor() exists only when built with math functions): one name, both right."""
    type = BigInteger()
    inherit_cache = True


@compiles(_floor)
def _floor_default(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


@compiles(_floor, "postgresql")
def _floor_postgresql(element, compiler, **kw):
    return f"CAST(floor({compiler.process(element.clauses, **kw)}) AS BIGINT)"


def grid_zoom(box: Bbox, zoom: int) -> int:
    """The zoom whose world grid (map_cells.cell_size) groups this view: the view's own, or a
    coarser one when the box would span more than GRID_SIDE of its cells (a world-wide box at
    zoom 20 is hostile, or a mistake: it gets a coarse grid)."""
    span = max(box.north - box.south, box.east - box.west)
    while zoom > 0 and map_cells.cell_size(zoom) * GRID_SIDE < span:
        zoom -= 1
    return zoom


def cells_of(box: Bbox, zoom: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The columns and rows (first, last) of the cells the box touches, at a zoom's grid."""
    west, south = map_cells.cell_of(box.south, box.west, zoom)
    east, north = map_cells.cell_of(box.north, box.east, zoom)
    return (west, east), (south, north)


def _in_cells(query, table, zoom: int, columns: tuple[int, int], rows: tuple[int, int]):
    """The rows of `query` around those cells, `table` holding their position (objects, or
    search_documents): a range of positions a little wider than the cells (for objects, a range
    of ix_objects_map: kind, latitude, longitude and every other column the map reads), and each
    row's cell computed as map_cells.cell_of does (the same IEEE arithmetic: the same cells). The
    caller keeps the cells asked for: a condition on the computed cells here made PostgreSQL
    expect one row, and check the search's words item by item."""
    size = map_cells.cell_size(zoom)
    margin = size / 1024
    x = _floor((table.longitude + 180.0) / size)
    y = _floor((table.latitude + 90.0) / size)
    return query.where(
        table.latitude.between(rows[0] * size - 90.0 - margin, (rows[1] + 1) * size - 90.0 + margin),
        table.longitude.between(columns[0] * size - 180.0 - margin, (columns[1] + 1) * size - 180.0 + margin)), x, y


def _search_documents(base_ids) -> bool:
    """Whether `base_ids` is a search's select (search.matching_ids: search_documents' ids).
    Its rows hold each item's kind and position: the map reads those narrow rows for the items
    it matches, rather than every item of the box checked against the matches."""
    columns = list(base_ids.selected_columns) if base_ids is not None else []
    return len(columns) == 1 and columns[0].compare(SearchDocument.__table__.c.object_id)


@dataclass(frozen=True)
class Cluster:
    count: int
    latitude: float
    longitude: float


async def clusters(session: AsyncSession, box: Bbox, zoom: int, base_ids=None, *, kept=None
                   ) -> tuple[list[Cluster], list[StoredObject]]:
    """The items of the cells the box touches (the world's grid at this zoom, or a coarser one:
    `grid_zoom`), as clusters (count, mean position) and single points: a cell holding one item
    gives a point. The grid is the world's, not the box's: a cluster stays where it is when the
    map pans, and an item near the box's edge counts with its cell, whole.

    From POINTS_ZOOM on, every item in the box is a point, if they are at most MAX_POINTS.
    `kept`: when the kept cells can answer (no filter, or only islands), the condition on their
    origins (`kept_origins`); they are read instead of the items up to map_cells.KEPT_ZOOM."""
    if zoom >= POINTS_ZOOM:
        # The box's ids from the position index first (no order: SQLite would walk another
        # index in id order and read every item); the rows, in id order, only if few enough.
        inside = in_box(positioned(base_ids), box).order_by(None).with_only_columns(StoredObject.id)
        ids = list(await session.scalars(inside.limit(MAX_POINTS + 1)))
        if len(ids) <= MAX_POINTS:
            return [], await _items(session, ids)
    grid = grid_zoom(box, zoom)
    columns, rows = cells_of(box, grid)
    if kept is not None and grid <= map_cells.KEPT_ZOOM:
        found = await map_cells.cells(session, grid, columns, rows, kept)
    else:
        found = await counted_cells(session, grid, columns, rows, base_ids)
    groups, single = [], []
    for _, _, count, latitude, longitude, ids in found:
        if count == 1:
            single.append(ids)
        else:
            groups.append(Cluster(count, *map_cells.from_units(latitude, longitude, count)))
    return groups, await _items(session, single, positioned(base_ids))


async def counted_cells(session: AsyncSession, zoom: int, columns: tuple[int, int], rows: tuple[int, int],
                        base_ids=None) -> list[tuple[int, int, int, int, int, int]]:
    """What map_cells.cells reads from the kept rows, counted from the items: (x, y, count,
    latitude units, longitude units, ids) of each non-empty cell, in (x, y) order."""
    if _search_documents(base_ids):
        table = SearchDocument
        query = base_ids.order_by(None).where(SearchDocument.kind.in_(KINDS))
    else:
        table = StoredObject
        query = positioned(base_ids).order_by(None)
    ident = table.object_id if table is SearchDocument else table.id
    items, x, y = _in_cells(query, table, zoom, columns, rows)
    found = await session.execute(items.with_only_columns(
        x, y, func.count(ident), func.sum(units(table.latitude, 90.0)),
        func.sum(units(table.longitude, 180.0)), func.sum(ident)).group_by(x, y))
    return sorted(cell for cell in (tuple(int(value) for value in row) for row in found)
                  if columns[0] <= cell[0] <= columns[1] and rows[0] <= cell[1] <= rows[1])


def units(column, offset: float):
    """A position as map_cells.position_units makes it: integers of 1e-7 degree from the world's
    corner, rounded half up."""
    return _floor((column + offset) * map_cells.UNITS + 0.5)


async def _items(session: AsyncSession, ids: list[int], among=None) -> list[StoredObject]:
    """The rows of these items, in id order (`among`: only those it still holds)."""
    if not ids:
        return []
    query = (among if among is not None else select(StoredObject)).where(StoredObject.id.in_(ids))
    return list(await session.scalars(query.order_by(None).order_by(StoredObject.id)))


def kept_origins(request) -> object | None:
    """The condition on map_cells' origins that answers a search (search.SearchRequest) from
    the kept cells: the islands shown, and of them the chosen ones; None when it has words or
    another choice (its items are counted then)."""
    if request.text or any(facet != "island" for facet, _ in request.chosen):
        return None
    shown = search_totals.shown(MapCell, content.followed_island_hosts())
    islands = request.values("island")
    return and_(shown, MapCell.island.in_(islands)) if islands else shown


async def extent(session: AsyncSession, base_ids=None, *, kept=None) -> Bbox | None:
    """A box holding every item, for a map's first view; None when there is none."""
    return (await overview(session, base_ids, kept=kept))[1]


async def overview(session: AsyncSession, base_ids=None, *, kept=None) -> tuple[int, Bbox | None]:
    """How many items the map holds and a box holding them all. `kept` (see `clusters`): from
    the kept cells, the box being their cells' (map_cells.overview: within a cell of the items'
    own extent). Otherwise the smallest box, in one pass: over the search's rows when
    `base_ids` is a search's (their kind and position: narrow rows, where the listings' index
    was walked whole, wide rows and all), or over ix_objects_map."""
    if kept is not None:
        total, box = await map_cells.overview(session, kept)
        return total, None if box is None else Bbox(*box)
    if _search_documents(base_ids):
        query = base_ids.order_by(None).with_only_columns(
            func.count(SearchDocument.object_id), func.min(SearchDocument.latitude),
            func.min(SearchDocument.longitude), func.max(SearchDocument.latitude),
            func.max(SearchDocument.longitude)).where(
            SearchDocument.kind.in_(KINDS), SearchDocument.latitude.is_not(None),
            SearchDocument.longitude.is_not(None))
    else:
        query = positioned(base_ids).order_by(None).with_only_columns(
            func.count(StoredObject.id), func.min(StoredObject.latitude), func.min(StoredObject.longitude),
            func.max(StoredObject.latitude), func.max(StoredObject.longitude))
    row = (await session.execute(query)).one()
    return row[0], None if row[1] is None else Bbox(*row[1:])
