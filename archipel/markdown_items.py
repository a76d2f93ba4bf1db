"""Items as Markdown files with front matter, both ways: `archipel publish` reads them, the export
writes them, and reading what was written gives the same item back.

Front matter carries the fields; the body is the free text, in which a level-2 heading named like
a fiche section (`## Contexte et genèse`, or its key `## genesis`) starts that section, and
`## Mode d'emploi` holds the steps as an ordered list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from archipel.errors import InvalidInput
from archipel.fiches import FICHE_SECTIONS, HOWTO_HEADING, KINDS
from archipel.frontmatter import parse_front_matter

_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")
_STEP = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_SECTION_BY_HEADING = {**{label.lower(): key for key, label in FICHE_SECTIONS.items()},
                       **{key: key for key in FICHE_SECTIONS}}
MEDIA_KEYS = ("cover", "cover_alt", "attachments")  # files beside the Markdown: see read_media
DATA_KEYS = ("pitch", "sections", "steps", "holders", "territory", "audience", "started",
             "learning_goals", "duration", "format", "prerequisites", "materials", "related",
             "start", "end", "time_zone", "online", "registration", "organisers", "uses")


def _split_body(body: str) -> tuple[str, dict[str, str], list[str]]:
    intro, sections, steps = [], {}, []
    current: list[str] = intro
    in_steps = False
    for line in body.splitlines():
        heading = _HEADING.match(line)
        if heading:
            name = heading.group(1).strip().lower()
            if name in (HOWTO_HEADING.lower(), "steps", "howto"):
                in_steps, current = True, []
                continue
            if name in _SECTION_BY_HEADING:
                in_steps = False
                current = sections.setdefault(_SECTION_BY_HEADING[name], [])
                continue
        if in_steps:
            step = _STEP.match(line)
            if step:
                steps.append(step.group(1).strip())
            elif line.strip() and steps:
                steps[-1] += "\n" + line.strip()
            continue
        current.append(line)
    text = lambda lines: "\n".join(lines).strip()  # noqa: E731
    return text(intro), {k: text(v) for k, v in sections.items() if text(v)}, steps


def read_item(text: str) -> dict:
    """The arguments of content.create_item (besides authors) from a Markdown file."""
    document = parse_front_matter(text)
    meta = dict(document.metadata)
    kind = str(meta.pop("kind", "fiche")).strip().lower()
    if kind not in KINDS:
        raise InvalidInput("Type de contenu inconnu : %(kind)s (au choix : %(choices)s).",
                           kind=kind, choices=", ".join(KINDS))
    intro, sections, steps = _split_body(document.body) if kind == "fiche" else (document.body.strip(), {}, [])
    title = meta.pop("title", None) or next(
        (line.lstrip("# ").strip() for line in intro.splitlines() if line.startswith("# ")), "")
    if not meta.get("title") and intro.startswith("# "):
        intro = intro.split("\n", 1)[1].strip() if "\n" in intro else ""
    tags = meta.pop("tags", None) or meta.pop("themes", None) or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    data = {key: meta.pop(key) for key in DATA_KEYS if key in meta}
    if kind == "fiche":
        data["sections"] = {**sections, **(data.get("sections") or {})}
        data["steps"] = data.get("steps") or steps
    item = {
        "kind": kind, "title": str(title), "source": intro, "summary": str(meta.pop("summary", "") or ""),
        "tags": tags, "language": str(meta.pop("language", "fr") or "fr"),
        "licence": meta.pop("licence", None) or meta.pop("license", None),
        "state": meta.pop("state", None) or "published",
        "based_on": meta.pop("based_on", None), "data": data,
        "authors": meta.pop("authors", None) or [],
    }
    meta.pop("id", None)
    meta.pop("published", None)
    meta.pop("updated", None)
    for key in MEDIA_KEYS:
        meta.pop(key, None)
    if meta:
        raise InvalidInput("Champs inconnus dans l'en-tête : %(fields)s.", fields=", ".join(sorted(meta)))
    return item


@dataclass(frozen=True)
class MediaReferences:
    """The files a Markdown item names in its front matter, as written (paths relative to it)."""

    cover: str | None = None
    cover_alt: str = ""
    attachments: tuple[str, ...] | None = None  # None: not given (an update keeps the item's files)


def read_media(text: str) -> MediaReferences:
    """`cover:` an image path, `cover_alt:` its description, `attachments:` a list of paths."""
    meta = parse_front_matter(text).metadata
    cover = meta.get("cover")
    if cover is not None and (not isinstance(cover, str) or not cover.strip()):
        raise InvalidInput("cover : donnez le chemin d'un fichier image, relatif au fichier Markdown.")
    alt = meta.get("cover_alt")
    if alt is not None and not isinstance(alt, str):
        raise InvalidInput("cover_alt : donnez un texte qui décrit l'image de couverture.")
    attachments = meta.get("attachments")
    if isinstance(attachments, str):
        attachments = [attachments]
    if attachments is not None and (not isinstance(attachments, list)
                                    or not all(isinstance(p, str) and p.strip() for p in attachments)):
        raise InvalidInput("attachments : donnez une liste de chemins de fichiers, relatifs au fichier Markdown.")
    return MediaReferences(cover.strip() if cover else None, " ".join((alt or "").split()),
                           tuple(p.strip() for p in attachments) if attachments is not None else None)


def write_item(item, authors: list[str], *, private: bool = False) -> str:
    """The Markdown file of an item; sections and steps go in the body, the rest in front matter."""
    fields = dict(item.fields or {})
    sections = fields.pop("sections", {}) or {}
    steps = fields.pop("steps", []) or []
    meta = {"id": item.uri, "kind": item.kind, "title": item.name}
    for key, value in (("summary", item.summary), ("tags", list(item.tags)), ("language", item.language),
                       ("licence", item.licence), ("state", item.state), ("based_on", item.based_on),
                       ("authors", authors)):
        if value:
            meta[key] = value
    if private and (item.private_fields or {}).get("contacts"):
        holders = [dict(h) for h in fields.get("holders", [])]
        for contact in item.private_fields["contacts"]:
            holders[contact["holder"]]["contact"] = contact["contact"]
        fields["holders"] = holders
    meta.update({key: value for key, value in fields.items() if value not in (None, "", [], {})})
    meta["published"] = item.published.isoformat()
    if item.updated:
        meta["updated"] = item.updated.isoformat()
    body = [item.source or ""]
    if item.kind == "fiche":
        for key, label in FICHE_SECTIONS.items():
            if key == "means" and steps:
                body.append(f"## {HOWTO_HEADING}\n\n" + "\n".join(
                    f"{n}. " + step.replace("\n", "\n   ") for n, step in enumerate(steps, 1)))
            if sections.get(key):
                body.append(f"## {label}\n\n{sections[key]}")
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    return f"---\n{front}---\n\n" + "\n\n".join(part for part in body if part).strip() + "\n"
