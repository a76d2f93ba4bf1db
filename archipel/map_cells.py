"""The map's clusters kept per zoom, so that a country's view sums a few thousand rows instead of
grouping every positioned item.

The grid is the world's, one per zoom: a cell is a quarter of a 256-pixel tile (64 pixels),
`cell_size(zoom)` degrees, counted from the south-west corner of the world (-180, -90). A cell of
one zoom is exactly four of the next (sizes halve, and so do the quotients, without rounding).

Each positioned item the search indexes (a fiche, resource or event: archipel/search_index.py)
counts, at every zoom up to KEPT_ZOOM, in its cell under its origin (island, local, re-sharing
island: what search_totals.shown filters on). A row holds the count and the sums of the items'
positions and ids: a cluster's centre is the mean, and a cell holding one item names it by the
sum of ids. Positions are summed as integers (units of 1e-7 degree from the world's corner), so
that sums are exact whatever the order of additions and removals, and equal to what geo's own
GROUP BY computes from the items (`units` there and `position_units` here are the same
arithmetic).

Rows of +n / -n, like search_totals: written by `apply` in the transaction that changes
search_documents, never updated; `compact` folds the cells that have several rows (a worker of
`archipel serve`); reads sum the rows either way.
"""

from __future__ import annotations

import math
from collections import defaultdict

from sqlalchemy import delete, func, insert, select, tuple_
from sqlalchemy.engine import Connection

from archipel.storage.tables import MapCell

KINDS = ("fiche", "resource", "event")  # what the map shows
CELLS_PER_TILE = 4  # a cell is a quarter of a 256-pixel tile: 64 pixels
KEPT_ZOOM = 12  # cells kept for zooms 0 to 12 (a cell of ~2 km); closer views read the items
UNITS = 10_000_000  # positions summed in 1e-7 degree
ORIGIN = ("island", "local", "via")
_KEY = ("zoom", "x", "y", *ORIGIN)
_SUMS = ("count", "latitude", "longitude", "ids")


def cell_size(zoom: int) -> float:
    """Degrees per cell of the world's grid at this zoom: 64 pixels of a 256-pixel tile."""
    return 360.0 / (2 ** zoom) / CELLS_PER_TILE


def cell_of(latitude: float, longitude: float, zoom: int) -> tuple[int, int]:
    """(x, y) of the cell holding a position: the same IEEE arithmetic as geo's SQL (floor of a
    non-negative quotient)."""
    size = cell_size(zoom)
    return math.floor((longitude + 180.0) / size), math.floor((latitude + 90.0) / size)


def position_units(latitude: float, longitude: float) -> tuple[int, int]:
    """A position as integers of 1e-7 degree from the world's south-west corner (rounded half
    up, as geo's SQL does)."""
    return math.floor((latitude + 90.0) * UNITS + 0.5), math.floor((longitude + 180.0) * UNITS + 0.5)


def from_units(latitude: int, longitude: int, count: int) -> tuple[float, float]:
    """The mean position of `count` items from their summed units."""
    return latitude / count / UNITS - 90.0, longitude / count / UNITS - 180.0


def kept(document: dict) -> bool:
    """Whether an indexed item (a search_documents row as a mapping) is on the map."""
    return (document.get("kind") in KINDS and document.get("latitude") is not None
            and document.get("longitude") is not None)


def changes(removed: list[dict], added: list[dict]) -> dict[tuple, list[int]]:
    """The net change of each (zoom, x, y, island, local, via): [count, latitude, longitude,
    ids]. An item changed without moving nor changing origin changes nothing."""
    delta: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for sign, documents in ((-1, removed), (1, added)):
        for document in documents:
            if not kept(document):
                continue
            latitude, longitude = document["latitude"], document["longitude"]
            units = position_units(latitude, longitude)
            origin = (document["island"], bool(document["local"]), document["via"])
            for zoom in range(KEPT_ZOOM + 1):
                sums = delta[(zoom, *cell_of(latitude, longitude, zoom), *origin)]
                sums[0] += sign
                sums[1] += sign * units[0]
                sums[2] += sign * units[1]
                sums[3] += sign * document["object_id"]
    return {key: sums for key, sums in delta.items() if any(sums)}


def apply(connection: Connection, removed: list[dict], added: list[dict]) -> None:
    delta = changes(removed, added)
    if delta:
        connection.execute(insert(MapCell), [dict(zip(_KEY, key), **dict(zip(_SUMS, sums)))
                                             for key, sums in delta.items()])


