"""Events: published on one island, on another island's agenda and in its calendar (read by the
`icalendar` library, times in their own zone), changed and withdrawn."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import aiohttp
import icalendar

from sqlalchemy import select

from archipel import accounts, agenda, content
from archipel.storage.tables import LocalActor, Share
from federation import actions
from tests.events import publish_event
from tests.nodes import island_follows, wait_for


async def get_text(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


def calendar_events(text: str) -> list:
    return list(icalendar.Calendar.from_ical(text).walk("VEVENT"))


async def test_an_event_published_on_one_island_is_on_the_agenda_and_calendar_of_another(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await island_follows(nantes, brest)
    status, _, empty = await get_text(f"{nantes.url}/agenda")
    # No event yet: the page says so, with no « Refine » heading standing over nothing.
    assert status == 200 and "Aucun événement à venir ne correspond." in empty and "Affiner" not in empty
    uri = await publish_event(brest, "alice")

    await wait_for(lambda: nantes.object(uri), message="the event on nantes")
    replica = await nantes.object(uri)
    assert replica.kind == "event" and replica.type == "Event"
    assert replica.starts_at == datetime(2027, 3, 12, 8, 30, tzinfo=timezone.utc)
    assert replica.ends_at == datetime(2027, 3, 12, 16, 0, tzinfo=timezone.utc)
    assert replica.time_zone == "Europe/Paris" and replica.place == "Les Capucins"
    assert replica.fields["organisers"][1] == {"name": "Ville de Brest", "url": "https://www.brest.fr/"}

    status, _, page = await get_text(f"{nantes.url}/agenda")
    assert status == 200 and "Journée des fabmanagers" in page and "mars 2027" in page and "Affiner" in page
    assert f'href="/agenda/{replica.id}.ics"' in page and "Ajouter à mon agenda" in page

    status, media_type, text = await get_text(f"{nantes.url}/agenda.ics")
    assert status == 200 and media_type == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(text)
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == uri and int(event["SEQUENCE"]) == 0
    start = event.decoded("DTSTART")
    assert start == datetime(2027, 3, 12, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert start.utcoffset() == timedelta(hours=1) and event.decoded("DTEND").hour == 17
    assert [str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert "Les Capucins" in str(event["LOCATION"])

    # Searched by words and theme, as the search is: the same filters.
    assert len(calendar_events((await get_text(f"{nantes.url}/agenda.ics?q=fablab"))[2])) == 1
    assert calendar_events((await get_text(f"{nantes.url}/agenda.ics?q=potager"))[2]) == []
    assert len(calendar_events((await get_text(f"{nantes.url}/tags/fablabs/agenda.ics"))[2])) == 1
    theme_page = (await get_text(f"{nantes.url}/tags/fablabs"))[2]
    assert 'href="http://' in theme_page and "/tags/fablabs/agenda.ics" in theme_page
    status, _, themed = await get_text(f"{nantes.url}/agenda?theme=fablabs")
    assert status == 200 and "Journée des fabmanagers" in themed
    assert calendar_events((await get_text(f"{nantes.url}/tags/jardins/agenda.ics"))[2]) == []
    [single] = calendar_events((await get_text(f"{nantes.url}/agenda/{replica.id}.ics"))[2])
    assert str(single["UID"]) == uri
    # Its page, on either island, says when in its own zone and offers it to one's calendar.
    for page_url, ident in ((f"{nantes.url}/r/{replica.id}", replica.id), (uri, (await brest.object(uri)).id)):
        status, _, page = await get_text(page_url)
        assert status == 200 and "vendredi 12 mars 2027, 09:30 – 17:00 (heure de Paris)" in page
        assert f'/agenda/{ident}.ics"' in page and "Ajouter à mon agenda" in page
    async with aiohttp.ClientSession() as http, http.get(f"{nantes.url}/agenda", headers={"Accept-Language": "en"}) as response:
        # The zone by its city in the reader's language, never its identifier.
        english = await response.text()
    assert "(Paris time)" in english and "Europe/Paris" not in english.split("<main", 1)[1]

    # Moved by an hour (in summer time now): SEQUENCE counts the change, on both islands.
    async with brest.sessions() as session:
        item = await content.get_local_object(session, uri)
        author = await accounts.get_actor(session, "alice")
        await actions.edit_item(session, brest.url, item, editor=author,
                                data={"start": "2027-04-02T10:30:00", "end": "2027-04-02T18:00:00"})
        await session.commit()
    brest.wake()

    async def moved():
        item = await nantes.object(uri)
        return item.starts_at == datetime(2027, 4, 2, 8, 30, tzinfo=timezone.utc)

    await wait_for(moved, message="the change on nantes")
    for node in (brest, nantes):
        [event] = calendar_events((await get_text(f"{node.url}/agenda.ics"))[2])
        assert int(event["SEQUENCE"]) == 1
        assert event.decoded("DTSTART") == datetime(2027, 4, 2, 10, 30, tzinfo=ZoneInfo("Europe/Paris"))
        assert event.decoded("DTSTART").utcoffset() == timedelta(hours=2)

    await brest.withdraw(uri)

    async def withdrawn():
        return (await nantes.object(uri)).deleted_at is not None

    await wait_for(withdrawn, message="the withdrawal on nantes")
    assert calendar_events((await get_text(f"{nantes.url}/agenda.ics"))[2]) == []
    assert (await get_text(f"{nantes.url}/agenda/{replica.id}.ics"))[0] == 404


async def test_past_events_leave_the_agenda_and_stay_reachable(make_island):
    brest = await make_island("brest")
    await brest.add_user("alice")
    uri = await publish_event(brest, "alice", start="2020-05-04T14:00:00+02:00", end="2020-05-04T16:00:00+02:00")
    async with brest.sessions() as session:
        # Its themes' actors share it with their followers, as they share fiches.
        sharers = await session.scalars(select(LocalActor.username).join(Share, Share.actor_id == LocalActor.id)
                                        .where(Share.object_uri == uri))
        assert sorted(sharers) == ["fablabs", "mediation-numerique"]
        assert await agenda.upcoming(session) == []
        assert [item.name for item in await agenda.upcoming_events(
            session, since=datetime(2020, 5, 4, 13, 0, tzinfo=timezone.utc), themes=["Fablabs"])] \
            == ["Journée des fabmanagers"]
        assert await agenda.upcoming_events(session, since=datetime(2020, 5, 4, 13, 0, tzinfo=timezone.utc),
                                            themes=["Jardins"]) == []
    status, _, page = await get_text(f"{brest.url}/agenda")
    assert status == 200 and "Journée des fabmanagers" not in page
    status, _, page = await get_text(f"{brest.url}/agenda?passes=1")
    assert status == 200 and "Journée des fabmanagers" in page and "mai 2020" in page
