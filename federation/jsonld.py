"""Normalise incoming JSON-LD once, at the boundary, with bundled contexts and no network.

Most servers send plain compacted AS2 with the ActivityStreams (and security) context and a few
inline extension terms: that form is already what we read, so it takes a fast path. Anything
else (prefixed terms, other context URLs, redefined terms) is expanded and compacted again by
pyld against our canonical context. Context URLs we do not bundle are never fetched: they count
as empty, so what we understand is used and the rest is ignored.
"""

from __future__ import annotations

import copy
import json
import logging
from functools import lru_cache
from pathlib import Path

from federation.vocabulary import ARCHIPEL_NS, AS, ITEM_TERMS, PUBLIC, PUBLIC_FORMS, SECURITY

log = logging.getLogger(__name__)

_CONTEXTS = Path(__file__).parent / "contexts"
_BUNDLED_FILES = {
    AS: "activitystreams.jsonld",
    SECURITY: "security-v1.jsonld",
}
_ALIASES = {
    "http://www.w3.org/ns/activitystreams": AS,
    "https://www.w3.org/ns/activitystreams.jsonld": AS,
    "http://w3id.org/security/v1": SECURITY,
    "https://w3id.org/security/v1.jsonld": SECURITY,
}

# Terms our code reads; an inline context that redefines one of them needs the full algorithm.
_CORE_TERMS = frozenset(
    """id type actor object target to cc bto bcc audience attributedTo inReplyTo content name
    summary url published updated tag href inbox outbox followers following endpoints sharedInbox
    publicKey publicKeyPem owner preferredUsername icon image attachment mediaType contentMap
    nameMap summaryMap first next items orderedItems totalItems partOf replies source""".split()
)

_SCHEMA_TERMS_WE_READ = frozenset({"license", "isBasedOn", "spatialCoverage", "about", "educationalLevel",
                                   "timeRequired", "learningResourceType"})

CANONICAL_CONTEXT = [
    AS,
    SECURITY,
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        **ITEM_TERMS,
    },
]


@lru_cache(maxsize=None)
def _bundled(url: str) -> dict | None:
    name = _BUNDLED_FILES.get(_ALIASES.get(url, url))
    if name is None:
        return None
    return json.loads((_CONTEXTS / name).read_text("utf-8"))


def offline_loader(url: str, options=None) -> dict:
    """pyld document loader that never touches the network."""
    document = _bundled(url.rstrip("#"))
    if document is None:
        log.info("JSON-LD context %s is not bundled: its terms are ignored", url)
        document = {"@context": {}}
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
            "document": document, "tag": "static"}


_AS_NS = AS + "#"
_OUR_PREFIXES = {"schema": "http://schema.org/", "archipel": ARCHIPEL_NS}


def _definition_iri(definition) -> str:
    value = definition.get("@id", "") if isinstance(definition, dict) else definition
    return value if isinstance(value, str) else ""


def _harmless(term: str, definition) -> bool:
    """An inline term the fast path may leave alone: it cannot change what our code reads."""
    iri = _definition_iri(definition)
    for prefix in ("as:", _AS_NS):
        if iri.startswith(prefix):
            return iri[len(prefix):] == term  # `movedTo: as:movedTo` is AS itself; a rename is not
    if iri.startswith(("archipel:", ARCHIPEL_NS)):
        return False  # our vocabulary under another name
    if iri.startswith(("schema:", "http://schema.org/", "https://schema.org/")):
        name = iri.split(":", 1)[1].rsplit("/", 1)[-1].lstrip("/")
        return name not in _SCHEMA_TERMS_WE_READ
    return True


