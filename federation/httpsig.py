"""draft-cavage-http-signatures-12, the scheme Mastodon and GoToSocial speak.

Signing follows Mastodon (rsa-sha256, `(request-target) host date digest
content-type`); parsing accepts what the fediverse sends and refuses what
Mastodon refuses (see /work/shared/interop.md, "HTTP Signatures").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from .signed_request import (
    SignatureError,
    SignedRequest,
    authority,
    check_expires,
    check_time_window,
    combined_header,
    digests_equal,
    load_signing_key,
    sign_message,
    utc_now,
)
from .signed_request import path_and_query as target_of_url  # parse_cavage's argument name

_ALGORITHMS = {"rsa-sha256", "hs2019"}
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_BODY_METHODS = {"POST", "PUT", "PATCH"}

_PARAM_NAME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*")
_BARE_VALUE = re.compile(r'[^,\s"]+')
_NUMBER = re.compile(r"\d+(\.\d+)?")


# --- signing ------------------------------------------------------------------------


def digest_header(body: bytes) -> str:
    """RFC 3230 `Digest` of the exact body bytes."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def http_date(moment: datetime) -> str:
    """IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def sign_cavage(
    method: str,
    url: str,
    key_id: str,
    private_key: Any,
    body: bytes | None = None,
    content_type: str | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """Headers to add to a request so that Mastodon and GoToSocial accept it.

    Call it for every delivery attempt: the Date it signs goes stale.
    """
    if '"' in key_id or "\\" in key_id:
        raise ValueError(f"keyId cannot be quoted: {key_id!r}")
    key = load_signing_key(private_key)
    headers = {"Host": authority(url), "Date": http_date(utc_now(now))}
    covered = ["(request-target)", "host", "date"]
    if body is not None:
        headers["Digest"] = digest_header(body)
        covered.append("digest")
        if content_type:
            headers["Content-Type"] = content_type
            covered.append("content-type")

    by_name = {name.lower(): value for name, value in headers.items()}
    by_name["(request-target)"] = f"{method.lower()} {target_of_url(url)}"
    message = "\n".join(f"{name}: {by_name[name]}" for name in covered)
    signature = base64.b64encode(sign_message(key, message.encode("utf-8"))).decode("ascii")
    # hs2019 tells the verifier to take the algorithm from the key (Ed25519 here).
    algorithm = "rsa-sha256" if isinstance(key, rsa.RSAPrivateKey) else "hs2019"
    headers["Signature"] = (
        f'keyId="{key_id}",algorithm="{algorithm}",'
        f'headers="{" ".join(covered)}",signature="{signature}"'
    )
    return headers


# --- parsing ------------------------------------------------------------------------


def parse_cavage(
    method: str,
    path_and_query: str,
    headers: Mapping[str, str],
    body: bytes | None,
    now: datetime | None = None,
) -> SignedRequest:
    """Check everything but the key itself; raise SignatureError when refused.

    `path_and_query` is the request target as received (raw, still percent-encoded).
    """
    now = utc_now(now)
    params = parse_signature_params(_signature_field(headers))
    key_id = params.get("keyid")
    if not key_id:
        raise SignatureError("Signature header has no keyId")
    if not params.get("signature"):
        raise SignatureError("Signature header has no signature value")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in _ALGORITHMS:
        raise SignatureError(f"Unsupported signature algorithm {algorithm!r}")

    covered = _covered(params, algorithm)
    has_body = bool(body) or method.upper() in _BODY_METHODS
    _check_coverage(covered, has_body)
    messages = _signing_strings(method, path_and_query, headers, covered, params)
    created = _check_times(headers, covered, params, now)
    _check_digest(headers, body or b"")
    return SignedRequest(
        key_id=key_id,
        scheme="cavage",
        covered=covered,
        algorithm=algorithm,
        signature=_decode_signature(params["signature"]),
        signing_strings=messages,
        created=created,
    )


def parse_signature_params(value: str) -> dict[str, str]:
    """`name="quoted, may hold commas",name=token,...`: names lowercased.

    Unknown parameters are kept (and ignored by callers); duplicates are refused.
    """
    params: dict[str, str] = {}
    pos, end = 0, len(value)
    while True:
        match = _PARAM_NAME.match(value, pos)
        if not match:
            raise SignatureError(f"Malformed Signature header near {value[pos:pos + 20]!r}")
        name, pos = match.group(1).lower(), match.end()
        if pos < end and value[pos] == '"':
            text, pos = _quoted_string(value, pos)
        else:
            bare = _BARE_VALUE.match(value, pos)
            if not bare:
                raise SignatureError(f"Malformed Signature header: no value for {name}")
            text, pos = bare.group(0), bare.end()
        if name in params:
            raise SignatureError(f"Malformed Signature header: {name} given twice")
        params[name] = text
        while pos < end and value[pos] in " \t":
            pos += 1
        if pos == end:
            return params
        if value[pos] != ",":
            raise SignatureError(f"Malformed Signature header near {value[pos:pos + 20]!r}")
        pos += 1
        if not value[pos:].strip():
            return params  # tolerate a trailing comma


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPE = re.compile(r"\\(.)")


def _quoted_string(value: str, pos: int) -> tuple[str, int]:
    """A quoted-string at `pos` (one regex match: signature values are long base64 strings)."""
    match = _QUOTED.match(value, pos)
    if not match:
        raise SignatureError("Malformed Signature header: unterminated quoted string")
    text = match.group(1)
    return (_ESCAPE.sub(r"\1", text) if "\\" in text else text), match.end()


def _signature_field(headers: Mapping[str, str]) -> str:
    value = combined_header(headers, "Signature")
    if value:
        return value
    auth = combined_header(headers, "Authorization") or ""
    scheme, _, rest = auth.partition(" ")
    if scheme.lower() == "signature" and rest.strip():
        return rest.strip()
    raise SignatureError("Request is not signed (no Signature header)")


def _covered(params: dict[str, str], algorithm: str) -> tuple[str, ...]:
    # The draft's default when headers= is absent: "(created)" for hs2019
    # (draft 12, as Mastodon reads it), "date" for the older rsa-sha256.
    default = "date" if algorithm == "rsa-sha256" else "(created)"
    covered = tuple(params.get("headers", default).lower().split())
    if not covered:
        raise SignatureError("Malformed Signature header: empty headers list")
    return covered


def _check_coverage(covered: tuple[str, ...], has_body: bool) -> None:
    missing = [name for name in ("(request-target)", "host") if name not in covered]
    if "date" not in covered and "(created)" not in covered:
        missing.append("date")
    if has_body and "digest" not in covered:
        missing.append("digest")
    if missing:
        raise SignatureError(f"Signature does not cover {', '.join(missing)}")


def _signing_strings(
    method: str,
    target: str,
    headers: Mapping[str, str],
    covered: tuple[str, ...],
    params: dict[str, str],
) -> tuple[bytes, ...]:
    targets = [target]
    if "?" in target:
        # Older Mastodon versions sign the path without the query: accept both.
        targets.append(target.split("?", 1)[0])
    return tuple(
        signing_string(method, t, headers, covered, params).encode("utf-8") for t in targets
    )


def signing_string(
    method: str,
    target: str,
    headers: Mapping[str, str],
    covered: tuple[str, ...] | list[str],
    params: Mapping[str, str] | None = None,
) -> str:
    """The message a draft-cavage signature covers, one `name: value` line per entry."""
    params = params or {}
    lines = []
    for name in covered:
        if name == "(request-target)":
            value = f"{method.lower()} {target}"
        elif name in ("(created)", "(expires)"):
            value = params.get(name[1:-1])
            if value is None:
                raise SignatureError(f"Signature covers {name} but has no {name[1:-1]} parameter")
        else:
            value = combined_header(headers, name)
            if value is None:
                raise SignatureError(f"Signed header {name!r} is missing from the request")
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def _check_times(
    headers: Mapping[str, str],
    covered: tuple[str, ...],
    params: dict[str, str],
    now: datetime,
) -> datetime | None:
    created = None
    if "(created)" in covered:
        if params.get("algorithm", "hs2019").lower().startswith("rsa"):
            # The draft forbids (created) with rsa-*; Mastodon refuses it too.
            raise SignatureError("(created) cannot be signed with algorithm rsa-sha256")
        created = _epoch(params, "created")
        check_time_window(created, now, "Signature created time")
    if "date" in covered:
        date = _http_date(combined_header(headers, "date") or "")
        check_time_window(date, now, "Date")
        created = created or date
    if "expires" in params:
        check_expires(_epoch(params, "expires"), now)
    return created


def _epoch(params: dict[str, str], name: str) -> datetime:
    value = params.get(name, "")
    if not _NUMBER.fullmatch(value):
        raise SignatureError(f"Signature parameter {name} is not a Unix time: {value!r}")
    return datetime.fromtimestamp(float(value), UTC)


def _http_date(value: str) -> datetime:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        raise SignatureError(f"Date header is not an HTTP date: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_digest(headers: Mapping[str, str], body: bytes) -> None:
    """When a Digest is sent it must match the body, signed or not."""
    value = combined_header(headers, "digest")
    if value is None:
        return
    checked = False
    for entry in value.split(","):
        name, _, encoded = entry.strip().partition("=")
        hash_function = _DIGESTS.get(name.strip().lower())
        if hash_function is None:
            continue  # e.g. MD5 offered alongside SHA-256
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError(f"Digest {name} value is not base64") from None
        if not digests_equal(hash_function(body).digest(), given):
            raise SignatureError("Digest does not match the body")
        checked = True
    if not checked:
        raise SignatureError(f"Digest has no SHA-256 or SHA-512 value: {value!r}")


def _decode_signature(value: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("Malformed Signature header: signature is not base64") from None
