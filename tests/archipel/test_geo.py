"""archipel/geo.py: bbox and zoom checks, the world's grid and its bound, and the hook for other filters."""

import random

import pytest
from sqlalchemy import select

from archipel import geo, map_cells
from archipel.errors import InvalidInput
from archipel.storage.tables import StoredObject
from tests.map_items import place


def test_bbox_is_west_south_east_north_clamped_to_the_world():
    assert geo.parse_bbox("-4.6,48.3,-4.4,48.5") == geo.Bbox(south=48.3, west=-4.6, north=48.5, east=-4.4)
    assert geo.parse_bbox("-200,-95,200,95") == geo.Bbox(south=-90, west=-180, north=90, east=180)


@pytest.mark.parametrize("text", ["", "1,2,3", "1,2,3,4,5", "nan,0,1,1", "0,0,inf,1", "a,b,c,d", "1,0,0,1",
                                  "0,1,1,0", "200,0,300,1", "1" * 201])
def test_bad_boxes_are_refused(text):
    with pytest.raises(InvalidInput):
        geo.parse_bbox(text)


@pytest.mark.parametrize("text, zoom", [("0", 0), ("7", 7), ("-3", 0), ("9999", geo.MAX_ZOOM)])
def test_zoom_is_clamped(text, zoom):
    assert geo.parse_zoom(text) == zoom


@pytest.mark.parametrize("text", ["", "1.5", "1e3", "cinq", "١٢", "99999"])
def test_bad_zooms_are_refused(text):
    with pytest.raises(InvalidInput):
        geo.parse_zoom(text)


@pytest.mark.parametrize("box", ["-180,-90,180,90", "-4.6,48.3,-4.4,48.5", "0,0,0,0", "-5.5,41,10,51.5"])
def test_the_grid_never_has_more_than_grid_side_cells_across(box):
    bbox = geo.parse_bbox(box)
    for zoom in range(geo.MAX_ZOOM + 1):
        grid = geo.grid_zoom(bbox, zoom)
        assert 0 <= grid <= zoom
        (west, east), (south, north) = geo.cells_of(bbox, grid)
        assert 0 <= east - west <= geo.GRID_SIDE and 0 <= north - south <= geo.GRID_SIDE
        if grid < zoom:  # coarser only when the view's own grid would be too fine
            finer = geo.cells_of(bbox, grid + 1)
            assert max(finer[0][1] - finer[0][0], finer[1][1] - finer[1][0]) >= geo.GRID_SIDE


def test_a_browser_view_is_grouped_by_its_own_zoom():
    # 1,000 x 700 pixels at zoom 6, over France: 64-pixel cells.
    assert geo.grid_zoom(geo.parse_bbox("-5.5,41,10,51.5"), 6) == 6
    assert geo.grid_zoom(geo.parse_bbox("-4.56,48.36,-4.41,48.42"), 13) == 13


@pytest.mark.parametrize("zoom", range(0, 20))
def test_a_cell_is_four_cells_of_the_next_zoom(zoom):
    rng = random.Random(zoom)
    for _ in range(2000):
        lat, lon = round(rng.uniform(-90, 90), rng.choice((0, 2, 6))), round(rng.uniform(-180, 180), rng.choice((0, 2, 6)))
        x, y = map_cells.cell_of(lat, lon, zoom)
        finer = map_cells.cell_of(lat, lon, zoom + 1)
        assert (finer[0] >> 1, finer[1] >> 1) == (x, y), (lat, lon)
        size = map_cells.cell_size(zoom)
        assert x * size - 180 <= lon and y * size - 90 <= lat


async def test_a_select_of_ids_restricts_the_map(island):
    """How the search plugs in: any select of StoredObject.id."""
    brest = await place(island, "alice", "Brest", 48.39, -4.49)
    await place(island, "alice", "Nantes", 47.22, -1.55)
    async with island.sessions() as session:
        only = select(StoredObject.id).where(StoredObject.uri == brest)
        assert [i.name for i in await session.scalars(geo.positioned(only))] == ["Brest"]
        groups, points = await geo.clusters(session, geo.parse_bbox("-180,-90,180,90"), 3, only)
        assert groups == [] and [p.name for p in points] == ["Brest"]
        assert await geo.extent(session, only) == geo.Bbox(48.39, -4.49, 48.39, -4.49)
        assert len(list(await session.scalars(geo.positioned()))) == 2
