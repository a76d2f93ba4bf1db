"""What both signature schemes produce: a parsed request ready to verify.

Kept apart from `signatures.py` so the scheme modules can import it without
an import cycle (`signatures.py` imports the schemes to dispatch).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from .keys import InvalidKey, PublicKey, load_private_key, load_public_key

# Mastodon's window: a Date up to 12 h old and 1 h ahead (clock skew).
MAX_AGE = timedelta(hours=12)
MAX_FUTURE = timedelta(hours=1)

# Algorithm labels that mean RSASSA-PKCS1-v1_5 with SHA-256 on an RSA key.
# hs2019 "derives the algorithm from the key": everyone uses PKCS#1 v1.5 for RSA.
_RSA_PKCS1_SHA256 = {None, "rsa-sha256", "hs2019", "rsa-v1_5-sha256"}
_ED25519 = {None, "hs2019", "ed25519"}


class SignatureError(Exception):
    """A request whose signature cannot be accepted; `reason` is fit for a log line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedRequest:
    key_id: str
    scheme: str  # "cavage" or "rfc9421"
    covered: tuple[str, ...]
    algorithm: str | None  # as announced by the sender; None: infer from the key
    signature: bytes = field(repr=False)
    # Candidate signed messages; cavage has two when the URL has a query string,
    # because older Mastodon versions signed (request-target) without it.
    signing_strings: tuple[bytes, ...] = field(repr=False)
    created: datetime | None = None

    def verify(self, public_key: PublicKey | str) -> bool:
        """True when the signature matches; never raises for a bad signature or key."""
        if isinstance(public_key, str):
            try:
                public_key = load_public_key(public_key)
            except InvalidKey:
                return False
        return any(
            _verify_one(public_key, self.algorithm, self.signature, message)
            for message in self.signing_strings
        )


def _verify_one(key: Any, algorithm: str | None, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if algorithm == "rsa-pss-sha512":
                pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
                key.verify(signature, message, pss, hashes.SHA512())
            elif algorithm in _RSA_PKCS1_SHA256:
                key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            else:
                return False
        elif isinstance(key, ed25519.Ed25519PublicKey) and algorithm in _ED25519:
            key.verify(signature, message)
        else:
            return False  # key type and announced algorithm disagree
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# --- helpers shared by both schemes -------------------------------------------------


def utc_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def check_time_window(moment: datetime, now: datetime, what: str) -> None:
    if now - moment > MAX_AGE:
        raise SignatureError(f"{what} is more than 12 hours old")
    if moment - now > MAX_FUTURE:
        raise SignatureError(f"{what} is more than 1 hour in the future")


def check_expires(expires: datetime, now: datetime) -> None:
    # Same clock-skew allowance as for the creation time.
    if now - expires > MAX_FUTURE:
        raise SignatureError("Signature has expired")


def header_values(headers: Any, name: str) -> list[str]:
    """Every value of a header field (case-insensitive), in order; [] when absent."""
    getall = getattr(headers, "getall", None)
    if getall is not None:  # multidict (aiohttp)
        return [str(v) for v in getall(name, [])]
    value = headers.get(name)
    if value is None:  # a plain dict: fall back to a case-insensitive scan
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def combined_header(headers: Any, name: str) -> str | None:
    """Field lines trimmed and joined by ", " (both specs' rule); None when absent."""
    values = header_values(headers, name)
    if not values:
        return None
    return ", ".join(v.strip() for v in values)


def authority(url: str) -> str:
    """host[:port] of a URL, lowercase, without a default port."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"URL has no host: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return host if port is None or port == default else f"{host}:{port}"


def path_and_query(url: str) -> str:
    """The origin-form request target: path (never empty) and ?query when present."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def digests_equal(expected: bytes, given: bytes) -> bool:
    return hmac.compare_digest(expected, given)


def load_signing_key(private_key: Any) -> Any:
    """Accept a key object or its PEM (cached), as callers hold either."""
    if isinstance(private_key, str):
        return load_private_key(private_key)
    if not isinstance(private_key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise TypeError(f"cannot sign with a {type(private_key).__name__}")
    return private_key


def sign_message(private_key: Any, message: bytes) -> bytes:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return private_key.sign(message)  # Ed25519
