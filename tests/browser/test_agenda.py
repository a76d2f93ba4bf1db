"""The agenda in Chromium: upcoming events by month, a filter of the search, past events, the
calendar link of each event, on a desktop and on a phone, with axe finding nothing serious."""

from __future__ import annotations

from tests.browser.conftest import axe_violations, describe_violations
from tests.events import publish_event


async def fill(island) -> None:  # the island fixture has alice already
    await publish_event(island, "alice")  # Brest, March 2027
    await publish_event(island, "alice", title="Barcamp de la transition", tags=["Transition"],
                        start="2027-05-20T09:00:00+02:00", end="2027-05-21T18:00:00+02:00",
                        territory={"place": "Nantes", "region": "Pays de la Loire"})
    await publish_event(island, "alice", title="Forum des usages coopératifs 2020",
                        start="2020-07-01T09:00:00+02:00", end="2020-07-03T18:00:00+02:00")


async def assert_accessible(page) -> None:
    violations = await axe_violations(page)
    assert not violations, f"axe on {page.url}:\n{describe_violations(violations)}"


async def test_the_agenda_by_month_with_a_filter_and_past_events(island, page):
    await fill(island)
    await page.goto(island.url + "/")
    await page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Agenda").click()
    await page.wait_for_url("**/agenda")
    events = page.locator("li.agenda-event h4")
    assert await events.all_inner_texts() == ["Journée des fabmanagers", "Barcamp de la transition"]
    assert await page.locator("h3.agenda-month").all_inner_texts() == ["mars 2027", "mai 2027"]
    first = page.locator("li.agenda-event").first
    assert "vendredi 12 mars 2027, 09:30 – 17:00 (heure de Paris)" in await first.inner_text()
    href = await first.get_by_role("link", name="Ajouter à mon agenda").get_attribute("href")
    assert href.startswith("/agenda/") and href.endswith(".ics")
    await assert_accessible(page)

    await page.locator("#facet-region + ul").get_by_role("link", name="Pays de la Loire").click()
    await page.wait_for_url("**/agenda?region=Pays+de+la+Loire")
    assert await events.all_inner_texts() == ["Barcamp de la transition"]

    await page.get_by_role("link", name="Événements passés").click()
    await page.wait_for_url("**passes=1")
    assert await events.all_inner_texts() == []  # the filter stays: no past event in that region
    await page.locator('#facet-region + ul a[aria-current="true"]').click()
    await page.wait_for_url("**/agenda?passes=1")
    assert await events.all_inner_texts() == ["Forum des usages coopératifs 2020"]
    await assert_accessible(page)


async def test_the_agenda_on_a_phone_in_english(island, new_page):
    await fill(island)
    page = await new_page(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    await page.goto(island.url + "/agenda?lang=en")
    await page.get_by_role("heading", name="The archipelago's agenda").wait_for()
    assert "Friday, March 12, 2027" in await page.locator("li.agenda-event").first.inner_text()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide on a 375px screen"
    await assert_accessible(page)
