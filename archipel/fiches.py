"""What a fiche d'innovation and a training resource carry, checked and normalised.

A fiche is the "source code" of a social innovation, written so that others can copy, reuse and
improve it; a resource is training material. Both are items (see content.py) whose structured
fields live here. Fields come in as plain dicts (front matter, forms, documents from other
islands) and leave as plain dicts, so that every path checks them the same way.
"""

from __future__ import annotations

import math
from datetime import date

from archipel.errors import InvalidInput

KINDS = ("article", "fiche", "resource", "event")
STATES = ("draft", "proposed", "published", "archived")

LICENCES = {
    "CC-BY-SA-4.0": ("CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
    "CC-BY-4.0": ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "CC0-1.0": ("CC0 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "etalab-2.0": ("Licence Ouverte / Etalab 2.0", "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"),
}
DEFAULT_LICENCE = "CC-BY-SA-4.0"

# The sections of a fiche, in reading order, with their French headings (the UI translates them).
FICHE_SECTIONS = {
    "genesis": "Contexte et genèse",
    "goals": "Objectifs",
    "means": "Moyens et ressources",
    "successes": "Ce qui a marché",
    "difficulties": "Difficultés et échecs",
    "advice": "Conseils pour réutiliser",
    "perspectives": "Perspectives",
}
HOWTO_HEADING = "Mode d'emploi"
RESOURCE_FORMATS = ("atelier", "cours", "tutoriel", "video", "jeu", "kit", "guide", "autre")

MAX_TEXT = 20_000
MAX_LINE = 500
MAX_LIST = 50
MAX_FILES = 20


def licence_url(code: str) -> str:
    return LICENCES[code][1]


def licence_from_url(url: str | None) -> str | None:
    return next((code for code, (_, known) in LICENCES.items() if known == url), None)


def check_licence(value) -> str:
    if value in (None, ""):
        return DEFAULT_LICENCE
    value = str(value).strip()
    if value in LICENCES:
        return value
    by_url = licence_from_url(value)
    by_label = next((code for code, (label, _) in LICENCES.items()
                     if label.lower() == value.lower() or code.lower() == value.lower()), None)
    if by_url or by_label:
        return by_url or by_label
    raise InvalidInput("Licence inconnue : %(licence)s (au choix : %(choices)s).", licence=value,
                       choices=", ".join(LICENCES))


def check_state(value) -> str:
    value = (value or "published").strip().lower()
    if value not in STATES:
        raise InvalidInput("État inconnu : %(state)s (au choix : %(choices)s).", state=value, choices=", ".join(STATES))
    return value


def _text(value, name: str, limit: int = MAX_TEXT) -> str:
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)):
        raise InvalidInput("Le champ « %(field)s » doit être un texte.", field=name)
    text = str(value).strip()
    if len(text) > limit:
        raise InvalidInput("Le champ « %(field)s » dépasse %(limit)s caractères.", field=name, limit=limit)
    return text


def _list(value, name: str) -> list:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise InvalidInput("Le champ « %(field)s » doit être une liste.", field=name)
    if len(value) > MAX_LIST:
        raise InvalidInput("Le champ « %(field)s » compte plus de %(limit)s entrées.", field=name, limit=MAX_LIST)
    return value


def _date(value, name: str) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        raise InvalidInput("Le champ « %(field)s » doit être une date (AAAA-MM-JJ).", field=name) from None


def _coordinate(value, name: str, bound: float) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput("Le champ « %(field)s » doit être un nombre.", field=name) from None
    if not math.isfinite(number) or abs(number) > bound:
        raise InvalidInput("Le champ « %(field)s » doit être compris entre -%(bound)s et %(bound)s.",
                           field=name, bound=bound)
    return round(number, 6)


def check_territory(value) -> dict:
    value = value or {}
    if isinstance(value, str):
        value = {"place": value}
    if not isinstance(value, dict):
        raise InvalidInput("Le territoire est un nom de lieu, ou une table de valeurs.")
    territory = {
        "place": _text(value.get("place") or value.get("name"), "territory place", MAX_LINE),
        "region": _text(value.get("region") or value.get("commune"), "territory region", MAX_LINE),
        "latitude": _coordinate(value.get("latitude") or value.get("lat"), "latitude", 90),
        "longitude": _coordinate(value.get("longitude") or value.get("lon"), "longitude", 180),
    }
    if (territory["latitude"] is None) != (territory["longitude"] is None):
        raise InvalidInput("Donnez la latitude et la longitude, ou aucune des deux.")
    return territory


