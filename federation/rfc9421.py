"""RFC 9421 HTTP Message Signatures, with RFC 9530 Content-Digest.

Mastodon >= 4.7 retries a delivery refused with 401 using this scheme, and
Fedify-based servers may sign with it first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from .httpsig import http_date
from .signed_request import (
    SignatureError,
    SignedRequest,
    authority,
    check_expires,
    check_time_window,
    combined_header,
    digests_equal,
    load_signing_key,
    path_and_query,
    sign_message,
    utc_now,
)

LABEL = "sig1"
_ALGORITHMS = {"rsa-v1_5-sha256", "rsa-pss-sha512", "ed25519"}
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_BODY_METHODS = {"POST", "PUT", "PATCH"}


# --- signing ------------------------------------------------------------------------


def content_digest_header(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def sign_rfc9421(
    method: str,
    url: str,
    key_id: str,
    private_key: Any,
    body: bytes | None = None,
    content_type: str | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """Headers for a request signed like Fedify does (plus content-type)."""
    key = load_signing_key(private_key)
    now = utc_now(now)
    headers = {"Host": authority(url), "Date": http_date(now)}
    # Fedify's default coverage; host and date keep interop.md's rule visible.
    components = ["@method", "@target-uri", "@authority", "host", "date"]
    if body is not None:
        headers["Content-Digest"] = content_digest_header(body)
        components.append("content-digest")
        if content_type:
            headers["Content-Type"] = content_type
            components.append("content-type")

    alg = "rsa-v1_5-sha256" if isinstance(key, rsa.RSAPrivateKey) else "ed25519"
    params = (
        "(" + " ".join(f'"{c}"' for c in components) + ")"
        f";created={int(now.timestamp())};keyid={_sf_string(key_id)};alg=\"{alg}\""
    )
    base = signature_base(method, url, headers, components, params)
    signature = base64.b64encode(sign_message(key, base.encode("utf-8"))).decode("ascii")
    headers["Signature-Input"] = f"{LABEL}={params}"
    headers["Signature"] = f"{LABEL}=:{signature}:"
    return headers


def _sf_string(text: str) -> str:
    if any(not 0x20 <= ord(c) <= 0x7E for c in text):
        raise ValueError(f"not a structured-field string: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- parsing ------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureInput:
    label: str
    components: tuple[str, ...]
    params: dict[str, Any]
    raw: str  # the member value exactly as sent: it is what "@signature-params" signs


def parse_rfc9421(
    method: str,
    target_uri: str,
    headers: Mapping[str, str],
    body: bytes | None,
    now: datetime | None = None,
) -> SignedRequest:
    """Check everything but the key itself; raise SignatureError when refused.

    `target_uri` is scheme://host/path?query as the sender addressed it.
    """
    now = utc_now(now)
    has_body = bool(body) or method.upper() in _BODY_METHODS
    inputs = signature_inputs(headers)
    signatures = _signature_values(headers)
    # Several signatures may be present: take the first one we can accept.
    usable = [i for i in inputs if i.label in signatures and not _coverage_gap(i, has_body)]
    chosen = usable[0] if usable else inputs[0]
    if chosen.label not in signatures:
        raise SignatureError(f"Signature header has no value for label {chosen.label!r}")

    key_id = chosen.params.get("keyid")
    if not isinstance(key_id, str) or not key_id:
        raise SignatureError("Signature-Input has no keyid parameter")
    alg = chosen.params.get("alg")
    if alg is not None and alg not in _ALGORITHMS:
        raise SignatureError(f"Unsupported signature algorithm {alg!r}")
    gap = _coverage_gap(chosen, has_body)
    if gap:
        raise SignatureError(gap)
    created = _epoch(chosen.params, "created")
    check_time_window(created, now, "Signature created time")
    if "expires" in chosen.params:
        check_expires(_epoch(chosen.params, "expires"), now)
    _check_content_digest(headers, body or b"")

    base = signature_base(method, target_uri, headers, chosen.components, chosen.raw)
    return SignedRequest(
        key_id=key_id,
        scheme="rfc9421",
        covered=chosen.components,
        algorithm=alg,
        signature=signatures[chosen.label],
        signing_strings=(base.encode("utf-8"),),
        created=created,
    )


def signature_inputs(headers: Mapping[str, str]) -> list[SignatureInput]:
    """Every signature announced in Signature-Input, in order."""
    value = combined_header(headers, "Signature-Input")
    if not value:
        raise SignatureError("Request is not signed (no Signature-Input header)")
    try:
        members = _Parser(value).dictionary()
    except ValueError as exc:
        raise SignatureError(f"Malformed Signature-Input header: {exc}") from None
    inputs = []
    for label, (item, params, raw) in members.items():
        if not isinstance(item, list):
            raise SignatureError(f"Malformed Signature-Input header: {label} is not a list")
        components = []
        for component, component_params in item:
            if not isinstance(component, str):
                raise SignatureError("Malformed Signature-Input header: components must be strings")
            if component_params:
                # ;sf ;key ;bs ;req ;name change the value's form: nobody in AP uses them.
                raise SignatureError(f"Unsupported component parameters on {component!r}")
            if component in components:
                raise SignatureError(f"Malformed Signature-Input header: {component!r} twice")
            components.append(component)
        inputs.append(SignatureInput(label, tuple(components), params, raw))
    if not inputs:
        raise SignatureError("Malformed Signature-Input header: no signature")
    return inputs


def _signature_values(headers: Mapping[str, str]) -> dict[str, bytes]:
    value = combined_header(headers, "Signature")
    if not value:
        raise SignatureError("Signature-Input without a Signature header")
    try:
        members = _Parser(value).dictionary()
    except ValueError as exc:
        raise SignatureError(f"Malformed Signature header: {exc}") from None
    return {label: item for label, (item, _, _) in members.items() if isinstance(item, bytes)}


def _coverage_gap(signature: SignatureInput, has_body: bool) -> str | None:
    covered = signature.components
    missing = []
    if "@method" not in covered:
        missing.append("@method")
    if "@target-uri" not in covered and not {"@authority", "@path"} <= set(covered):
        missing.append("@target-uri")
    if has_body and "content-digest" not in covered:
        missing.append("content-digest")
    if missing:
        return f"Signature does not cover {', '.join(missing)}"
    if "created" not in signature.params:
        return "Signature-Input has no created parameter"
    return None


def _epoch(params: dict[str, Any], name: str) -> datetime:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SignatureError(f"Signature parameter {name} is not a Unix time: {value!r}")
    return datetime.fromtimestamp(value, UTC)


def _check_content_digest(headers: Mapping[str, str], body: bytes) -> None:
    """When a Content-Digest is sent it must match the body, signed or not."""
    value = combined_header(headers, "Content-Digest")
    if value is None:
        return
    try:
        members = _Parser(value).dictionary()
    except ValueError as exc:
        raise SignatureError(f"Malformed Content-Digest header: {exc}") from None
    checked = False
    for name, (given, _, _) in members.items():
        hash_function = _DIGESTS.get(name)
        if hash_function is None:
            continue
        if not isinstance(given, bytes):
            raise SignatureError(f"Content-Digest {name} is not a byte sequence")
        if not digests_equal(hash_function(body).digest(), given):
            raise SignatureError("Content-Digest does not match the body")
        checked = True
    if not checked:
        raise SignatureError(f"Content-Digest has no sha-256 or sha-512 value: {value!r}")


# --- signature base (RFC 9421 §2.5) -------------------------------------------------


def signature_base(
    method: str,
    target_uri: str,
    headers: Mapping[str, str],
    components: Sequence[str],
    signature_params: str,
) -> str:
    """One `"name": value` line per component, then the `"@signature-params"` line."""
    lines = []
    for name in components:
        if name.startswith("@"):
            value = _derived(name, method, target_uri)
        else:
            if name != name.lower():
                raise SignatureError(f"Component {name!r} must be lowercase")
            value = combined_header(headers, name)
            if value is None:
                raise SignatureError(f"Signed header {name!r} is missing from the request")
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {signature_params}')
    return "\n".join(lines)


def _derived(name: str, method: str, target_uri: str) -> str:
    parts = urlsplit(target_uri)
    if name == "@method":
        return method.upper()
    if name == "@target-uri":
        return target_uri
    if name == "@authority":
        return authority(target_uri)
    if name == "@scheme":
        return parts.scheme.lower()
    if name == "@request-target":
        return path_and_query(target_uri)
    if name == "@path":
        return parts.path or "/"
    if name == "@query":
        return "?" + parts.query
    raise SignatureError(f"Unsupported derived component {name!r}")


# --- RFC 8941 structured fields: just what signatures and digests need ---------------

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")


class _Parser:
    """Parses a Dictionary; each member is (value, params, raw member text)."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def dictionary(self) -> dict[str, tuple[Any, dict[str, Any], str]]:
        members: dict[str, tuple[Any, dict[str, Any], str]] = {}
        self._skip(" ")
        while self.pos < len(self.text):
            key = self._key()
            start = self.pos + 1
            if self._peek() == "=":
                self.pos += 1
                value = self._inner_list() if self._peek() == "(" else self._bare_item()
            else:
                value, start = True, self.pos
            params = self._params()
            members[key] = (value, params, self.text[start:self.pos])
            self._skip(" \t")
            if self.pos == len(self.text):
                break
            self._expect(",")
            self._skip(" \t")
            if self.pos == len(self.text):
                raise ValueError("trailing comma")
        return members

    def _inner_list(self) -> list[tuple[Any, dict[str, Any]]]:
        self._expect("(")
        items = []
        while True:
            self._skip(" ")
            if self._peek() == ")":
                self.pos += 1
                return items
            items.append((self._bare_item(), self._params()))
            if self._peek() not in (" ", ")"):
                raise ValueError(f"unexpected {self._peek()!r} in inner list")

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        while self._peek() == ";":
            self.pos += 1
            self._skip(" ")
            key = self._key()
            value: Any = True
            if self._peek() == "=":
                self.pos += 1
                value = self._bare_item()
            params[key] = value
        return params

    def _bare_item(self) -> Any:
        char = self._peek()
        if char == '"':
            return self._string()
        if char == ":":
            return self._bytes()
        if char == "?":
            self.pos += 2
            flag = self.text[self.pos - 1 : self.pos]
            if flag not in ("0", "1"):
                raise ValueError("bad boolean")
            return flag == "1"
        match = _NUMBER.match(self.text, self.pos) or _TOKEN.match(self.text, self.pos)
        if not match:
            raise ValueError(f"unexpected {char!r} at {self.pos}")
        self.pos = match.end()
        text = match.group(0)
        if text[0] in "-0123456789":
            return float(text) if "." in text else int(text)
        return text  # a token; callers only compare it

    def _string(self) -> str:
        chars = []
        self.pos += 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == '"':
                return "".join(chars)
            if char == "\\":
                char = self.text[self.pos : self.pos + 1]
                if char not in ('"', "\\"):
                    raise ValueError("bad escape in string")
                self.pos += 1
            elif not 0x20 <= ord(char) <= 0x7E:
                raise ValueError("non-printable character in string")
            chars.append(char)
        raise ValueError("unterminated string")

    def _bytes(self) -> bytes:
        self.pos += 1
        match = _BASE64.match(self.text, self.pos)
        end = match.end() if match else self.pos
        if self.text[end : end + 1] != ":":
            raise ValueError("unterminated byte sequence")
        self.pos = end + 1
        try:
            return base64.b64decode(self.text[match.start() : end], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("byte sequence is not base64") from None

    def _key(self) -> str:
        match = _KEY.match(self.text, self.pos)
        if not match:
            raise ValueError(f"expected a key at {self.pos}")
        self.pos = match.end()
        return match.group(0)

    def _peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def _skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise ValueError(f"expected {char!r} at {self.pos}")
        self.pos += 1
