"""What an event carries (a training day, a workshop, a barcamp, a forum), checked and normalised.

An event is an item like a fiche (content.py stores it, rendering.py writes its HTML). Its
moments are kept twice: as written, with their offset and time zone, in the fields (what readers
see: 9:30 in Brest is 9:30), and as UTC instants in indexed columns (`starts_at`, `ends_at`)
that the agenda sorts and filters on, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from archipel.bounds import URI_MAX, fits_uri
from archipel.errors import InvalidInput
from archipel.fiches import MAX_LINE, MAX_LIST, check_files, check_territory

# Years a calendar, both databases and every client agree on; anything else is a typing mistake
# or a hostile value.
FIRST_YEAR, LAST_YEAR = 1970, 2200
MAX_DURATION = timedelta(days=366)
MAX_ZONE = 64  # the longest IANA names are about 30 characters
_OFFSET = re.compile(r"^[+-](?:[01]\d|2[0-3]):[0-5]\d$")


def is_offset(name: str) -> bool:
    """True for a fixed UTC offset ("+02:00"), what a received event may carry instead of a zone."""
    return bool(_OFFSET.match(name))


def check_zone(value) -> str:
    """An IANA time zone name ("Europe/Paris") or "" when none was given."""
    if value in (None, ""):
        return ""
    name = str(value).strip()
    if len(name) > MAX_ZONE or not re.fullmatch(r"[A-Za-z0-9_+\-/]+", name) or ".." in name:
        raise InvalidInput("Fuseau horaire inconnu : %(zone)s.", zone=name[:80])
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("Fuseau horaire inconnu : %(zone)s.", zone=name) from None
    return name


def parse_moment(value, name: str, zone: str = "") -> datetime:
    """An ISO 8601 date and time with its offset ("2027-03-12T09:30:00+01:00"); without one, read
    in `zone`. Always an aware datetime, whole seconds."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value or "").strip()
        if not text:
            raise InvalidInput("Le champ « %(field)s » est obligatoire (date et heure ISO 8601 avec leur décalage).",
                               field=name)
        if len(text) > 40:
            raise InvalidInput("Le champ « %(field)s » n'est pas une date et une heure ISO 8601.", field=name)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InvalidInput("Le champ « %(field)s » doit être une date et une heure ISO 8601, par exemple "
                               "2027-03-12T09:30:00+01:00.", field=name) from None
    if moment.tzinfo is None:
        if not zone:
            raise InvalidInput("Le champ « %(field)s » a besoin de son décalage (par exemple +01:00) "
                               "ou d'un fuseau horaire.", field=name)
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise InvalidInput("Le champ « %(field)s » doit tomber entre %(first)s et %(last)s.",
                           field=name, first=FIRST_YEAR, last=LAST_YEAR)
    return moment.replace(microsecond=0)


def offset_text(moment: datetime) -> str:
    """+01:00 for an aware datetime's offset."""
    minutes = int(moment.utcoffset().total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _link(value, name: str) -> str:
    if value in (None, ""):
        return ""
    url = str(value).strip()
    if not url.startswith(("https://", "http://")) or not fits_uri(url, URI_MAX):
        raise InvalidInput("Le champ « %(field)s » doit être une adresse http(s).", field=name)
    return url


def _organisers(value) -> list[dict]:
    if value in (None, ""):
        return []
    value = [value] if isinstance(value, (str, dict)) else value
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise InvalidInput("Les organisateurs : une liste d'au plus %(limit)s noms.", limit=MAX_LIST)
    organisers = []
    for entry in value:
        entry = {"name": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise InvalidInput("Chaque organisateur a besoin d'un nom.")
        name = " ".join(entry["name"].split())
        if len(name) > MAX_LINE:
            raise InvalidInput("Le nom d'un organisateur dépasse %(limit)s caractères.", limit=MAX_LINE)
        organisers.append({"name": name, "url": _link(entry.get("url"), "organisers")})
    return organisers


def _uses(value) -> list[str]:
    """The fiches and resources the event uses, by their ids (links to any island)."""
    if value in (None, ""):
        return []
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise InvalidInput("Les fiches et ressources utilisées : une liste d'au plus %(limit)s liens.", limit=MAX_LIST)
    return list(dict.fromkeys(_link(uri, "uses") for uri in value if uri))


def event_fields(data: dict) -> tuple[dict, dict]:
    """(public fields, private fields) of an event from a plain mapping (front matter, form,
    another island's `details`)."""
    zone = check_zone(data.get("time_zone") or data.get("timezone"))
    start = parse_moment(data.get("start"), "start", zone)
    end = parse_moment(data.get("end") or start, "end", zone)
    if end < start:
        raise InvalidInput("L'événement finit avant de commencer.")
    if end - start > MAX_DURATION:
        raise InvalidInput("Un événement dure au plus un an.")
    territory = check_territory(data.get("territory"))
    fields = {
        "start": start.isoformat(), "end": end.isoformat(),
        # The zone the times are read in: a name when known (daylight saving follows), else the
        # start's offset.
        "time_zone": zone or offset_text(start),
        "territory": territory,
        "online": _link(data.get("online"), "online"),
        "registration": _link(data.get("registration"), "registration"),
        "organisers": _organisers(data.get("organisers") or data.get("organizers")),
        "uses": _uses(data.get("uses")),
        "files": check_files(data.get("files")),  # a programme, a poster
    }
    return fields, {}


def instants(fields: dict) -> tuple[datetime, datetime]:
    """(start, end) as UTC datetimes, the values of the indexed columns."""
    start = datetime.fromisoformat(fields["start"]).astimezone(timezone.utc)
    end = datetime.fromisoformat(fields["end"]).astimezone(timezone.utc)
    return start, end


def zone_of(fields: dict):
    """The tzinfo the event's times are shown in: its named zone, or its fixed offset."""
    name = fields.get("time_zone") or ""
    if name and not is_offset(name):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return datetime.fromisoformat(fields["start"]).tzinfo


def local_times(fields: dict) -> tuple[datetime, datetime]:
    """(start, end) in the event's own zone, for display."""
    zone = zone_of(fields)
    start, end = instants(fields)
    return start.astimezone(zone), end.astimezone(zone)


def named_zone(fields: dict) -> str | None:
    """The IANA name of the event's zone, or None when only an offset is known."""
    name = fields.get("time_zone") or ""
    return name if name and not is_offset(name) else None
