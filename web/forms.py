"""The item form: a posted form -> the arguments of `create_item` / `edit_item`, and back.

Everything a person types arrives as text (one value per form field). `read_post` keeps those
texts as they were typed, so that a form shown again after an error holds exactly what was sent;
`parse` checks all of them at once, with a message per field in the reader's language, and gives
the domain arguments only when nothing is wrong. The domain (archipel.fiches, archipel.content)
checks again and stays the authority: anything it refuses is shown as a general error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from zoneinfo import ZoneInfo

from archipel import events, fiches
from archipel.content import MAX_TITLE
from archipel.errors import InvalidInput
from archipel.handles import InvalidUsername, check_username
from archipel.rendering import render_item
from archipel.storage.tables import StoredObject
from archipel.text import MAX_SOURCE_CHARS
from web import words
from web.i18n import gettext

MAX_SUMMARY = 1000  # content.create_item keeps the first 1000 characters: say so instead
MAX_THEMES = 20  # themes.clean_tags keeps 20
MAX_THEME = 100
MAX_URL = 2000
MAX_DURATION = 100
MAX_ATTRIBUTION = 2000
EMPTY_HOLDER_ROWS = 3
FORM_KINDS = ("fiche", "resource", "event")
DEFAULT_TIME_ZONE = "Europe/Paris"
# The zones an event is most likely in (France and its neighbours, overseas France); any other
# IANA name an item already has is offered too.
TIME_ZONES = ("Europe/Paris", "Europe/Brussels", "Europe/Luxembourg", "Europe/Zurich", "Europe/Madrid",
              "Europe/London", "America/Montreal", "America/Guadeloupe", "America/Martinique", "America/Cayenne",
              "America/Miquelon", "Indian/Reunion", "Indian/Mayotte", "Pacific/Noumea", "Pacific/Tahiti",
              "Pacific/Wallis", "Africa/Dakar", "UTC")
ACTIONS = ("preview", "draft", "propose", "publish", "save")

# The languages an item can be written in, each named in itself.
ITEM_LANGUAGES = {
    "fr": "Français", "en": "English", "br": "Brezhoneg", "oc": "Occitan", "eu": "Euskara",
    "co": "Corsu", "ca": "Català", "de": "Deutsch", "es": "Español", "it": "Italiano",
}

TEXT_FIELDS = ("title", "summary", "source", "pitch", "steps", "place", "region", "latitude", "longitude",
               "audience", "started", "themes", "language", "licence", "coauthors", "learning_goals",
               "duration", "format", "prerequisites", "materials", "related", "attribution", "state",
               "cover_alt", "cover_remove", "start", "end", "time_zone", "online", "registration", "organisers",
               "uses")
HOLDER_PARTS = ("name", "kind", "url", "contact")


def section_field(name: str) -> str:
    return f"section-{name}"


def holder_field(index: int, part: str) -> str:
    return f"holder-{index}-{part}"


# ---- labels (the French strings are written out so that extraction finds them) --------------

def section_labels(lang: str) -> dict[str, tuple[str, str]]:
    """name -> (heading, help) of the 7 sections, in FICHE_SECTIONS order."""
    labels = {
        "genesis": (gettext(lang, "Contexte et genèse"),
                    gettext(lang, "Comment l'initiative est-elle née ? Quel besoin, quel déclic, qui était là ?")),
        "goals": (gettext(lang, "Objectifs"), gettext(lang, "Ce que l'initiative cherche à changer, pour qui.")),
        "means": (gettext(lang, "Moyens et ressources"),
                  gettext(lang, "Personnes, lieux, argent, outils : ce qu'il a fallu réunir.")),
        "successes": (gettext(lang, "Ce qui a marché"), gettext(lang, "Les réussites, et pourquoi elles ont eu lieu.")),
        "difficulties": (gettext(lang, "Difficultés et échecs"),
                         gettext(lang, "Ce qui a coincé : c'est souvent le plus utile à qui veut refaire.")),
        "advice": (gettext(lang, "Conseils pour réutiliser"),
                   gettext(lang, "Ce que vous diriez à une équipe qui veut se lancer ailleurs.")),
        "perspectives": (gettext(lang, "Perspectives"), gettext(lang, "La suite prévue ou espérée.")),
    }
    return {name: labels[name] for name in fiches.FICHE_SECTIONS}


def kind_labels(lang: str) -> dict[str, str]:
    return {"article": gettext(lang, "Article"), "fiche": gettext(lang, "Fiche d'innovation"),
            "resource": gettext(lang, "Ressource de formation"), "event": gettext(lang, "Événement")}


def state_labels(lang: str) -> dict[str, str]:
    return {"draft": gettext(lang, "Brouillon"), "proposed": gettext(lang, "Proposée à la relecture"),
            "published": gettext(lang, "Publiée"), "archived": gettext(lang, "Archivée")}


def format_labels(lang: str) -> dict[str, str]:
    return {"atelier": gettext(lang, "Atelier"), "cours": gettext(lang, "Cours"),
            "tutoriel": gettext(lang, "Tutoriel"), "video": gettext(lang, "Vidéo"), "jeu": gettext(lang, "Jeu"),
            "kit": gettext(lang, "Kit"), "guide": gettext(lang, "Guide"), "autre": gettext(lang, "Autre")}


def diff_label(lang: str, label: str) -> str:
    """The French labels of revisions.diff, in the reader's language."""
    labels = {
        "Titre": gettext(lang, "Titre"), "Résumé": gettext(lang, "Résumé"), "Texte": gettext(lang, "Texte"),
        "Thèmes": gettext(lang, "Thèmes"), "Licence": gettext(lang, "Licence"),
        "Accroche": gettext(lang, "Accroche"), "Mode d'emploi": gettext(lang, "Mode d'emploi"),
        "Territoire": gettext(lang, "Territoire"), "Porteurs": gettext(lang, "Porteurs"),
        "Public": gettext(lang, "Public"), "Démarrage": gettext(lang, "Démarrage"),
        "Durée": gettext(lang, "Durée"), "Format": gettext(lang, "Format"),
        "Prérequis": gettext(lang, "Prérequis"), "Objectifs pédagogiques": gettext(lang, "Objectifs pédagogiques"),
        "Matériel": gettext(lang, "Matériel"), "Début": gettext(lang, "Début"), "Fin": gettext(lang, "Fin"),
        "Fuseau horaire": gettext(lang, "Fuseau horaire"), "En ligne": gettext(lang, "En ligne"),
        "Inscription": gettext(lang, "Inscription"), "Organisation": gettext(lang, "Organisation"),
        "Fiches et ressources utilisées": gettext(lang, "Fiches et ressources utilisées"),
    }
    labels.update({french: heading for (heading, _), french in
                   zip(section_labels(lang).values(), fiches.FICHE_SECTIONS.values())})
    return labels.get(label, label)


