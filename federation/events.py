"""Events as AS2 `Event`, both ways, in the shape Mobilizon writes and Mastodon reads.

Out: `startTime`/`endTime` in the event's own offset, Mobilizon's `timezone`, `location` a
`Place` with a schema.org `PostalAddress` and a position, the online link as the attachment
Mobilizon names "Website", the registration link as `externalParticipationUrl` (Mobilizon's
"external" join mode); another island rebuilds the event from `details` (federation/items.py).
In: an `Event` without `details` (Mobilizon's, read from
framasoft/mobilizon lib/federation/activity_stream/converter/event.ex and address.ex, 5.1):
the same properties, checked by archipel.events like a form. Our vocabulary defines Mobilizon's
terms as Mobilizon does (vocabulary.EVENT_TERMS), so its documents normalise to the same words;
their strings stay language-tagged values (`{"@value": …}`, from its `"@language": "und"`), and
a context that left full IRIs (`http://schema.org#…`) is read too.
"""

from __future__ import annotations

from archipel import events
from archipel.bounds import clip_text, uri_or_none
from archipel.errors import InvalidInput
from archipel.rendering import event_when
from archipel.storage.tables import StoredObject
from federation.as2 import as_list, has_type, id_of, text_value

_SCHEMA = ("http://schema.org#", "http://schema.org/", "https://schema.org/")
_MOBILIZON = "https://joinmobilizon.org/ns#"
ONLINE_LINK_NAME = "Website"  # Mobilizon's name for an event's online address


def event_properties(item: StoredObject) -> dict:
    """The AS2 properties an event adds to its object."""
    fields = item.fields or {}
    properties = {
        "startTime": fields["start"], "endTime": fields["end"],
        "timezone": events.named_zone(fields) or fields.get("time_zone") or "",
        # Mastodon shows an Event as its name, its summary and a link (content is ignored):
        # when and where is what a reader needs first, as Mobilizon writes it.
        "summary": summary_line(item),
        "isOnline": bool(fields.get("online")) and item.latitude is None and not item.place,
    }
    territory = fields.get("territory") or {}
    if territory.get("place") or territory.get("region") or item.latitude is not None:
        place = {"type": "Place", "name": ", ".join(p for p in (territory.get("place"), territory.get("region")) if p),
                 "address": {"type": "PostalAddress", "addressLocality": territory.get("place") or "",
                             "addressRegion": territory.get("region") or ""}}
        if item.latitude is not None:
            place.update(latitude=item.latitude, longitude=item.longitude)
        properties["location"] = place
    if fields.get("online"):
        properties["attachment"] = [{"type": "Link", "href": fields["online"], "mediaType": "text/html",
                                     "name": ONLINE_LINK_NAME}]
    if fields.get("registration"):
        properties["joinMode"] = "external"
        properties["externalParticipationUrl"] = fields["registration"]
    return properties


def summary_line(item: StoredObject) -> str:
    where = ", ".join(p for p in (item.place, item.region) if p)
    return " - ".join(part for part in (event_when(item.fields), where) if part)


def teaser_facts(item: StoredObject) -> list[str]:
    facts = [f"📅 {event_when(item.fields)}"]
    where = ", ".join(p for p in (item.place, item.region) if p)
    if where:
        facts.append(f"📍 {where}")
    if item.fields.get("online"):
        facts.append(f"💻 {item.fields['online']}")
    return facts


# ---- in ------------------------------------------------------------------------------------

def property_of(document: dict, name: str, namespaces=_SCHEMA):
    """A property by its compact name or the full IRI another context left; a value object
    (`{"@value": …}`) gives its value."""
    value = document.get(name)
    for namespace in namespaces:
        if value is not None:
            break
        value = document.get(namespace + name)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict) and "@value" in value:
        value = value["@value"]
    return value


def _string(value, limit: int) -> str:
    return clip_text(" ".join(value.split()), limit) if isinstance(value, str) else ""


def _location(obj: dict) -> dict:
    """The territory of archipel.fiches from a `Place` (name, address, position)."""
    place = property_of(obj, "location")
    place = next((p for p in as_list(place) if isinstance(p, dict)), None)
    if place is None or not has_type(place, "Place"):
        return {}
    address = property_of(place, "address")
    address = address if isinstance(address, dict) else {}
    name = _string(text_value(place, "name"), 500)
    locality = _string(property_of(address, "addressLocality"), 200)
    street = _string(property_of(address, "streetAddress"), 200)
    postcode = _string(property_of(address, "postalCode"), 20)
    shown = ", ".join(part for part in (name, street, " ".join(p for p in (postcode, locality) if p)) if part)
    territory = {"place": shown[:500], "region": _string(property_of(address, "addressRegion"), 500)}
    latitude, longitude = place.get("latitude"), place.get("longitude")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (latitude, longitude)):
        territory.update(latitude=latitude, longitude=longitude)
    return territory


def _online_link(obj: dict) -> str:
    for attachment in as_list(obj.get("attachment")):
        if (isinstance(attachment, dict) and has_type(attachment, "Link")
                and text_value(attachment, "name") == ONLINE_LINK_NAME):
            return uri_or_none(id_of(attachment.get("href"))) or ""
    return ""


def event_data(obj: dict) -> dict | None:
    """archipel.events' input from an `Event` another server wrote; None when it has no start."""
    if not has_type(obj, "Event") or not isinstance(property_of(obj, "startTime", ()), str):
        return None
    zone = property_of(obj, "timezone", (_MOBILIZON,))
    try:
        zone = events.check_zone(zone) if isinstance(zone, str) else ""
    except InvalidInput:
        zone = ""  # a zone we do not know: the offsets of the times still say when
    registration = property_of(obj, "externalParticipationUrl", (_MOBILIZON,))
    online = _online_link(obj)
    return {
        "start": property_of(obj, "startTime", ()), "end": property_of(obj, "endTime", ()) or property_of(obj, "startTime", ()),
        "time_zone": zone,
        "territory": _location(obj),
        "online": online if online.startswith(("https://", "http://")) else "",
        "registration": registration if isinstance(registration, str)
        and registration.startswith(("https://", "http://")) and uri_or_none(registration) else "",
    }
