"""Dates, durations and punctuation as people write them, in French or English (Babel's CLDR data).

Fiches carry machine forms (`2019-03-16`, ISO 8601 durations such as `PT3H`, the resource format
`video`); rendering (archipel/rendering.py) and pages (web/words.py) write them out with these.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date, format_time, get_timezone, get_timezone_location
from babel.lists import format_list
from babel.units import format_unit

from archipel.events import is_offset

# A resource's format code → its French label (the catalogue translates it).
FORMATS = {"atelier": "Atelier", "cours": "Cours", "tutoriel": "Tutoriel", "video": "Vidéo", "jeu": "Jeu",
           "kit": "Kit", "guide": "Guide", "autre": "Autre"}

# ISO 8601 durations as fiches carry them (schema.org `timeRequired`): PnYnMnWnDTnHnMnS.
_DURATION = re.compile(r"P(?:(\d{1,4})Y)?(?:(\d{1,4})M)?(?:(\d{1,4})W)?(?:(\d{1,4})D)?"
                       r"(?:T(?:(\d{1,4})H)?(?:(\d{1,4})M)?(?:(\d{1,4})S)?)?", re.IGNORECASE)
_UNITS = ("duration-year", "duration-month", "duration-week", "duration-day",
          "duration-hour", "duration-minute", "duration-second")


def duration(lang: str, text: str | None) -> str:
    """`PT1H30M` → « 1 h 30 min » / "1 hr 30 min"; anything else (« une demi-journée ») as written."""
    text = (text or "").strip()
    match = _DURATION.fullmatch(text)
    if not match or text.upper().endswith("T"):
        return text
    parts = [format_unit(int(value), unit, length="short", locale=lang)
             for value, unit in zip(match.groups(), _UNITS) if value and int(value)]
    return format_list(parts, style="unit-narrow", locale=lang) if parts else text


def iso_date(lang: str, text: str | None) -> str:
    """`2019-03-16` → « 16 mars 2019 » / "March 16, 2019"; anything else as written."""
    try:
        return format_date(date.fromisoformat((text or "").strip()), "long", locale=lang)
    except ValueError:
        return text or ""


def moment(lang: str, value) -> str:
    """A date and time in its own zone: "March 12, 2027, 9:30 AM" (the stored French form is
    archipel/rendering.py's, the same on every island)."""
    return f"{format_date(value, 'long', locale=lang)}, {format_time(value, 'short', tzinfo=value.tzinfo, locale=lang)}"


def colon(lang: str) -> str:
    """The colon after a label: « Durée : » (no-break space) in French, "Duration:" in English."""
    return "\u00a0:" if lang == "fr" else ":"


_VOWELS = "aàâäeéèêëiîïoôöuùûüyÿœæ"
# Words whose h is aspirated: no elision before them (« de Hameau », « la Halle »).
_ASPIRATED_H = {"hache", "haie", "halle", "hall", "hameau", "hangar", "hanche", "harpe", "hasard", "haut",
                "haute", "hautes", "hauts", "havre", "hérisson", "héros", "hibou", "hockey", "honte",
                "hotte", "houblon", "houle", "hutte"}
# Common nouns an island's name often starts with: they take an article (« de l'Île de Brest »),
# where a place or a proper name does not (« d'Angers », « de Brest »).
_NOUNS = {"île", "ile", "îlot", "ilot", "atelier", "archipel", "espace", "école", "ecole", "association",
          "académie", "academie", "université", "universite", "institut", "observatoire", "agence",
          "antenne", "usine", "oasis", "hôtel", "hotel", "hôpital", "hopital", "habitat", "auberge",
          "estuaire", "étoile", "etoile", "entrepôt", "entrepot", "abri", "arche", "alliance", "union"}


def _elides(word: str) -> bool:
    word = word.lower()
    if not word:
        return False
    if word[0] == "h":
        return word not in _ASPIRATED_H and len(word) > 1 and word[1] in _VOWELS
    return word[0] in _VOWELS


def of_name(name: str) -> str:
    """French « de » before a name: « de l'Île de Brest », « d'Angers », « de Hameau Vert »,
    « de Brest ». An island named by a common noun takes the article, a proper name does not."""
    name = name.strip()
    first = re.split(r"[\s'’-]", name, maxsplit=1)[0]
    if not _elides(first):
        return f"de {name}"
    return f"de l'{name}" if first.lower() in _NOUNS else f"d'{name}"


def zone(lang: str, name: str, label=lambda text: text) -> str:
    """« heure de Paris », "Paris time": a time zone by its city as the reader's language names
    it (CLDR), not by its identifier (Europe/Paris); `label` translates the French words."""
    try:
        city = get_timezone_location(get_timezone(name), locale=lang, return_city=True)
    except (LookupError, ValueError):
        return name
    return label("heure %(de_city)s") % {"de_city": of_name(city), "city": city}


# Cities Babel does not name well: a zone it names by the zone its name links to (Montreal by
# Toronto), a territory it names again as the city ("" : the territory alone).
_ZONE_CITIES = {"America/Montreal": "Montréal", "Pacific/Wallis": ""}


@lru_cache(maxsize=512)
def zone_place(lang: str, name: str) -> str:
    """A time zone by its place, for a menu of zones: its country or territory and its city
    (« France (Paris) », « Canada (Montréal) »), the territory alone when the city bears its name
    (« Martinique »); UTC and a received offset (« UTC+02:00 ») as they are. Never the IANA
    identifier, which `zone` words as « heure de Paris » inside a sentence."""
    if name == "UTC" or is_offset(name):
        return "UTC" if name == "UTC" else f"UTC{name}"
    canonical = get_global("zone_aliases").get(name, name)
    try:
        city = _ZONE_CITIES[name] if name in _ZONE_CITIES else \
            get_timezone_location(canonical, locale=lang, return_city=True)
        territory = Locale.parse(lang).territories.get(get_global("zone_territories").get(canonical, ""), "")
    except (LookupError, ValueError, UnknownLocaleError):  # a zone (or language) Babel does not know
        return name.rsplit("/", 1)[-1].replace("_", " ")
    if not territory or not city or territory == city:
        return territory or city
    return f"{territory} ({city})"
