"""An event's dates as a reader reads them, in the reader's language and the event's own zone
(9:30 in Brest is 9:30, wherever the island or the reader is)."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date, format_skeleton, format_time

from archipel import events, wording
from archipel.storage.tables import StoredObject
from web import i18n


def when(item: StoredObject, lang: str) -> str:
    """« vendredi 12 mars 2027, 09:30 – 17:00 (heure de Paris) »."""
    start, end = events.local_times(item.fields)
    day = format_date(start, "full", locale=lang)
    hours = format_time(start, "short", tzinfo=start.tzinfo, locale=lang)
    if end.date() == start.date():
        text = f"{day}, {hours} – {format_time(end, 'short', tzinfo=end.tzinfo, locale=lang)}"
    else:
        text = (f"{day}, {hours} – {format_date(end, 'full', locale=lang)}, "
                f"{format_time(end, 'short', tzinfo=end.tzinfo, locale=lang)}")
    zone = (item.fields or {}).get("time_zone")
    return f"{text} ({zone_words(zone, lang)})" if zone else text


def zone_words(zone: str, lang: str) -> str:
    """« heure de Paris », "Paris time" (archipel/wording.py)."""
    return wording.zone(lang, zone, lambda text: i18n.gettext(lang, text))


def start_iso(item: StoredObject) -> str:
    """The start for a <time datetime>: with its offset."""
    return events.local_times(item.fields)[0].isoformat()


def month_name(year: int, month: int, lang: str) -> str:
    """« mars 2027 »."""
    return format_skeleton("yMMMM", date(year, month, 1), locale=lang)
