"""The admins' deliveries page and "Mon espace" on a phone: their tables scroll inside their
frame (visually hidden labels included), never the page sideways; axe finds nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from archipel.storage.tables import HostHealth, utcnow
from tests.browser.test_accounts import WIDTHS, no_horizontal_scroll
from tests.browser.test_authoring import PASSWORD, assert_accessible, log_in
from web import provision


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_deliveries_page_and_my_space_keep_to_the_screen(island, new_page, width):
    await provision.add_user(island.sessions, username="gwen", password=PASSWORD, role="admin")
    await island.publish("gwen", "Un atelier au titre assez long pour remplir une ligne de tableau")
    async with island.sessions() as session:
        session.add(HostHealth(host="mastodon.exemple.org", consecutive_failures=4,
                               paused_until=utcnow() + timedelta(hours=1), last_failure_at=utcnow(),
                               last_error="ClientConnectorError: Cannot connect to host mastodon.exemple.org:443"))
        await session.commit()
    page = await new_page(viewport=WIDTHS[width])
    await log_in(page, island, "gwen")
    assert await no_horizontal_scroll(page)  # Mon espace: its table of items
    await page.get_by_role("link", name="Livraisons", exact=True).click()
    await page.wait_for_url(f"{island.url}/espace/livraisons")
    assert "mastodon.exemple.org" in await page.locator("table").inner_text()
    await assert_accessible(page)
    assert await no_horizontal_scroll(page)
