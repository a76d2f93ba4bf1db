"""Reading normalised AS2 values whatever their shape: single or array, IRI or embedded object."""

from __future__ import annotations

from urllib.parse import urlsplit


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def id_of(value) -> str | None:
    """The IRI of a value that may be an IRI, an embedded object, or a one-element list."""
    if isinstance(value, list):
        return id_of(value[0]) if len(value) == 1 else None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        found = value.get("id")
        return found if isinstance(found, str) else None
    return None


def ids_of(value) -> list[str]:
    return [i for i in (id_of(v) for v in as_list(value)) if i]


def types_of(document) -> list[str]:
    if not isinstance(document, dict):
        return []
    return [t for t in as_list(document.get("type")) if isinstance(t, str)]


def has_type(document, *names: str) -> bool:
    return any(t in names for t in types_of(document))


def host_of(uri: str | None) -> str:
    """host[:port], lowercased: the unit of trust, blocks and deduplication."""
    if not uri:
        return ""
    try:
        return urlsplit(uri).netloc.lower()
    except ValueError:
        return ""


def same_host(a: str | None, b: str | None) -> bool:
    return bool(a) and host_of(a) == host_of(b)


def text_value(document: dict, key: str) -> str:
    """A natural-language value, from `key` or the first entry of `keyMap`."""
    found = _first_string(document.get(key))
    if found:
        return found
    mapped = document.get(key + "Map")
    if isinstance(mapped, dict):
        for text in mapped.values():
            found = _first_string(text)
            if found:
                return found
    return ""


def _first_string(value) -> str:
    """Normalised documents may hold a list where a server sent the same text twice."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return next((v for v in value if isinstance(v, str) and v), "")
    return ""
