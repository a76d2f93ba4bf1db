"""The HTML body of an item, made from what its authors wrote.

It is a pure function of the item's fields: another island that receives the fields renders the
same HTML, and GoToSocial (which shows `content`) reads the whole fiche. That stored and federated
HTML is written with French labels (`FRENCH`); a page in another language renders the same fields
again with the reader's `Wording` (web/words.py: item_wording), so the labels of sections and facts
follow the reader without the stored content ever depending on who read it first.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from archipel import events, wording
from archipel.fiches import FICHE_SECTIONS, HOWTO_HEADING, LICENCES
from archipel.text import render_markdown, sanitize_html


@dataclass(frozen=True)
class Wording:
    """How labels, dates and durations are written: `label` turns a French label into the
    reader's language; `lang` is the Babel locale of dates and durations."""
    label: Callable[[str], str]
    lang: str

    def fact(self, label: str, value: str) -> str:
        return f"{html.escape(self.label(label))}{wording.colon(self.lang)} {html.escape(value)}"


FRENCH = Wording(label=lambda text: text, lang="fr")


def _heading(text: str) -> str:
    return f"<h2>{html.escape(text)}</h2>"


def render_item(kind: str, source: str, fields: dict, licence: str | None, words: Wording = FRENCH) -> str:
    if kind == "fiche":
        body = _fiche(source, fields, words)
    elif kind == "resource":
        body = _resource(source, fields, words)
    elif kind == "event":
        body = _event(source, fields, words)
    else:
        return render_markdown(source or "")
    if fields.get("attribution"):
        body.append(f"<p><em>{html.escape(fields['attribution'])}</em></p>")
    if licence in LICENCES:
        label, url = LICENCES[licence]
        body.append(f'<p>{html.escape(words.label("Licence"))}{wording.colon(words.lang)} '
                    f'<a href="{url}" rel="license">{html.escape(label)}</a></p>')
    return sanitize_html("\n".join(body))


def _territory(fields: dict) -> str:
    territory = fields.get("territory") or {}
    return ", ".join(part for part in (territory.get("place"), territory.get("region")) if part)


def _fiche(source: str, fields: dict, words: Wording) -> list[str]:
    body = []
    if fields.get("pitch"):
        body.append(f"<p><strong>{html.escape(fields['pitch'])}</strong></p>")
    if source:
        body.append(render_markdown(source))
    sections = fields.get("sections") or {}
    for name, heading in FICHE_SECTIONS.items():
        if name == "means" and fields.get("steps"):
            body.append(_heading(words.label(HOWTO_HEADING)))
            body.append("<ol>" + "".join(f"<li>{render_markdown(step)}</li>" for step in fields["steps"]) + "</ol>")
        if sections.get(name):
            body.append(_heading(words.label(heading)))
            body.append(render_markdown(sections[name]))
    holders = fields.get("holders") or []
    if holders:
        body.append(_heading(words.label("Porteurs du projet")))
        items = []
        for holder in holders:
            name = html.escape(holder["name"])
            items.append(f'<li><a href="{html.escape(holder["url"])}">{name}</a></li>' if holder.get("url")
                         else f"<li>{name}</li>")
        body.append("<ul>" + "".join(items) + "</ul>")
    facts = []
    if _territory(fields):
        facts.append(words.fact("Territoire", _territory(fields)))
    if fields.get("audience"):
        facts.append(words.fact("Public", fields["audience"]))
    if fields.get("started"):
        facts.append(words.fact("Démarré le", wording.iso_date(words.lang, fields["started"])))
    if facts:
        body.append("<p>" + "<br>".join(facts) + "</p>")
    return body


