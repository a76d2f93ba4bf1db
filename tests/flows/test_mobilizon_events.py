"""Events of a Mobilizon group the island follows: received as Mobilizon 5.1 sends them
(tests/data/fediverse/mobilizon: the group relays its events with an Announce), stored as events,
shown on the agenda and in its calendar, changed and deleted."""

import json
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import icalendar

from tests.nodes import wait_for

FIXTURES = Path(__file__).parent.parent / "data" / "fediverse" / "mobilizon"
EVENT_PATH = "/events/5b1f8f0e-3c6a-4d1e-9a51-0f2d8c7e4a10"


def fixture(name: str, remote) -> dict:
    return json.loads((FIXTURES / name).read_text().replace("https://remote.example", remote.url))


async def processed(island, activity_id: str) -> None:
    row = await wait_for(lambda: _handled(island, activity_id), message=f"{activity_id} handled")
    assert row.state == "processed", (row.state, row.last_error)


async def _handled(island, activity_id: str):
    rows = [r for r in await island.incoming() if r.payload.get("id") == activity_id]
    return rows[0] if rows and rows[0].state != "received" else None


async def text_of(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return await response.text()


async def test_a_mobilizon_groups_event_is_stored_shown_changed_and_deleted(island, remote):
    group = fixture("group.json", remote)
    remote.serve(group["id"], group)
    event_uri = f"{remote.url}{EVENT_PATH}"
    remote.serve(event_uri, fixture("event.json", remote))

    # The island follows the group; Mobilizon accepts.
    await island.follow(island.island_username, group["id"])
    [follow] = await wait_for(lambda: remote.received_of_type("Follow"), message="the island's Follow")
    accept = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{group['id']}/accepts/1",
              "type": "Accept", "actor": group["id"], "object": follow["id"]}
    key = f"{group['id']}#main-key"
    await remote.post(f"{island.url}/inbox", accept, key_id=key)
    await processed(island, accept["id"])

    announce = fixture("announce_event.json", remote)
    status, _ = await remote.post(f"{island.url}/inbox", announce, key_id=key)
    assert status == 202
    await processed(island, announce["id"])
    stored = await island.object(event_uri)
    assert stored.kind == "event" and stored.type == "Event" and stored.author_uri == group["id"]
    assert stored.starts_at == datetime(2027, 3, 12, 8, 30, tzinfo=timezone.utc)
    assert stored.ends_at == datetime(2027, 3, 12, 16, 0, tzinfo=timezone.utc)
    assert stored.time_zone == "Europe/Paris" and stored.language == "fr"
    assert stored.place == "Le Fourneau, 11 Quai de la Douane, 29200 Brest" and stored.region == "Bretagne"
    assert (stored.latitude, stored.longitude) == (48.3807, -4.4944)
    assert stored.fields["registration"] == "https://inscriptions.example/brest-numerique"
    assert stored.fields["online"] == "https://visio.example/brest-numerique"
    assert stored.tags == ["mediation_numerique"] and "<strong>café</strong>" in stored.content

    page = await text_of(f"{island.url}/agenda")
    assert "Journée de la médiation numérique" in page and "Le Fourneau" in page
    # Its page in English keeps the organiser's own words: no fields could write them again.
    async with aiohttp.ClientSession() as http, http.get(f"{island.url}/r/{stored.id}",
                                                         headers={"Accept-Language": "en"}) as response:
        assert response.status == 200 and "<strong>café</strong>" in await response.text()
    [event] = icalendar.Calendar.from_ical(await text_of(f"{island.url}/agenda.ics")).walk("VEVENT")
    assert str(event["UID"]) == event_uri
    assert event.decoded("DTSTART") == datetime(2027, 3, 12, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))
    # On the map, with the events of the agenda's search (kind=event), at its position.
    found = json.loads(await text_of(f"{island.url}/carte.geojson?bbox=-5,48,-4,49&zoom=17&kind=event"))
    assert [(f["id"], f["properties"]["kind"], f["geometry"]["coordinates"]) for f in found["features"]] \
        == [(event_uri, "event", [-4.4944, 48.3807])]

    # The organiser changes it; the group relays the new version, which the island fetches.
    update = fixture("update_event.json", remote)
    remote.serve(event_uri, {"@context": update["@context"], **update["object"]})
    relay = {**announce, "id": f"{remote.url}/announces/2f0b7d7c-5d4a-4e0b-8f39-3b9f7a1c2d55",
             "object": update["object"]}
    await remote.post(f"{island.url}/inbox", relay, key_id=key)
    await processed(island, relay["id"])
    changed = await island.object(event_uri)
    assert changed.name == "Journée de la médiation numérique (nouvel horaire)"
    assert changed.starts_at == datetime(2027, 3, 12, 9, 0, tzinfo=timezone.utc)
    [event] = icalendar.Calendar.from_ical(await text_of(f"{island.url}/agenda.ics")).walk("VEVENT")
    assert int(event["SEQUENCE"]) == 1 and event.decoded("DTSTART").hour == 10

    # The organiser deletes it (a member, not the group): believed once the event's id is gone.
    organiser = fixture("organiser.json", remote)
    remote.serve(organiser["id"], organiser)
    delete = fixture("delete_event.json", remote)
    early = {**delete, "id": f"{delete['id']}-too-early"}
    await remote.post(f"{island.url}/inbox", early, key_id=f"{organiser['id']}#main-key")
    rows = await wait_for(lambda: _handled(island, early["id"]), message="the early Delete")
    assert rows.state == "ignored" and (await island.object(event_uri)).deleted_at is None
    remote.serve(event_uri, {"id": event_uri, "type": "Tombstone"})  # answered 410 from now on
    await remote.post(f"{island.url}/inbox", delete, key_id=f"{organiser['id']}#main-key")
    await processed(island, delete["id"])
    assert (await island.object(event_uri)).deleted_at is not None
    assert "Journée de la médiation numérique" not in await text_of(f"{island.url}/agenda")
