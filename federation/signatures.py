"""The one entry point the HTTP layer uses for HTTP signatures, both schemes.

Typical inbox use:

    signed = parse_signed_request(request.method, target_uri, request.headers, body)
    # ...fetch (or take from cache) the key named by signed.key_id...
    if not signed.verify(public_key_pem):
        return 401
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .httpsig import parse_cavage, sign_cavage
from .rfc9421 import parse_rfc9421, sign_rfc9421
from .signed_request import SignatureError, SignedRequest, header_values, path_and_query

__all__ = ["SignatureError", "SignedRequest", "parse_signed_request", "sign_request"]

SCHEMES = ("cavage", "rfc9421")


def parse_signed_request(
    method: str,
    target_uri: str,
    headers: Mapping[str, str],
    body: bytes | None,
    now: datetime | None = None,
) -> SignedRequest:
    """Parse and check a signed request; raise SignatureError (answer 401) when refused.

    `target_uri` is the URL the sender addressed (scheme://host/raw-path?query),
    rebuilt by the web layer, possibly from proxy headers. `body` is the exact
    bytes received. The signature itself is checked later by `.verify(key)`,
    once the caller has the key named by `.key_id`.
    """
    if header_values(headers, "Signature-Input"):
        return parse_rfc9421(method, target_uri, headers, body, now)
    return parse_cavage(method, path_and_query(target_uri), headers, body, now)


def sign_request(
    method: str,
    url: str,
    key_id: str,
    private_key: Any,
    body: bytes | None = None,
    content_type: str | None = None,
    scheme: str = "cavage",
    now: datetime | None = None,
) -> dict[str, str]:
    """Headers to send with the request (Host, Date, digest, signature...).

    `private_key` is a key object or its PEM. Sign at send time, never ahead.
    """
    if scheme == "cavage":
        return sign_cavage(method, url, key_id, private_key, body, content_type, now)
    if scheme == "rfc9421":
        return sign_rfc9421(method, url, key_id, private_key, body, content_type, now)
    raise ValueError(f"unknown signature scheme {scheme!r}, expected one of {SCHEMES}")