def clear(connection: Connection) -> None:
    connection.execute(delete(MapCell))


async def compact(session, *, batch: int = 500) -> int:
    """Fold the rows of every cell and origin that has several into one (none when they sum to
    nothing), in the caller's transaction; the rows removed. Only those cells are rewritten: a
    table of ~150,000 rows is not copied each time. Which cells is read first (no write lock
    held while the table is grouped); the rows deleted are exactly those summed (DELETE …
    RETURNING): a row another transaction commits meanwhile waits for the next time."""
    key = [getattr(MapCell, name) for name in _KEY]
    crowded = [tuple(row) for row in await session.execute(select(*key).group_by(*key).having(func.count() > 1))]
    removed = 0
    for start in range(0, len(crowded), batch):
        rows = (await session.execute(delete(MapCell).where(tuple_(*key).in_(crowded[start:start + batch]))
                                      .returning(*key, *(getattr(MapCell, name) for name in _SUMS)))).all()
        sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for row in rows:
            total = sums[tuple(row[:len(_KEY)])]
            for index, value in enumerate(row[len(_KEY):]):
                total[index] += int(value)
        folded = [dict(zip(_KEY, values), **dict(zip(_SUMS, total))) for values, total in sums.items() if total[0]]
        if folded:
            await session.execute(insert(MapCell), folded)
        removed += len(rows) - len(folded)
    return removed


class Compactor:
    """`compact` when GROWTH rows were written since the last time (a round of `archipel
    serve`'s workers, every minute or so). Growth is read from the largest id: no count of the
    table each round."""

    GROWTH = 20_000  # ~1,500 items changed: a compaction groups the whole table (~0.2 s at 100,000 items)

    def __init__(self, sessions):
        self.sessions = sessions
        self.mark: int | None = None

    async def run_once(self) -> int:
        async with self.sessions() as session:
            last = await session.scalar(select(func.max(MapCell.id))) or 0
            if self.mark is None or last - self.mark >= self.GROWTH:
                await compact(session)
                await session.commit()
                self.mark = last
        return 0  # never busy: the next round waits its interval


def _summed():
    return [func.sum(getattr(MapCell, name)) for name in _SUMS]


async def cells(session, zoom: int, columns: tuple[int, int], rows: tuple[int, int], shown
                ) -> list[tuple[int, int, int, int, int, int]]:
    """(x, y, count, latitude units, longitude units, ids) of every non-empty cell of the zoom
    within the columns and rows (inclusive), summed over the origins `shown` (a condition on
    MapCell's origin columns), in (x, y) order."""
    result = await session.execute(
        select(MapCell.x, MapCell.y, *_summed())
        .where(MapCell.zoom == zoom, MapCell.x.between(*columns), MapCell.y.between(*rows), shown)
        .group_by(MapCell.x, MapCell.y).having(func.sum(MapCell.count) > 0))
    return sorted(tuple(int(value) for value in row) for row in result)


EXTENT_ZOOM = 8  # a map's first view: within a cell of this zoom (~40 km) of its items' extent
FINE_EXTENT_ITEMS = 5000  # at most this many items: within a cell of KEPT_ZOOM (~2 km)


async def overview(session, shown) -> tuple[int, tuple[float, float, float, float] | None]:
    """How many items the origins `shown` place on the map, and a box holding them all (south,
    west, north, east): the bounds of the non-empty cells at EXTENT_ZOOM, or at KEPT_ZOOM for a
    few items. Rows read: those of two zooms, never the items."""
    total = await session.scalar(select(func.coalesce(func.sum(MapCell.count), 0))
                                 .where(MapCell.zoom == 0, shown))
    total = int(total or 0)
    if not total:
        return 0, None
    zoom = KEPT_ZOOM if total <= FINE_EXTENT_ITEMS else EXTENT_ZOOM
    occupied = (select(MapCell.x, MapCell.y).where(MapCell.zoom == zoom, shown)
                .group_by(MapCell.x, MapCell.y).having(func.sum(MapCell.count) > 0).subquery())
    west, east, south, north = (await session.execute(select(
        func.min(occupied.c.x), func.max(occupied.c.x), func.min(occupied.c.y), func.max(occupied.c.y)))).one()
    size = cell_size(zoom)
    return total, (max(-90.0, south * size - 90.0), max(-180.0, west * size - 180.0),
                   min(90.0, (north + 1) * size - 90.0), min(180.0, (east + 1) * size - 180.0))