def check_holders(value) -> tuple[list[dict], list[dict]]:
    """Project holders: the public part (name, kind, url) and the private contacts, apart."""
    public, private = [], []
    for index, holder in enumerate(_list(value, "holders")):
        if isinstance(holder, str):
            holder = {"name": holder}
        if not isinstance(holder, dict):
            raise InvalidInput("Chaque porteur du projet a besoin au moins d'un nom.")
        name = _text(holder.get("name"), "holder name", MAX_LINE)
        if not name:
            raise InvalidInput("Chaque porteur du projet a besoin d'un nom.")
        kind = holder.get("kind") or "organisation"
        if kind not in ("person", "organisation"):
            raise InvalidInput("Un porteur du projet est une personne (person) ou une organisation (organisation).")
        public.append({"name": name, "kind": kind, "url": _text(holder.get("url"), "holder url", MAX_LINE)})
        contact = _text(holder.get("contact") or holder.get("email"), "holder contact", MAX_LINE)
        if contact:
            private.append({"holder": index, "contact": contact})
    return public, private


def check_files(value) -> list[dict]:
    """The files an item offers (attachments, materials), by URL: the island that holds them
    lists them, and other islands show the same list with links to the origin."""
    files = []
    for entry in _list(value, "files"):
        if not isinstance(entry, dict):
            raise InvalidInput("Chaque fichier a besoin d'une adresse et d'un nom.")
        url = _text(entry.get("url"), "file url", 2000)
        if not url.startswith(("https://", "http://")):
            raise InvalidInput("Le lien de fichier %(url)s doit être une adresse http(s).", url=url)
        size = entry.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise InvalidInput("La taille d'un fichier est un nombre d'octets.")
        files.append({"url": url, "name": _text(entry.get("name"), "file name", 255) or url.rsplit("/", 1)[-1],
                      "mediaType": _text(entry.get("mediaType"), "file type", 100), "size": size})
    if len(files) > MAX_FILES:
        raise InvalidInput("Pas plus de %(limit)s fichiers.", limit=MAX_FILES)
    return files


def fiche_fields(data: dict) -> tuple[dict, dict]:
    """(public fields, private fields) of a fiche from a plain mapping."""
    sections = data.get("sections") or {}
    if not isinstance(sections, dict):
        raise InvalidInput("Les sections sont une table : nom de section, puis texte.")
    unknown = set(sections) - set(FICHE_SECTIONS)
    if unknown:
        raise InvalidInput("Sections inconnues : %(sections)s.", sections=", ".join(sorted(unknown)))
    holders, contacts = check_holders(data.get("holders"))
    fields = {
        "pitch": _text(data.get("pitch"), "pitch", MAX_LINE),
        "sections": {name: _text(sections.get(name), name) for name in FICHE_SECTIONS if sections.get(name)},
        "steps": [_text(step, "step") for step in _list(data.get("steps"), "steps") if str(step).strip()],
        "holders": holders,
        "territory": check_territory(data.get("territory")),
        "audience": _text(data.get("audience"), "audience", MAX_LINE),
        "started": _date(data.get("started"), "started"),
        "attribution": _text(data.get("attribution"), "attribution", 2000),
        "files": check_files(data.get("files")),
    }
    return fields, {"contacts": contacts} if contacts else {}


def resource_fields(data: dict) -> tuple[dict, dict]:
    materials = []
    for material in _list(data.get("materials"), "materials"):
        if isinstance(material, str):
            material = {"url": material}
        if not isinstance(material, dict) or not material.get("url"):
            raise InvalidInput("Chaque support a besoin d'une adresse.")
        url = _text(material["url"], "material url", 2000)
        if not url.startswith(("https://", "http://")):
            raise InvalidInput("Le lien de support %(url)s doit être une adresse http(s).", url=url)
        materials.append({"title": _text(material.get("title"), "material title", MAX_LINE), "url": url})
    kind = (data.get("format") or "").strip().lower()
    if kind and kind not in RESOURCE_FORMATS:
        raise InvalidInput("Format inconnu : %(format)s (au choix : %(choices)s).", format=kind,
                           choices=", ".join(RESOURCE_FORMATS))
    fields = {
        "learning_goals": [_text(goal, "learning goal", MAX_LINE) for goal in _list(data.get("learning_goals"), "learning goals")],
        "audience": _text(data.get("audience"), "audience", MAX_LINE),
        "duration": _text(data.get("duration"), "duration", 100),
        "format": kind,
        "prerequisites": _text(data.get("prerequisites"), "prerequisites"),
        "materials": materials,
        "related": [_text(uri, "related fiche", 2000) for uri in _list(data.get("related"), "related fiches")],
        "territory": check_territory(data.get("territory")),
        "attribution": _text(data.get("attribution"), "attribution", 2000),
        "files": check_files(data.get("files")),
    }
    return fields, {}


def fields_for(kind: str, data: dict) -> tuple[dict, dict]:
    if kind == "fiche":
        return fiche_fields(data)
    if kind == "resource":
        return resource_fields(data)
    if kind == "event":
        from archipel.events import event_fields  # events builds on this module's checks
        return event_fields(data)
    return {}, {}