# ---- the form's values ---------------------------------------------------------------------

@dataclass
class FormValues:
    """What the form shows: texts by field name, and the project holders' rows."""

    kind: str
    texts: dict[str, str]
    holders: list[dict[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # ids of the attached files ticked for removal

    def __getitem__(self, name: str) -> str:
        return self.texts.get(name, "")

    def holder_rows(self) -> list[dict[str, str]]:
        """The filled rows, then a few empty ones to add more (no script needed)."""
        rows = list(self.holders)
        empty = {"name": "", "kind": "organisation", "url": "", "contact": ""}
        return rows + [dict(empty) for _ in range(EMPTY_HOLDER_ROWS)]


def blank(kind: str) -> FormValues:
    texts = {name: "" for name in TEXT_FIELDS}
    texts.update(language="fr", licence=fiches.DEFAULT_LICENCE, state="draft",
                 time_zone=DEFAULT_TIME_ZONE if kind == "event" else "")
    return FormValues(kind, texts)


def _clean(value) -> str:
    """A posted value as text: newlines as \\n, files (multipart) ignored."""
    if not isinstance(value, str):
        return ""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def read_post(post, kind: str) -> FormValues:
    """The posted values as typed (trimmed), ready to be shown again."""
    texts = {name: _clean(post.get(name)).strip() for name in TEXT_FIELDS}
    for name in fiches.FICHE_SECTIONS:
        texts[section_field(name)] = _clean(post.get(section_field(name))).strip()
    texts["steps"] = _clean(post.get("steps")).rstrip()  # leading spaces continue a step: keep them
    holders = []
    for index in range(fiches.MAX_LIST + EMPTY_HOLDER_ROWS):
        if holder_field(index, "name") not in post:
            break
        row = {part: _clean(post.get(holder_field(index, part))).strip() for part in HOLDER_PARTS}
        if any(row[part] for part in ("name", "url", "contact")):  # the empty rows are offered again
            holders.append(row)
    return FormValues(kind, texts, holders)


def _steps_text(steps: list[str]) -> str:
    """One step per line; the further lines of a step are indented."""
    return "\n".join("\n".join([lines[0]] + ["   " + line for line in lines[1:]])
                     for lines in (step.split("\n") for step in steps if step))


def _coordinate_text(value) -> str:
    return "" if value is None else repr(float(value)).removesuffix(".0")


def from_item(item: StoredObject, coauthors: list[str]) -> FormValues:
    """An item's current values, as the form shows them."""
    data = item.fields or {}
    territory = data.get("territory") or {}
    texts = blank(item.kind).texts
    texts.update(
        title=item.name or "", summary=item.summary or "", source=item.source or "",
        pitch=data.get("pitch") or "", steps=_steps_text(data.get("steps") or []),
        place=territory.get("place") or "", region=territory.get("region") or "",
        latitude=_coordinate_text(territory.get("latitude")), longitude=_coordinate_text(territory.get("longitude")),
        audience=data.get("audience") or "", started=data.get("started") or "",
        themes=", ".join(item.tags or []), language=item.language or "fr",
        licence=item.licence or fiches.DEFAULT_LICENCE, coauthors=", ".join(coauthors),
        learning_goals="\n".join(data.get("learning_goals") or []), duration=data.get("duration") or "",
        format=data.get("format") or "", prerequisites=data.get("prerequisites") or "",
        materials="\n".join(f"{m['title']} | {m['url']}" if m.get("title") else m["url"]
                            for m in data.get("materials") or []),
        related="\n".join(data.get("related") or []), attribution=data.get("attribution") or "",
        state=item.state, cover_alt=(item.cover or {}).get("name") or "",
    )
    for name in fiches.FICHE_SECTIONS:
        texts[section_field(name)] = (data.get("sections") or {}).get(name) or ""
    if item.kind == "event":
        texts.update(_event_texts(data))
    holders = [{"name": h["name"], "kind": h.get("kind") or "organisation", "url": h.get("url") or "",
                "contact": ""} for h in data.get("holders") or []]
    for contact in (item.private_fields or {}).get("contacts", []):
        if contact["holder"] < len(holders):
            holders[contact["holder"]]["contact"] = contact["contact"]
    return FormValues(item.kind, texts, holders)


def _event_texts(data: dict) -> dict[str, str]:
    """An event's times as the form's date-and-time fields show them: in its named zone (an
    event known only by its offset is shown in UTC, which the form can name)."""
    zone = events.named_zone(data) or "UTC"
    start, end = (moment.astimezone(ZoneInfo(zone)) for moment in events.instants(data))
    return {"start": f"{start:%Y-%m-%dT%H:%M}", "end": f"{end:%Y-%m-%dT%H:%M}", "time_zone": zone,
            "online": data.get("online") or "", "registration": data.get("registration") or "",
            "organisers": "\n".join(f"{o['name']} | {o['url']}" if o.get("url") else o["name"]
                                    for o in data.get("organisers") or []),
            "uses": "\n".join(data.get("uses") or [])}


# ---- checking ------------------------------------------------------------------------------

@dataclass
class Parsed:
    """What create_item / edit_item need, once every field was checked."""

    title: str
    summary: str
    source: str
    tags: list[str]
    language: str
    licence: str | None
    data: dict | None
    coauthors: list[str]  # usernames; the route checks that they exist

    def item_arguments(self) -> dict:
        arguments = {"title": self.title, "summary": self.summary, "source": self.source, "tags": self.tags,
                     "language": self.language, "data": self.data}
        if self.licence is not None:
            arguments["licence"] = self.licence
        return arguments


class _Checker:
    def __init__(self, lang: str):
        self.lang = lang
        self.errors: dict[str, str] = {}

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def text(self, values: FormValues, name: str, label: str, limit: int) -> str:
        value = values[name]
        if len(value) > limit:
            self.fail(name, gettext(self.lang, "« %(label)s » dépasse %(max)s caractères (%(length)s).")
                      % {"label": label, "max": f"{limit:,}".replace(",", "\u202f"), "length": len(value)})
        return value

    def lines(self, values: FormValues, name: str, label: str, limit: int) -> list[str]:
        lines = [line.strip() for line in values[name].split("\n") if line.strip()]
        if len(lines) > fiches.MAX_LIST:
            self.fail(name, gettext(self.lang, "« %(label)s » a plus de %(max)s lignes.")
                      % {"label": label, "max": fiches.MAX_LIST})
        for line in lines:
            if len(line) > limit:
                self.fail(name, gettext(self.lang, "Une ligne de « %(label)s » dépasse %(max)s caractères.")
                          % {"label": label, "max": limit})
        return lines

    def web_address(self, name: str, label: str, url: str) -> str:
        if not url.startswith(("https://", "http://")) or len(url) > MAX_URL or any(c.isspace() for c in url):
            self.fail(name, gettext(self.lang, "« %(label)s » : %(url)s n'est pas une adresse web "
                                               "(elle doit commencer par https:// ou http://).")
                      % {"label": label, "url": url[:100]})
        return url

    def coordinate(self, values: FormValues, name: str, label: str, bound: int) -> str:
        value = values[name].replace(",", ".").replace("\u2212", "-")
        if not value:
            return ""
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or abs(number) > bound:
            self.fail(name, gettext(self.lang, "« %(label)s » doit être un nombre entre -%(max)s et %(max)s.")
                      % {"label": label, "max": bound})
        return value


def parse(values: FormValues, lang: str, *, known_language: str | None = None) -> tuple[Parsed | None, dict]:
    """(the domain arguments, None if any error) and the errors by field name."""
    check = _Checker(lang)
    kind = values.kind

    title = " ".join(values["title"].split())
    if not title:
        check.fail("title", gettext(lang, "Le titre est obligatoire."))
    elif len(title) > MAX_TITLE:
        check.fail("title", gettext(lang, "Le titre dépasse %(max)s caractères.") % {"max": MAX_TITLE})
    summary = check.text(values, "summary", gettext(lang, "Résumé"), MAX_SUMMARY)
    source = check.text(values, "source", gettext(lang, "Présentation"), MAX_SOURCE_CHARS)

    themes = [" ".join(theme.lstrip("#").split()) for theme in values["themes"].replace("\n", ",").split(",")]
    themes = [theme for theme in themes if theme]
    if len(themes) > MAX_THEMES:
        check.fail("themes", gettext(lang, "Pas plus de %(max)s thèmes.") % {"max": MAX_THEMES})
    if any(len(theme) > MAX_THEME for theme in themes):
        check.fail("themes", gettext(lang, "Un thème dépasse %(max)s caractères.") % {"max": MAX_THEME})

    language = values["language"] or "fr"
    if language not in ITEM_LANGUAGES and language != known_language:
        check.fail("language", gettext(lang, "Choisissez une langue de la liste."))

    licence = None
    if kind in FORM_KINDS:
        licence = values["licence"] or fiches.DEFAULT_LICENCE
        if licence not in fiches.LICENCES:
            check.fail("licence", gettext(lang, "Choisissez une licence de la liste."))

    coauthors = parse_usernames(values)
    for name in coauthors:
        try:
            check_username(name)
        except InvalidUsername:
            check.fail("coauthors", gettext(lang, "« %(name)s » n'est pas un nom d'utilisateur·ice valable.")
                       % {"name": name[:64]})
    if len(coauthors) > fiches.MAX_LIST:
        check.fail("coauthors", gettext(lang, "Trop de co-auteur·ices."))

    territory = {
        "place": check.text(values, "place", gettext(lang, "Lieu"), fiches.MAX_LINE),
        "region": check.text(values, "region", gettext(lang, "Région"), fiches.MAX_LINE),
        "latitude": check.coordinate(values, "latitude", gettext(lang, "Latitude"), 90),
        "longitude": check.coordinate(values, "longitude", gettext(lang, "Longitude"), 180),
    }
    if bool(territory["latitude"]) != bool(territory["longitude"]) and not (
            {"latitude", "longitude"} & set(check.errors)):
        check.fail("latitude" if not territory["latitude"] else "longitude",
                   gettext(lang, "Indiquez la latitude et la longitude, ou aucune des deux."))
    audience = check.text(values, "audience", gettext(lang, "Public"), fiches.MAX_LINE)
    attribution = check.text(values, "attribution", gettext(lang, "Crédits"), MAX_ATTRIBUTION)

    data = None
    if kind == "fiche":
        data = {
            "pitch": check.text(values, "pitch", gettext(lang, "Accroche"), fiches.MAX_LINE),
            "sections": {},
            "steps": _parse_steps(check, values),
            "holders": _parse_holders(check, values),
            "territory": territory,
            "audience": audience,
            "started": _parse_date(check, values),
            "attribution": attribution,
        }
        for name, (heading, _help) in section_labels(lang).items():
            text = check.text(values, section_field(name), heading, fiches.MAX_TEXT)
            if text:
                data["sections"][name] = text
    elif kind == "resource":
        resource_format = values["format"]
        if resource_format and resource_format not in fiches.RESOURCE_FORMATS:
            check.fail("format", gettext(lang, "Choisissez un format de la liste."))
        data = {
            "learning_goals": check.lines(values, "learning_goals", gettext(lang, "Objectifs pédagogiques"),
                                          fiches.MAX_LINE),
            "audience": audience,
            "duration": check.text(values, "duration", gettext(lang, "Durée"), MAX_DURATION),
            "format": resource_format,
            "prerequisites": check.text(values, "prerequisites", gettext(lang, "Prérequis"), fiches.MAX_TEXT),
            "materials": _parse_materials(check, values),
            "related": [check.web_address("related", gettext(lang, "Fiches liées"), url)
                        for url in check.lines(values, "related", gettext(lang, "Fiches liées"), MAX_URL)],
            "territory": territory,
            "attribution": attribution,
        }

    elif kind == "event":
        data = _parse_event(check, values, territory)

    if check.errors:
        return None, check.errors
    if data is not None:
        try:  # the domain's own checks, before anything is written
            fiches.fields_for(kind, data)
        except InvalidInput as error:
            return None, {"": words.failure(lang, error)}
    return Parsed(title=title, summary=summary, source=source, tags=themes, language=language,
                  licence=licence, data=data, coauthors=coauthors), {}


def parse_usernames(values: FormValues) -> list[str]:
    """`claire, @bob` -> ["claire", "bob"]: usernames of this island (a full handle is refused)."""
    names = []
    for name in values["coauthors"].replace("\n", ",").split(","):
        name = name.strip().removeprefix("@").lower()
        if name and name not in names:
            names.append(name)
    return names


def _parse_steps(check: _Checker, values: FormValues) -> list[str]:
    """One step per line; a line that starts with a space continues the step above."""
    steps: list[str] = []
    for line in values["steps"].split("\n"):
        if not line.strip():
            continue
        if line[:1].isspace() and steps:
            steps[-1] += "\n" + line.strip()
        else:
            steps.append(line.strip())
    label = gettext(check.lang, "Mode d'emploi")
    if len(steps) > fiches.MAX_LIST:
        check.fail("steps", gettext(check.lang, "« %(label)s » a plus de %(max)s lignes.")
                   % {"label": label, "max": fiches.MAX_LIST})
    if any(len(step) > fiches.MAX_TEXT for step in steps):
        check.fail("steps", gettext(check.lang, "Une ligne de « %(label)s » dépasse %(max)s caractères.")
                   % {"label": label, "max": fiches.MAX_TEXT})
    return steps


def _parse_holders(check: _Checker, values: FormValues) -> list[dict]:
    lang = check.lang
    holders = []
    for index, row in enumerate(values.holders):
        number = {"number": index + 1}
        if not row["name"]:
            check.fail(holder_field(index, "name"), gettext(lang, "Porteur n° %(number)s : le nom est obligatoire.")
                       % number)
        if row["kind"] not in ("person", "organisation"):
            check.fail(holder_field(index, "kind"), gettext(lang, "Porteur n° %(number)s : choisissez personne ou "
                                                                  "organisation.") % number)
        for part, limit in (("name", fiches.MAX_LINE), ("url", fiches.MAX_LINE), ("contact", fiches.MAX_LINE)):
            if len(row[part]) > limit:
                check.fail(holder_field(index, part), gettext(lang, "Porteur n° %(number)s : trop long "
                                                                    "(%(max)s caractères au plus).")
                           % {**number, "max": limit})
        if row["url"]:
            check.web_address(holder_field(index, "url"), gettext(lang, "Site web"), row["url"])
        holder = {"name": row["name"], "kind": row["kind"], "url": row["url"]}
        if row["contact"]:
            holder["contact"] = row["contact"]
        holders.append(holder)
    if len(holders) > fiches.MAX_LIST:
        check.fail(holder_field(0, "name"), gettext(lang, "Trop de porteurs."))
    return holders


def _parse_date(check: _Checker, values: FormValues) -> str | None:
    value = values["started"]
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        check.fail("started", gettext(check.lang, "La date de démarrage s'écrit AAAA-MM-JJ."))
        return None


def _parse_event(check: _Checker, values: FormValues, territory: dict) -> dict:
    lang = check.lang
    zone = values["time_zone"] or DEFAULT_TIME_ZONE
    try:
        events.check_zone(zone)
    except InvalidInput:
        check.fail("time_zone", gettext(lang, "Choisissez un fuseau horaire de la liste, par exemple Europe/Paris."))
        zone = DEFAULT_TIME_ZONE
    moments = {}
    for name, label in (("start", gettext(lang, "Début")), ("end", gettext(lang, "Fin"))):
        if not values[name]:
            if name == "start":
                check.fail(name, gettext(lang, "Le début est obligatoire."))
            continue
        try:
            moments[name] = events.parse_moment(values[name], name, zone)
        except InvalidInput:
            check.fail(name, gettext(lang, "« %(label)s » s'écrit AAAA-MM-JJ HH:MM, entre %(first)s et %(last)s.")
                       % {"label": label, "first": events.FIRST_YEAR, "last": events.LAST_YEAR})
    if "start" in moments and "end" in moments and moments["end"] < moments["start"]:
        check.fail("end", gettext(lang, "La fin vient avant le début."))
    links = {}
    for name, label in (("online", gettext(lang, "En ligne")), ("registration", gettext(lang, "Inscription"))):
        links[name] = check.web_address(name, label, values[name]) if values[name] else ""
    organisers = []
    for line in check.lines(values, "organisers", gettext(lang, "Organisation"), MAX_URL + fiches.MAX_LINE):
        name, bar, url = line.rpartition("|") if "|" in line else (line, "", "")
        name, url = name.strip(), url.strip()
        if len(name) > fiches.MAX_LINE:
            check.fail("organisers", gettext(lang, "Une ligne de « %(label)s » dépasse %(max)s caractères.")
                       % {"label": gettext(lang, "Organisation"), "max": fiches.MAX_LINE})
        organisers.append({"name": name, "url": check.web_address("organisers", gettext(lang, "Organisation"), url)
                           if url else ""})
    uses = [check.web_address("uses", gettext(lang, "Fiches et ressources utilisées"), url)
            for url in check.lines(values, "uses", gettext(lang, "Fiches et ressources utilisées"), MAX_URL)]
    return {"start": values["start"], "end": values["end"] or values["start"], "time_zone": zone,
            "territory": territory, "organisers": organisers, "uses": uses, **links}


def _parse_materials(check: _Checker, values: FormValues) -> list[dict]:
    """`title | url` per line (or just the url)."""
    label = gettext(check.lang, "Matériel")
    materials = []
    for line in check.lines(values, "materials", label, MAX_URL + fiches.MAX_LINE):
        title, bar, url = line.rpartition("|")
        title, url = title.strip(), url.strip()
        if len(title) > fiches.MAX_LINE:
            check.fail("materials", gettext(check.lang, "Une ligne de « %(label)s » dépasse %(max)s caractères.")
                       % {"label": label, "max": fiches.MAX_LINE})
        materials.append({"title": title, "url": check.web_address("materials", label, url)})
    return materials


# ---- preview -------------------------------------------------------------------------------

def preview(kind: str, parsed: Parsed, lang: str = "fr") -> str:
    """The body the published page will show (the same renderer), sanitised, in the reader's words."""
    fields, _private = fiches.fields_for(kind, parsed.data or {})
    return render_item(kind, parsed.source, fields, parsed.licence, words.item_wording(lang))
