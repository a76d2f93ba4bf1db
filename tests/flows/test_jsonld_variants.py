"""The same fiche in several JSON-LD compactions is stored identically; context URLs we do not
bundle are never fetched and do not stop an activity; a sender's redefinition of one of our terms
is not read as ours.

The documents are in tests/data/jsonld (see its README for how each variant was made).
"""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path

import pytest
from pyld import jsonld
from sqlalchemy import inspect

from archipel import content
from archipel.storage.tables import StoredObject
from federation.as2 import id_of, ids_of, text_value, types_of
from federation.jsonld import normalize, offline_loader
from federation.vocabulary import AS, ITEM_TERMS
from tests.nodes import wait_for

DATA = Path(__file__).parent.parent / "data" / "jsonld"
CANONICAL = "fiche_canonical.json"
VARIANTS = ["fiche_arrays.json", "fiche_embedded.json", "fiche_prefixed.json", "fiche_expanded.json",
            "fiche_unknown_contexts.json", "fiche_renamed_terms.json"]
COLUMNS = [c.key for c in inspect(StoredObject).columns if c.key not in ("id", "uri")]
EVIL = "https://evil.example/ns#"


def load(name: str, *, remote_url: str, our_actor: str, fiche: str) -> dict:
    text = (DATA / name).read_text("utf-8")
    for placeholder, value in (("{{FICHE}}", fiche), ("{{REMOTE}}", remote_url), ("{{OUR_ACTOR}}", our_actor)):
        text = text.replace(placeholder, value)
    assert "{{" not in text, f"{name} has an unknown placeholder"
    return json.loads(text)


def short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def fiche_uri(remote, name: str) -> str:
    return f"{remote.url}/fiches/{name.removesuffix('.json')}"


async def send(island, remote, document: dict) -> object:
    """POST signed as rosa; the incoming row once the worker has settled it."""
    status, text = await remote.post(f"{island.url}/inbox", document)
    assert status == 202, f"inbox answered {status}: {text}"
    activity_id = document.get("id") or document.get("@id")

    async def settled():
        rows = [r for r in await island.incoming() if r.payload.get("id") == activity_id]
        return rows and rows[0].state != "received" and rows[0]

    return await wait_for(settled, message=f"{activity_id} to be processed")


async def stored(island, uri: str) -> dict | None:
    """Every column of the stored item (its own uri written as <uri>), plus its authors."""
    async with island.sessions() as session:
        item = await content.find_object(session, uri)
        if item is None:
            return None
        columns = {}
        for column in COLUMNS:
            value = getattr(item, column)
            columns[column] = "<uri>" if value == uri else value
        columns["authors"] = await content.authors_of(session, item)
        return columns


async def receive(island, remote, name: str, **replace) -> dict:
    uri = fiche_uri(remote, name)
    document = load(name, remote_url=remote.url, our_actor=island.actor_uri("alice"), fiche=uri)
    for key, value in replace.items():
        document[key] = value(document)
    row = await send(island, remote, document)
    assert row.state == "processed", f"{name}: {row.state} — {row.last_error}"
    item = await stored(island, uri)
    assert item is not None, f"{name} was processed but nothing was stored"
    return item


# ---- through the inbox ----------------------------------------------------------------------

def fetched_only_actors(remote) -> bool:
    """The signer's key, and nothing but actors: no context, no object fetched again. The
    authors' names worker may fetch the co-author (marc) meanwhile, or not yet."""
    assert "/users/rosa" in remote.fetches and set(remote.fetches) <= {"/users/rosa", "/users/marc"}, \
        f"fetched {remote.fetches}: only actors were expected"
    return True


async def test_the_canonical_fiche_is_stored_with_every_field(island, remote):
    item = await receive(island, remote, CANONICAL)
    rosa = remote.actor_uri("rosa")
    assert item["kind"] == "fiche" and item["type"] == "Article" and item["state"] == "published"
    assert item["name"] == "Les Points d'Accès Public à Internet de Brest"
    assert item["summary"] == "Cent lieux de proximité pour découvrir le numérique ensemble"
    assert item["source"].startswith("Les PAPI sont nés")
    assert item["tags"] == ["Médiation numérique", "Inclusion", "Éducation populaire"]
    assert item["licence"] == "CC-BY-4.0"
    assert item["based_on"] == f"{remote.url}/fiches/origine"
    assert (item["place"], item["region"], item["latitude"], item["longitude"]) == \
        ("Brest", "Bretagne", 48.3904, -4.4861)
    fields = item["fields"]
    assert fields["pitch"].startswith("Un réseau de 105 lieux")
    assert len(fields["sections"]) == 7 and len(fields["steps"]) == 3
    assert [h["name"] for h in fields["holders"]] == ["Ville de Brest", "Michel Briand"]
    assert fields["audience"].startswith("Habitant·es") and fields["started"] == "1997-09-01"
    assert "<strong>ensemble</strong>" in item["content"] and "Ignoré" not in item["content"]
    assert item["language"] == "fr" and item["url"] == "<uri>" and item["public"]
    assert item["published"].isoformat().startswith("2024-03-01T09:00:00")
    assert item["updated"].isoformat().startswith("2024-03-02T10:30:00")
    assert item["author_uri"] == rosa and item["authors"] == [rosa, remote.actor_uri("marc")]
    assert item["private_fields"] == {}
    assert fetched_only_actors(remote)


