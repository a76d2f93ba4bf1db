"""A page deep down a listing starts at its cursor in the index, on both databases: half-way down
100,000 items, PostgreSQL walked the 50,000 newer ones when the cursor was written as
`published < m OR (published = m AND id < i)` (120 ms a page)."""

from __future__ import annotations

from datetime import datetime, timezone

from archipel import content
from tests.query_plans import plan


async def test_a_deep_page_seeks_its_cursor_in_the_index(make_island):
    node = await make_island("plans", workers=False)
    position = (datetime(2026, 1, 1, tzinfo=timezone.utc), 1000)
    async with node.sessions() as session:
        page = content.page_of(content.public_items(local=None), True, 31)  # as web/listing.py reads it
        explained = await plan(session, page.params(**content.cursor_values(position)))
    if "Index Cond" in explained:  # PostgreSQL (scans forbidden)
        assert "Index Cond: (ROW(published, id) < ROW(" in explained, explained
    else:  # SQLite: the cursor bounds the range read, not a filter of every row before it
        assert "published<?" in explained.split("\n")[0], explained
