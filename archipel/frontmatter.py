"""Markdown files with a YAML front matter block, as trainers and `archipel publish` write them."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from archipel.errors import InvalidInput


@dataclass(frozen=True)
class Document:
    metadata: dict = field(default_factory=dict)
    body: str = ""


def parse_front_matter(text: str) -> Document:
    """'---\\nyaml\\n---\\nbody' -> Document; a file without the block is all body."""
    text = text.lstrip("\ufeff")
    if not text.startswith("---"):
        return Document({}, text)
    lines = text.splitlines(keepends=True)
    if lines[0].strip() != "---":
        return Document({}, text)
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            header = "".join(lines[1:index])
            body = "".join(lines[index + 1 :])
            try:
                metadata = yaml.safe_load(header) or {}
            except yaml.YAMLError as error:
                raise InvalidInput("L'en-tête n'est pas du YAML valide : %(error)s", error=error) from None
            if not isinstance(metadata, dict):
                raise InvalidInput("L'en-tête doit être une liste de champs (clé: valeur).")
            return Document(metadata, body.lstrip("\n"))
    raise InvalidInput("L'en-tête ouvert par « --- » n'est jamais fermé.")
