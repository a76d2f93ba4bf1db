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

from pyld import jsonld

from federation.vocabulary import AS, PUBLIC, PUBLIC_FORMS, SECURITY

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

CANONICAL_CONTEXT = [
    AS,
    SECURITY,
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "sensitive": "as:sensitive",
        "Hashtag": "as:Hashtag",
        "toot": "http://joinmastodon.org/ns#",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        "schema": "http://schema.org/",
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


def _fast_path_ok(context) -> bool:
    entries = context if isinstance(context, list) else [context]
    for entry in entries:
        if isinstance(entry, str):
            if _ALIASES.get(entry, entry) not in (AS, SECURITY):
                return False
        elif isinstance(entry, dict):
            if any(term in _CORE_TERMS or term.startswith("@") for term in entry):
                return False
        else:
            return False
    return True


def _has_prefixed_keys(document) -> bool:
    if isinstance(document, dict):
        return any((":" in key and not key.startswith("http")) or _has_prefixed_keys(value)
                   for key, value in document.items() if key != "@context")
    if isinstance(document, list):
        return any(_has_prefixed_keys(value) for value in document)
    return False


def normalize(document: dict, *, full: bool = False) -> dict:
    """The document in our canonical compacted form (without its @context).

    full=True forces the JSON-LD algorithm (tests compare both paths)."""
    context = document.get("@context", AS)
    if not full and _fast_path_ok(context) and not _has_prefixed_keys(document):
        result = {k: v for k, v in document.items() if k != "@context"}
    else:
        result = _full_path(document)
    return _public_iri(result)


def _full_path(document: dict) -> dict:
    options = {"documentLoader": offline_loader}
    expanded = jsonld.expand(copy.deepcopy(document), options)
    compacted = jsonld.compact(expanded, {"@context": CANONICAL_CONTEXT}, options)
    compacted.pop("@context", None)
    if "@graph" in compacted and len(compacted) == 1 and len(compacted["@graph"]) == 1:
        compacted = compacted["@graph"][0]
    return compacted


def _public_iri(value):
    """Every spelling of the public collection becomes the full IRI."""
    if isinstance(value, dict):
        return {k: _public_iri(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_public_iri(v) for v in value]
    if isinstance(value, str) and value in PUBLIC_FORMS:
        return PUBLIC
    return value
