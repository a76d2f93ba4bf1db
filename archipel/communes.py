"""French communes by name, from the gazetteer shipped with the project (archipel/data/
communes.csv, built by scripts/build_communes.py from open-data registry packages): the item
form places a fiche by typing « Brest » instead of coordinates. Never a network service."""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "communes.csv"
MAX_QUERY = 100


@dataclass(frozen=True)
class Commune:
    name: str
    insee: str
    postcode: str
    departement: str
    region: str
    population: int
    lat: float
    lon: float


def fold(text: str) -> str:
    """What people type and what the gazetteer says, compared alike: no accents, no case, and
    hyphens, apostrophes and runs of spaces as one space (« st-etienne » ~ « Saint-Étienne » is
    not attempted: only the spelling's accidents are forgiven)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    for mark in "-'’":
        bare = bare.replace(mark, " ")
    return " ".join(bare.split())


@lru_cache(maxsize=1)
def _index() -> tuple[tuple[str, Commune], ...]:
    """Loaded on first use (about 15,000 rows, a few MB in memory), biggest communes first so
    that a prefix scan meets them in the order they are wanted."""
    with DATA.open(encoding="utf-8", newline="") as source:
        communes = [Commune(row["name"], row["insee"], row["postcode"], row["departement"], row["region"],
                            int(row["population"]), float(row["lat"]), float(row["lon"]))
                    for row in csv.DictReader(source)]
    communes.sort(key=lambda c: (-c.population, c.name))
    return tuple((fold(c.name), c) for c in communes)


def lookup(query: str, limit: int = 10) -> list[Commune]:
    """Communes whose name starts with the query (or whose postcode does, for digits), the most
    populous first."""
    needle = fold(query[:MAX_QUERY])
    if not needle:
        return []
    if needle.isdigit():
        return [c for _, c in _index() if c.postcode.startswith(needle)][:limit]
    found = []
    for folded, commune in _index():
        if folded.startswith(needle):
            found.append(commune)
            if len(found) == limit:
                break
    return found


@lru_cache(maxsize=1)
def regions() -> tuple[str, ...]:
    """The regions of the gazetteer, in alphabetical order (the letter's territory choices)."""
    return tuple(sorted({commune.region for _, commune in _index() if commune.region}, key=fold))
