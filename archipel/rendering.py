"""The HTML body of an item, made from what its authors wrote.

It is a pure function of the item's fields: another island that receives the fields renders the
same HTML, and GoToSocial (which shows `content`) reads the whole fiche.
"""

from __future__ import annotations

import html

from archipel import events

from archipel.fiches import FICHE_SECTIONS, HOWTO_HEADING, LICENCES
from archipel.text import render_markdown, sanitize_html


def _heading(text: str) -> str:
    return f"<h2>{html.escape(text)}</h2>"


def render_item(kind: str, source: str, fields: dict, licence: str | None) -> str:
    if kind == "fiche":
        body = _fiche(source, fields)
    elif kind == "resource":
        body = _resource(source, fields)
    elif kind == "event":
        body = _event(source, fields)
    else:
        return render_markdown(source or "")
    if fields.get("attribution"):
        body.append(f"<p><em>{html.escape(fields['attribution'])}</em></p>")
    if licence in LICENCES:
        label, url = LICENCES[licence]
        body.append(f'<p>Licence : <a href="{url}" rel="license">{html.escape(label)}</a></p>')
    return sanitize_html("\n".join(body))


def _territory(fields: dict) -> str:
    territory = fields.get("territory") or {}
    return ", ".join(part for part in (territory.get("place"), territory.get("region")) if part)


def _fiche(source: str, fields: dict) -> list[str]:
    body = []
    if fields.get("pitch"):
        body.append(f"<p><strong>{html.escape(fields['pitch'])}</strong></p>")
    if source:
        body.append(render_markdown(source))
    sections = fields.get("sections") or {}
    for name, heading in FICHE_SECTIONS.items():
        if name == "means" and fields.get("steps"):
            body.append(_heading(HOWTO_HEADING))
            body.append("<ol>" + "".join(f"<li>{render_markdown(step)}</li>" for step in fields["steps"]) + "</ol>")
        if sections.get(name):
            body.append(_heading(heading))
            body.append(render_markdown(sections[name]))
    holders = fields.get("holders") or []
    if holders:
        body.append(_heading("Porteurs du projet"))
        items = []
        for holder in holders:
            name = html.escape(holder["name"])
            items.append(f'<li><a href="{html.escape(holder["url"])}">{name}</a></li>' if holder.get("url")
                         else f"<li>{name}</li>")
        body.append("<ul>" + "".join(items) + "</ul>")
    facts = []
    if _territory(fields):
        facts.append(f"Territoire : {html.escape(_territory(fields))}")
    if fields.get("audience"):
        facts.append(f"Public : {html.escape(fields['audience'])}")
    if fields.get("started"):
        facts.append(f"Démarré le : {html.escape(fields['started'])}")
    if facts:
        body.append("<p>" + "<br>".join(facts) + "</p>")
    return body


def _resource(source: str, fields: dict) -> list[str]:
    body = [render_markdown(source)] if source else []
    facts = []
    for key, label in (("format", "Format"), ("duration", "Durée"), ("audience", "Public")):
        if fields.get(key):
            facts.append(f"{label} : {html.escape(fields[key])}")
    if _territory(fields):
        facts.append(f"Territoire : {html.escape(_territory(fields))}")
    if facts:
        body.append("<p>" + "<br>".join(facts) + "</p>")
    if fields.get("learning_goals"):
        body.append(_heading("Objectifs pédagogiques"))
        body.append("<ul>" + "".join(f"<li>{html.escape(goal)}</li>" for goal in fields["learning_goals"]) + "</ul>")
    if fields.get("prerequisites"):
        body.append(_heading("Prérequis"))
        body.append(render_markdown(fields["prerequisites"]))
    if fields.get("materials"):
        body.append(_heading("Matériel"))
        body.append("<ul>" + "".join(
            f'<li><a href="{html.escape(m["url"])}">{html.escape(m.get("title") or m["url"])}</a></li>'
            for m in fields["materials"]) + "</ul>")
    if fields.get("related"):
        body.append(_heading("Fiches liées"))
        body.append("<ul>" + "".join(f'<li><a href="{html.escape(uri)}">{html.escape(uri)}</a></li>'
                                     for uri in fields["related"]) + "</ul>")
    return body


_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre")


def french_moment(moment) -> str:
    """« 12 mars 2027 à 09:30 »: the same text on every island (no locale of the machine)."""
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year} à {moment:%H:%M}"


def event_when(fields: dict) -> str:
    """« Du 12 mars 2027 à 09:30 au 12 mars 2027 à 17:00 (Europe/Paris) », in the event's zone."""
    start, end = events.local_times(fields)
    zone = fields.get("time_zone") or ""
    when = (f"Le {french_moment(start)}" if start == end
            else f"Du {french_moment(start)} au {french_moment(end)}")
    return f"{when} ({zone})" if zone else when


def _event(source: str, fields: dict) -> list[str]:
    facts = [html.escape(event_when(fields))]
    if _territory(fields):
        facts.append(f"Lieu : {html.escape(_territory(fields))}")
    if fields.get("online"):
        url = html.escape(fields["online"])
        facts.append(f'En ligne : <a href="{url}">{url}</a>')
    if fields.get("registration"):
        facts.append(f'<a href="{html.escape(fields["registration"])}">Inscription</a>')
    body = ["<p>" + "<br>".join(facts) + "</p>"]
    if source:
        body.append(render_markdown(source))
    organisers = fields.get("organisers") or []
    if organisers:
        body.append(_heading("Organisation"))
        body.append("<ul>" + "".join(
            f'<li><a href="{html.escape(o["url"])}">{html.escape(o["name"])}</a></li>' if o.get("url")
            else f"<li>{html.escape(o['name'])}</li>" for o in organisers) + "</ul>")
    if fields.get("uses"):
        body.append(_heading("Fiches et ressources utilisées"))
        body.append("<ul>" + "".join(f'<li><a href="{html.escape(uri)}">{html.escape(uri)}</a></li>'
                                     for uri in fields["uses"]) + "</ul>")
    return body