def _resource(source: str, fields: dict, words: Wording) -> list[str]:
    body = [render_markdown(source)] if source else []
    facts = []
    if fields.get("format"):
        facts.append(words.fact("Format", words.label(wording.FORMATS.get(fields["format"], fields["format"]))))
    if fields.get("duration"):
        facts.append(words.fact("Durée", wording.duration(words.lang, fields["duration"])))
    if fields.get("audience"):
        facts.append(words.fact("Public", fields["audience"]))
    if _territory(fields):
        facts.append(words.fact("Territoire", _territory(fields)))
    if facts:
        body.append("<p>" + "<br>".join(facts) + "</p>")
    if fields.get("learning_goals"):
        body.append(_heading(words.label("Objectifs pédagogiques")))
        body.append("<ul>" + "".join(f"<li>{html.escape(goal)}</li>" for goal in fields["learning_goals"]) + "</ul>")
    if fields.get("prerequisites"):
        body.append(_heading(words.label("Prérequis")))
        body.append(render_markdown(fields["prerequisites"]))
    if fields.get("materials"):
        body.append(_heading(words.label("Matériel")))
        body.append("<ul>" + "".join(
            f'<li><a href="{html.escape(m["url"])}">{html.escape(m.get("title") or m["url"])}</a></li>'
            for m in fields["materials"]) + "</ul>")
    if fields.get("related"):
        body.append(_heading(words.label("Fiches liées")))
        # Named by their number, not their address: this body cannot look names up (it is the same
        # on every island); a page that knows the names writes them instead (web/words.py item_body).
        related = html.escape(words.label("Fiche liée"))
        body.append("<ul>" + "".join(f'<li><a href="{html.escape(uri)}">{related} {number}</a></li>'
                                     for number, uri in enumerate(fields["related"], 1)) + "</ul>")
    return body


_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre")


def french_moment(moment) -> str:
    """« 12 mars 2027 à 09:30 »: the same text on every island (no locale of the machine)."""
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year} à {moment:%H:%M}"


def event_when(fields: dict, words: Wording = FRENCH) -> str:
    """« Du 12 mars 2027 à 09:30 au 12 mars 2027 à 17:00 (heure de Paris) », in the event's
    zone; in French as stored, or in the reader's language for a page that renders it again."""
    start, end = events.local_times(fields)
    zone = fields.get("time_zone") or ""
    if words.lang == "fr":
        moment = french_moment
    else:
        def moment(value) -> str:
            return wording.moment(words.lang, value)
    when = (words.label("Le %(start)s") % {"start": moment(start)} if start == end
            else words.label("Du %(start)s au %(end)s") % {"start": moment(start), "end": moment(end)})
    return f"{when} ({wording.zone(words.lang, zone, words.label)})" if zone else when


def _event(source: str, fields: dict, words: Wording) -> list[str]:
    facts = [html.escape(event_when(fields, words))]
    if _territory(fields):
        facts.append(words.fact("Lieu", _territory(fields)))
    if fields.get("online"):
        url = html.escape(fields["online"])
        facts.append(f'{html.escape(words.label("En ligne"))}{wording.colon(words.lang)} <a href="{url}">{url}</a>')
    if fields.get("registration"):
        facts.append(f'<a href="{html.escape(fields["registration"])}">{html.escape(words.label("Inscription"))}</a>')
    body = ["<p>" + "<br>".join(facts) + "</p>"]
    if source:
        body.append(render_markdown(source))
    organisers = fields.get("organisers") or []
    if organisers:
        body.append(_heading(words.label("Organisation")))
        body.append("<ul>" + "".join(
            f'<li><a href="{html.escape(o["url"])}">{html.escape(o["name"])}</a></li>' if o.get("url")
            else f"<li>{html.escape(o['name'])}</li>" for o in organisers) + "</ul>")
    if fields.get("uses"):
        body.append(_heading(words.label("Fiches et ressources utilisées")))
        body.append("<ul>" + "".join(f'<li><a href="{html.escape(uri)}">{html.escape(uri)}</a></li>'
                                     for uri in fields["uses"]) + "</ul>")
    return body
