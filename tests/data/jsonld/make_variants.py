"""Regenerate the variants of fiche_canonical.json (run from the repository root):

    .venv/bin/python tests/data/jsonld/make_variants.py

Each variant is written, then checked: its RDF (URDNA2015 N-Quads, offline contexts) must equal
the canonical document's (the embedded variant may only add the embedded nodes' own statements).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from pyld import jsonld

from federation.jsonld import offline_loader
from federation.vocabulary import ARCHIPEL_NS, AS, ITEM_TERMS

HERE = Path(__file__).parent
# Placeholders become real-looking IRIs while pyld works (it resolves relative IRIs), then go back.
SENTINELS = {
    "{{FICHE}}": "https://remote.invalid/fiches/papi",
    "{{REMOTE}}": "https://remote.invalid",
    "{{OUR_ACTOR}}": "https://our.invalid/users/alice",
}
OPTIONS = {"documentLoader": offline_loader}
# The last one is on the remote test server itself, so a test sees any attempt to fetch it.
UNBUNDLED = ["https://w3id.org/identity/v1", "https://gotosocial.org/ns",
             "https://example.org/unknown-context.jsonld", "https://remote.invalid/ns/context.jsonld"]


def load() -> dict:
    text = (HERE / "fiche_canonical.json").read_text("utf-8")
    for placeholder, iri in SENTINELS.items():
        text = text.replace(placeholder, iri)
    return json.loads(text)


def write(name: str, document: dict) -> None:
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    for placeholder, iri in SENTINELS.items():  # {{FICHE}} first: it starts with {{REMOTE}}
        text = text.replace(iri, placeholder)
    (HERE / name).write_text(text, "utf-8")


def quads(document: dict) -> set[str]:
    nquads = jsonld.normalize(copy.deepcopy(document), {**OPTIONS, "algorithm": "URDNA2015",
                                                        "format": "application/n-quads"})
    return set(nquads.splitlines())


# (a) every single value as an array of one, except what cannot be: ids, the activity's type,
# the JSON literal (an array there would be another literal) and language maps. The activity's
# `object` stays one embedded object (the object's own values are the point here).
def arrays(value, key=None, top=False):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("@context", "id", "details", "nameMap", "contentMap") or (top and k == "type"):
                out[k] = v
            else:
                out[k] = arrays(v, k)
        return out if top or key is None else [out]
    if isinstance(value, list):
        return [arrays(v, key)[0] if not isinstance(v, list) else v for v in value]
    return [value]


def variant_arrays(doc):
    document = arrays({k: v for k, v in doc.items() if k != "object"}, top=True)
    document["object"] = arrays(doc["object"], top=True)
    document["object"]["type"] = [doc["object"]["type"]]
    return document


# (b) actor, attributedTo, isBasedOn, license and co-authors embedded as objects with an id.
def variant_embedded(doc):
    doc = copy.deepcopy(doc)
    rosa = doc["actor"]
    doc["actor"] = {"id": rosa, "type": "Person", "name": "Rosa", "preferredUsername": "rosa"}
    obj = doc["object"]
    obj["attributedTo"] = {"id": rosa, "type": "Person", "name": "Rosa"}
    obj["isBasedOn"] = {"id": obj["isBasedOn"], "type": "Article"}
    obj["license"] = {"id": obj["license"]}
    obj["coAuthors"] = [{"id": uri, "type": "Person"} for uri in obj["coAuthors"]]
    return doc


# (c) a context that declares only the prefixes: the object uses compact IRIs (as:, schema:,
# archipel:), a full IRI for summary, and spells the JSON literal out.
def variant_prefixed(doc):
    doc = copy.deepcopy(doc)
    doc["@context"] = [AS, {"schema": "http://schema.org/", "archipel": ARCHIPEL_NS}]
    obj = doc["object"]
    out = {}
    for key, value in obj.items():
        if key == "name":
            out["as:name"] = value
        elif key == "summary":
            out[AS + "#summary"] = value
        elif key == "attributedTo":
            out["as:attributedTo"] = {"id": value}
        elif key == "tag":
            out["tag"] = [{**tag, "type": "as:Hashtag"} for tag in value]
        elif key in ("license", "isBasedOn"):
            out[f"schema:{key}"] = {"id": value}
        elif key in ("spatialCoverage", "about"):
            out[f"schema:{key}"] = value
        elif key == "itemKind":
            out["archipel:kind"] = value
        elif key == "coAuthors":
            out["archipel:coAuthors"] = {"@list": [{"id": uri} for uri in value]}
        elif key == "details":
            out["archipel:details"] = {"@type": "@json", "@value": value}
        else:
            out[key] = value
    doc["object"] = out
    return doc


# (d) pyld expand, unwrapped from its one-element array: a node object with no @context.
def variant_expanded(doc):
    expanded = jsonld.expand(copy.deepcopy(doc), OPTIONS)
    assert len(expanded) == 1
    return expanded[0]


# (e) the canonical document, its @context also listing URLs we do not bundle. The ones that
# might redefine AS terms come before AS, so the document means the same to a processor that
# can fetch them.
def variant_unknown_contexts(doc):
    doc = copy.deepcopy(doc)
    identity, gotosocial, unknown, on_remote = UNBUNDLED
    doc["@context"] = [identity, unknown, AS, gotosocial, on_remote, ITEM_TERMS]
    return doc


# (f) compacted by pyld against a context that renames the terms, then `name` spelled `titre`
# (pyld prefers the shorter `name`; both mean as:name here).
RENAMING = [AS, {
    "schema": "http://schema.org/",
    "archipel": ARCHIPEL_NS,
    "titre": "as:name",
    "fiche": {"@id": "archipel:details", "@type": "@json"},
    "sorte": "archipel:kind",
    "licence": {"@id": "schema:license", "@type": "@id"},
    "origine": {"@id": "schema:isBasedOn", "@type": "@id"},
    "territoire": "schema:spatialCoverage",
    "sujets": "schema:about",
    "auteurs": {"@id": "archipel:coAuthors", "@type": "@id", "@container": "@list"},
    "MotDiese": "as:Hashtag",
}]


def variant_renamed_terms(doc):
    expanded = jsonld.expand(copy.deepcopy(doc), OPTIONS)
    compacted = jsonld.compact(expanded, {"@context": RENAMING}, OPTIONS)
    compacted["@context"] = RENAMING
    obj = compacted["object"]
    compacted["object"] = {("titre" if k == "name" else k): v for k, v in obj.items()}
    return compacted


VARIANTS = {
    "fiche_arrays.json": variant_arrays,
    "fiche_embedded.json": variant_embedded,
    "fiche_prefixed.json": variant_prefixed,
    "fiche_expanded.json": variant_expanded,
    "fiche_unknown_contexts.json": variant_unknown_contexts,
    "fiche_renamed_terms.json": variant_renamed_terms,
}


def main() -> None:
    canonical = load()
    reference = quads(canonical)
    for name, make in VARIANTS.items():
        document = make(canonical)
        found = quads(document)
        if name == "fiche_embedded.json":
            assert reference <= found, sorted(reference - found)
        else:
            assert found == reference, (name, sorted(found ^ reference))
        write(name, document)
        print(f"{name}: {len(found)} statements, same as canonical")


if __name__ == "__main__":
    main()
