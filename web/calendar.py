"""iCalendar (RFC 5545) of the agenda, built with the `icalendar` library: the island's, a
theme's, a search's, or one event's (« Ajouter à mon agenda »).

Each event's UID is its id (the same on every island that holds it, so a calendar merging two
islands' feeds keeps one copy), its SEQUENCE the number of changes since publication (its
revisions), and its times carry their own zone: a TZID with the VTIMEZONE the library writes
from the zone database when the event names one (Europe/Paris keeps its summer time), else UTC.
"""

from __future__ import annotations

from datetime import timezone
from typing import TYPE_CHECKING

from aiohttp import web

from archipel import events
from archipel.revisions import latest_numbers
from archipel.safe_urls import safe_url
from archipel.storage.tables import StoredObject, utcnow
from archipel.text import html_to_text
from web.pages import page_url

if TYPE_CHECKING:
    import icalendar

MEDIA_TYPE = "text/calendar"
MAX_DESCRIPTION = 4000


def _event(item: StoredObject, sequence: int, base_url: str, now) -> icalendar.Event:
    fields = item.fields or {}
    zone = events.named_zone(fields)
    start, end = events.instants(fields)
    if zone is not None:
        start, end = events.local_times(fields)
    else:  # only an offset is known: the instant in UTC says it exactly
        start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    import icalendar

    event = icalendar.Event()
    event.add("uid", item.uri)
    event.add("sequence", sequence)
    event.add("dtstamp", now)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", item.name)
    page = page_url(item)
    link = page if page.startswith(("http://", "https://")) else f"{base_url.rstrip('/')}{page}"
    event.add("url", link)
    description = html_to_text(item.content or "")[:MAX_DESCRIPTION]
    event.add("description", f"{description}\n\n{link}".strip())
    where = ", ".join(part for part in (item.place, item.region) if part)
    online = safe_url(fields.get("online") or "") or ""
    if where or online:
        event.add("location", where or online)
    if item.latitude is not None:
        event.add("geo", (item.latitude, item.longitude))
    if item.tags:
        event.add("categories", list(item.tags))
    event.add("last-modified", item.updated or item.published)
    event.add("created", item.published)
    if item.deleted_at is not None:
        event.add("status", "CANCELLED")
    return event


async def calendar_response(session, items: list[StoredObject], *, name: str, base_url: str,
                            filename: str) -> web.Response:
    """The calendar of these events, as a response a calendar application subscribes to."""
    # The library (~3 MB with its time zones) is loaded by the first calendar asked for.
    import icalendar

    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Archipel//Agenda//FR")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    sequences = await latest_numbers(session, items)
    now = utcnow().replace(microsecond=0)
    for item in items:
        # SEQUENCE counts the changes since publication: the first revision is version 0.
        calendar.add_component(_event(item, max(sequences[item.id] - 1, 0), base_url, now))
    calendar.add_missing_timezones()
    return web.Response(body=calendar.to_ical(), content_type=MEDIA_TYPE, charset="utf-8",
                        headers={"Content-Disposition": f'inline; filename="{filename}"'})