@pytest.mark.parametrize("variant", VARIANTS)
async def test_every_compaction_stores_the_same_fiche(island, remote, variant):
    expected = await receive(island, remote, CANONICAL)
    got = await receive(island, remote, variant)
    columns = sorted(expected, key=lambda column: column != "kind")  # the kind first: it decides the rest
    differences = [f"{column}: {short(got[column])} instead of {short(expected[column])}"
                   for column in columns if got[column] != expected[column]]
    assert not differences, f"{variant} stored differently: " + "; ".join(differences)
    assert fetched_only_actors(remote)


async def test_unbundled_context_urls_are_never_fetched(island, remote):
    """One of the unknown context URLs is on the remote server: a fetch would show there."""
    await receive(island, remote, "fiche_unknown_contexts.json")
    assert "/ns/context.jsonld" not in remote.fetches
    assert fetched_only_actors(remote)


# ---- normalize, without the network ----------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access during normalize: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def offline(name: str) -> dict:
    return load(name, remote_url="https://remote.example", our_actor="https://our.example/users/alice",
                fiche="https://remote.example/fiches/papi")


def what_we_read(activity: dict) -> dict:
    """The values our handlers and items.item_columns take from a normalised Create."""
    obj = activity.get("object")
    return {
        "id": activity.get("id"), "type": activity.get("type"), "actor": id_of(activity.get("actor")),
        "object": id_of(obj),
        "object type": types_of(obj) if isinstance(obj, dict) else None,
        "name": text_value(obj, "name") if isinstance(obj, dict) else None,
        "attributedTo": id_of(obj.get("attributedTo")) if isinstance(obj, dict) else None,
        "to": ids_of(obj.get("to")) if isinstance(obj, dict) else None,
        "itemKind": obj.get("itemKind") if isinstance(obj, dict) else None,
        "license": id_of(obj.get("license")) if isinstance(obj, dict) else None,
        "coAuthors": ids_of(obj.get("coAuthors")) if isinstance(obj, dict) else None,
        "details": obj.get("details") if isinstance(obj, dict) else None,
    }


def test_the_variants_are_the_same_rdf_as_the_canonical_document(no_network):
    """Guards the test data itself: each file says the same thing (embedding only adds)."""
    def statements(document):
        options = {"documentLoader": offline_loader, "algorithm": "URDNA2015", "format": "application/n-quads"}
        return set(jsonld.normalize(copy.deepcopy(document), options).splitlines())

    reference = statements(offline(CANONICAL))
    for variant in VARIANTS:
        found = statements(offline(variant))
        if variant == "fiche_embedded.json":
            assert reference <= found, variant
        else:
            assert found == reference, variant


@pytest.mark.parametrize("variant", VARIANTS)
def test_normalize_reads_every_variant_like_the_canonical_one(no_network, variant):
    expected = what_we_read(normalize(offline(CANONICAL)))
    assert expected["itemKind"] == "fiche" and expected["details"]["fields"]["steps"]
    got = what_we_read(normalize(offline(variant)))
    differences = [f"{key}: {short(got[key])} instead of {short(expected[key])}"
                   for key in expected if got[key] != expected[key]]
    assert not differences, f"{variant} read differently: " + "; ".join(differences)


# ---- somebody else's words -------------------------------------------------------------------

def redefine(**terms):
    """The canonical context with some of our terms (or prefixes) pointing elsewhere."""
    return lambda document: [AS, {**ITEM_TERMS, **terms}]


def nested_context(document):
    """The top-level context is ours, but the object's own @context redefines `details`."""
    document["object"] = {"@context": {"details": EVIL + "details"}, **document["object"]}
    return document["object"]


NOT_A_FICHE = {
    "details elsewhere": {"@context": redefine(details=EVIL + "details")},
    "details elsewhere, still a JSON literal": {
        "@context": redefine(details={"@id": EVIL + "details", "@type": "@json"})},
    "itemKind elsewhere": {"@context": redefine(itemKind=EVIL + "kind")},
    "the archipel: prefix elsewhere": {"@context": redefine(archipel=EVIL)},
    "details redefined by the object's own @context": {"object": nested_context},
}


@pytest.mark.parametrize("case", NOT_A_FICHE)
async def test_a_redefined_term_is_not_read_as_ours(island, remote, case):
    item = await receive(island, remote, CANONICAL, **NOT_A_FICHE[case])
    assert item["kind"] == "article", f"{case}: stored as a {item['kind']}"
    assert item["fields"] == {} and item["licence"] is None
    assert item["name"] == "Les Points d'Accès Public à Internet de Brest"  # AS terms still read


LICENCE_ELSEWHERE = {
    "license elsewhere": redefine(license={"@id": EVIL + "license", "@type": "@id"}),
    "the schema: prefix elsewhere": redefine(schema="https://evil.example/schema#"),
}


@pytest.mark.parametrize("case", LICENCE_ELSEWHERE)
async def test_a_redefined_licence_is_not_read_as_ours(island, remote, case):
    """The fiche is still ours (details, itemKind) but its stated licence is not schema:license."""
    item = await receive(island, remote, CANONICAL, **{"@context": LICENCE_ELSEWHERE[case]})
    assert item["kind"] == "fiche"
    assert item["licence"] == "CC-BY-SA-4.0", f"{case}: licence {item['licence']} read from another term"
