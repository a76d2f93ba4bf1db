"""Fiches and resources as AS2, both ways.

Out: what the `Article` (built in federation.documents, shown as a card by other software)
carries for another Archipel island, losslessly: the structured fields in `details` (a JSON
literal), the licence, origin, territory and themes also as schema.org terms for other software.
Articles carry `details` too (summary and Markdown source), since their `content` is a card.
In: the same fields, checked again (the sender is not trusted more than a form is) and the HTML
re-rendered here from them.
"""

from __future__ import annotations

from archipel import events as archipel_events
from archipel import fiches
from archipel.errors import InvalidInput
from archipel.rendering import render_item
from archipel.storage.tables import StoredObject
from archipel.themes import clean_tags
from federation import events
from federation.as2 import as_list, id_of, ids_of, same_host

RICH_KINDS = ("fiche", "resource", "event")
ITEM_KINDS = (*RICH_KINDS, "article")  # what another island rebuilds from `details`


def extension_properties(item: StoredObject, authors: list[str]) -> dict:
    """The properties a fiche, resource or article adds to its Article."""
    if item.kind not in ITEM_KINDS or item.type not in ("Article", "Event"):
        return {}
    properties = {
        "itemKind": item.kind,
        "coAuthors": authors,
        "about": list(item.tags),
        "details": {
            "summary": item.summary, "source": item.source or "", "tags": list(item.tags),
            "state": item.state, "fields": item.fields,
        },
    }
    if item.licence:
        properties["license"] = fiches.licence_url(item.licence)
    if item.based_on:
        properties["isBasedOn"] = item.based_on
    if item.place or item.latitude is not None:
        place = {"type": "Place", "name": ", ".join(p for p in (item.place, item.region) if p)}
        if item.latitude is not None:
            place.update(latitude=item.latitude, longitude=item.longitude)
        properties["spatialCoverage"] = place
    if item.kind == "event":
        properties.update(events.event_properties(item))
    if item.kind == "resource":
        for term, key in (("timeRequired", "duration"), ("learningResourceType", "format"),
                          ("educationalLevel", "audience")):
            if item.fields.get(key):
                properties[term] = item.fields[key]
    return properties


def teaser_facts(item: StoredObject) -> list[str]:
    """Plain-text lines for the Mastodon teaser: pitch and place come first."""
    if item.kind == "event":
        return events.teaser_facts(item)
    facts = []
    if item.pitch:
        facts.append(item.pitch)
    place = ", ".join(p for p in (item.place, item.region) if p)
    if place:
        facts.append(f"📍 {place}")
    return facts


def item_columns(obj: dict) -> dict | None:
    """Columns of a received fiche or resource, or None when the object is not one of ours."""
    kind = next(iter(as_list(obj.get("itemKind"))), None)  # other compactions send one-element arrays
    details = obj.get("details")
    if isinstance(details, list) and len(details) == 1:
        details = details[0]
    if kind not in ITEM_KINDS or not isinstance(details, dict):
        return event_columns(obj)
    try:
        fields, _ = fiches.fields_for(kind, details.get("fields") or {})
        licence = fiches.licence_from_url(id_of(obj.get("license"))) or (
            None if kind == "article" else fiches.DEFAULT_LICENCE)
        state = fiches.check_state(details.get("state"))
    except InvalidInput as error:
        raise InvalidInput("Le contenu reçu %(uri)s n'est pas valide : %(error)s",
                           uri=obj.get("id"), error=error) from None
    source = details.get("source") if isinstance(details.get("source"), str) else ""
    territory = fields.get("territory") or {}
    image = obj.get("image")
    image = image[0] if isinstance(image, list) and image else image
    cover = None
    if isinstance(image, dict) and isinstance(id_of(image.get("url")), str):
        cover = {"url": id_of(image.get("url")), "name": str(image.get("name") or "")[:500],
                 "mediaType": str(image.get("mediaType") or "")[:100]}
    return {
        **event_instants(kind, fields),
        "kind": kind,
        "state": state if state in ("published", "archived") else "published",
        "licence": licence,
        "based_on": id_of(obj.get("isBasedOn")),
        "fields": fields,
        "source": source[:100_000],
        "summary": str(details.get("summary") or "")[:1000],
        "tags": clean_tags(details.get("tags") or as_list(obj.get("about"))),
        "content": render_item(kind, source, fields, licence),
        "place": territory.get("place") or "", "region": territory.get("region") or "",
        "latitude": territory.get("latitude"), "longitude": territory.get("longitude"),
        "cover": cover,
    }


def event_instants(kind: str, fields: dict) -> dict:
    """The indexed columns of an event (see archipel.events); nothing for other kinds."""
    if kind != "event":
        return {}
    starts_at, ends_at = archipel_events.instants(fields)
    return {"starts_at": starts_at, "ends_at": ends_at, "time_zone": fields.get("time_zone") or None}


def event_columns(obj: dict) -> dict | None:
    """Columns of an `Event` from software other than Archipel (Mobilizon), or None when the
    object is not an event with a start. Checked by archipel.events like a form; its HTML is the
    sender's `content`, sanitised by replicas.object_fields."""
    data = events.event_data(obj)
    if data is None:
        return None
    try:
        fields, _ = fiches.fields_for("event", data)
    except InvalidInput as error:
        raise InvalidInput("L'événement reçu %(uri)s n'est pas valide : %(error)s",
                           uri=obj.get("id"), error=error) from None
    territory = fields["territory"]
    language = events.property_of(obj, "inLanguage")  # Mobilizon's language of the event
    return {
        **({"language": language} if isinstance(language, str) and language.isalpha() and len(language) <= 8
           else {}),
        **event_instants("event", fields),
        "kind": "event", "state": "published", "fields": fields,
        "place": territory.get("place") or "", "region": territory.get("region") or "",
        "latitude": territory.get("latitude"), "longitude": territory.get("longitude"),
    }


def authors_in(obj: dict, attributed_to: str) -> list[str]:
    """attributedTo first, then co-authors on the same host (nobody can claim a stranger)."""
    others = [uri for uri in ids_of(obj.get("coAuthors")) if same_host(uri, attributed_to)]
    return list(dict.fromkeys([attributed_to, *others]))
