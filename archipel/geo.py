"""The map's data: public fiches, resources and events with a position, and their grouping into clusters
by a grid computed in SQL (the same statement on SQLite and PostgreSQL), so that a map stays
light at 100,000 items: whatever the bounding box and zoom, an answer holds at most
(GRID_SIDE + 1)² clusters or MAX_POINTS points.

Every query takes `base_ids`, a select of `StoredObject.id` to restrict to: the map's own filters
today, the search's (archipel/search.py) tomorrow, in one line."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Integer, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from archipel import content
from archipel.errors import InvalidInput
from archipel.storage.tables import StoredObject

KINDS = ("fiche", "resource", "event")
MAX_ZOOM = 20  # tiles go no further; a bigger zoom is clamped
CELLS_PER_TILE = 4  # a cell is a quarter of a 256-pixel tile: 64 pixels
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
    """The items to put on a map: public, with a position, among `base_ids` if given."""
    query = content.public_items(local=None, kinds=KINDS).where(
        StoredObject.latitude.is_not(None), StoredObject.longitude.is_not(None))
    if base_ids is not None:
        query = query.where(StoredObject.id.in_(base_ids))
    return query


def in_box(query, box: Bbox):
    """The items of `query` inside the box: a range of ix_objects_map (kind, latitude, longitude
    and every other column the map reads), whatever the box's size; without it, SQLite read a
    city's items through the listings' index (every item, 0.6 s at 100,000) and a country's
    from the wide rows."""
    return query.where(StoredObject.latitude.between(box.south, box.north),
                       StoredObject.longitude.between(box.west, box.east))


class _cell(FunctionElement):
    """floor() of a non-negative number as an integer. PostgreSQL's CAST rounds, SQLite's
    truncates (and its floor() exists only when built with math functions): one name, both right."""
    type = Integer()
    inherit_cache = True


@compiles(_cell)
def _cell_default(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


@compiles(_cell, "postgresql")
def _cell_postgresql(element, compiler, **kw):
    return f"CAST(floor({compiler.process(element.clauses, **kw)}) AS INTEGER)"


def cell_size(box: Bbox, zoom: int) -> float:
    """Degrees per grid cell: 64 pixels at this zoom, but never more than GRID_SIDE cells across
    the box (a world-wide box at zoom 20 is hostile, or a mistake: it gets a coarse grid)."""
    size = 360.0 / (2 ** zoom) / CELLS_PER_TILE
    return max(size, (box.north - box.south) / GRID_SIDE, (box.east - box.west) / GRID_SIDE, 1e-9)


@dataclass(frozen=True)
class Cluster:
    count: int
    latitude: float
    longitude: float


async def clusters(session: AsyncSession, box: Bbox, zoom: int, base_ids=None
                   ) -> tuple[list[Cluster], list[StoredObject]]:
    """The items in the box, as clusters (count, centroid) and single points. A cell holding one
    item gives a point; from POINTS_ZOOM on, every item does, if they are at most MAX_POINTS."""
    items = in_box(positioned(base_ids), box).order_by(None)
    if zoom >= POINTS_ZOOM:
        found = list(await session.scalars(items.order_by(StoredObject.id).limit(MAX_POINTS + 1)))
        if len(found) <= MAX_POINTS:
            return [], found
    size = cell_size(box, zoom)
    x = _cell((StoredObject.longitude - box.west) / size)
    y = _cell((StoredObject.latitude - box.south) / size)
    rows = (await session.execute(
        items.with_only_columns(func.count(StoredObject.id), func.avg(StoredObject.latitude),
                                func.avg(StoredObject.longitude), func.min(StoredObject.id))
        .group_by(x, y))).all()
    groups = [Cluster(count, float(lat), float(lon)) for count, lat, lon, _ in rows if count > 1]
    single = [ident for count, _, _, ident in rows if count == 1]
    points = list(await session.scalars(select(StoredObject).where(StoredObject.id.in_(single))
                                        .order_by(StoredObject.id))) if single else []
    return groups, points


async def extent(session: AsyncSession, base_ids=None) -> Bbox | None:
    """The smallest box holding every item, for a map's first view; None when there is none."""
    return (await overview(session, base_ids))[1]


async def overview(session: AsyncSession, base_ids=None) -> tuple[int, Bbox | None]:
    """How many items the map holds and the smallest box holding them, in one pass (read from
    ix_objects_map alone, not from the rows)."""
    row = (await session.execute(positioned(base_ids).order_by(None).with_only_columns(
        func.count(StoredObject.id), func.min(StoredObject.latitude), func.min(StoredObject.longitude),
        func.max(StoredObject.latitude), func.max(StoredObject.longitude)))).one()
    return row[0], None if row[1] is None else Bbox(*row[1:])