def _fast_path_ok(context, document: dict) -> bool:
    """True when the compacted document already means what our code reads.

    Our own extension terms (`details`, `license`...) count only if the sender's context defines
    them (and the prefixes they use) exactly as we do: the same word from another vocabulary is
    not ours, and our vocabulary under other words must go through the full algorithm."""
    if context is None:
        return False  # an expanded document, or one that relies on no context at all
    entries = context if isinstance(context, list) else [context]
    ours, prefixes = set(), {}
    for entry in entries:
        if isinstance(entry, str):
            if _ALIASES.get(entry, entry) not in (AS, SECURITY):
                return False
        elif isinstance(entry, dict):
            for term, definition in entry.items():
                if term in _CORE_TERMS or term.startswith("@"):
                    return False
                if term in _OUR_PREFIXES:
                    prefixes[term] = definition
                elif term in ITEM_TERMS:
                    if definition != ITEM_TERMS[term]:
                        return False
                    ours.add(term)
                elif not _harmless(term, definition):
                    return False
        else:
            return False
    used = _used_terms(document, set(ITEM_TERMS) - set(_OUR_PREFIXES))
    if not used <= ours:
        return False
    if used - {"Hashtag", "sensitive"} and any(prefixes.get(p) != iri for p, iri in _OUR_PREFIXES.items()):
        return False  # `license` means schema.org's only if `schema` does
    return not _has_nested_context_or_iri_keys(document)


def _has_nested_context_or_iri_keys(document, top: bool = True) -> bool:
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "details":
                continue
            if (key == "@context" and not top) or key in ("@id", "@type", "@value", "@graph") or \
                    key.startswith(("http://", "https://")):
                return True
            if key != "@context" and _has_nested_context_or_iri_keys(value, top=False):
                return True
    elif isinstance(document, list):
        return any(_has_nested_context_or_iri_keys(value, top=False) for value in document)
    return False


def _used_terms(document, terms: set) -> set:
    found = set()
    if isinstance(document, dict):
        for key, value in document.items():
            if key in terms:
                found.add(key)
            if key != "details":  # a JSON literal's keys are data, not terms
                found |= _used_terms(value, terms)
    elif isinstance(document, list):
        for value in document:
            found |= _used_terms(value, terms)
    return found


def _has_prefixed_keys(document) -> bool:
    if isinstance(document, dict):
        return any((":" in key and not key.startswith("http")) or _has_prefixed_keys(value)
                   for key, value in document.items() if key not in ("@context", "details"))
    if isinstance(document, list):
        return any(_has_prefixed_keys(value) for value in document)
    return False


def normalize(document: dict, *, full: bool = False) -> dict:
    """The document in our canonical compacted form (without its @context).

    full=True forces the JSON-LD algorithm (tests compare both paths)."""
    context = document.get("@context")
    if not full and _fast_path_ok(context, document) and not _has_prefixed_keys(document):
        result = _compact_arrays({k: v for k, v in document.items() if k != "@context"})
    else:
        result = _full_path(_public_iri(document))  # before expansion: a bare `Public` has no base
    return _public_iri(result)


def _full_path(document: dict) -> dict:
    # Imported here: pyld (with lxml) weighs ~10 MB more in every island, and most documents
    # never need it (the fast path above).
    from pyld import jsonld

    options = {"documentLoader": offline_loader}
    expanded = jsonld.expand(copy.deepcopy(document), options)
    compacted = jsonld.compact(expanded, {"@context": CANONICAL_CONTEXT}, options)
    compacted.pop("@context", None)
    if "@graph" in compacted and len(compacted) == 1 and len(compacted["@graph"]) == 1:
        compacted = compacted["@graph"][0]
    return compacted


_LIST_TERMS = frozenset({"orderedItems", "coAuthors"})  # declared @list: order matters, stay lists


def _compact_arrays(value, key: str | None = None):
    """One-element arrays become single values, as pyld's compaction does (compactArrays)."""
    if key == "details":
        return value  # a JSON literal: data, not JSON-LD
    if isinstance(value, dict):
        return {k: _compact_arrays(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_compact_arrays(v) for v in value]
        return items[0] if len(items) == 1 and key not in _LIST_TERMS else items
    return value


_ADDRESSING = frozenset({"to", "cc", "bto", "bcc", "audience"})


def _public_iri(value, key: str | None = None):
    """Every spelling of the public collection in addressing properties becomes the full IRI
    (only there: a fiche may well be titled "Public")."""
    if isinstance(value, dict):
        return {k: v if k == "details" else _public_iri(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_public_iri(v, key) for v in value]
    if key in _ADDRESSING and isinstance(value, str) and value in PUBLIC_FORMS:
        return PUBLIC
    return value
