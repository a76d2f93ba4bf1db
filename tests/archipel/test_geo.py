"""archipel/geo.py: bbox and zoom checks, the grid's bound, and the hook for other filters."""

import math

import pytest
from sqlalchemy import select

from archipel import geo
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


@pytest.mark.parametrize("box", ["-180,-90,180,90", "-4.6,48.3,-4.4,48.5", "0,0,0,0"])
def test_the_grid_never_has_more_than_grid_side_cells_across(box):
    bbox = geo.parse_bbox(box)
    for zoom in range(geo.MAX_ZOOM + 1):
        size = geo.cell_size(bbox, zoom)
        assert size > 0
        assert math.floor((bbox.east - bbox.west) / size) <= geo.GRID_SIDE
        assert math.floor((bbox.north - bbox.south) / size) <= geo.GRID_SIDE


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
