"""Actor key pairs: generation, PEM serialisation and cached PEM loading."""

from __future__ import annotations

import functools

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

# Remote actors' keys are parsed on every delivery/inbox hit; keep a bounded cache.
_CACHE_SIZE = 1024


class InvalidKey(ValueError):
    """A PEM that is not a usable RSA or Ed25519 key."""


def generate_private_key() -> rsa.RSAPrivateKey:
    """A fresh RSA 2048 key, the size every fediverse server accepts."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh key, as an actor keeps them."""
    key = generate_private_key()
    return private_key_pem(key), public_key_pem(key)


def private_key_pem(key: PrivateKey) -> str:
    """PKCS#8 PEM, unencrypted (the database is the secret store)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_key_pem(key: PrivateKey | PublicKey) -> str:
    """SPKI PEM ("BEGIN PUBLIC KEY"), the form `publicKeyPem` must use."""
    if isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        key = key.public_key()
    return key.public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode("ascii")


@functools.lru_cache(maxsize=_CACHE_SIZE)
def load_private_key(pem: str) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.strip().encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise InvalidKey(f"not a PEM private key: {exc}") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise InvalidKey(f"unsupported private key type {type(key).__name__}")
    return key


@functools.lru_cache(maxsize=_CACHE_SIZE)
def load_public_key(pem: str) -> PublicKey:
    """Parse a remote actor's `publicKeyPem` (SPKI, or PKCS#1 "RSA PUBLIC KEY")."""
    if not isinstance(pem, str) or "-----BEGIN" not in pem:
        raise InvalidKey("publicKeyPem is not a PEM document")
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise InvalidKey(f"publicKeyPem could not be parsed: {exc}") from None
    if not isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        raise InvalidKey(
            f"publicKeyPem holds a {type(key).__name__}, only RSA and Ed25519 are supported"
        )
    return key
