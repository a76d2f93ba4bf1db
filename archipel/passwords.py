"""Password hashing with scrypt (a memory-hard KDF from the standard library).

Hashing costs tens of milliseconds of CPU on purpose: callers in the web process run it in a
thread (`asyncio.to_thread`), never on the event loop."""

import base64
import functools
import hashlib
import hmac
import os

_N, _R, _P = 2**14, 8, 1
MAX_PASSWORD_CHARS = 1024  # longer is refused before hashing: nobody types that, an attacker might


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=64 * 1024 * 1024)


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = _scrypt(password, salt, _N, _R, _P, 32)
    encode = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"scrypt${_N}${_R}${_P}${encode(salt)}${encode(digest)}"


@functools.cache
def dummy_hash() -> str:
    """A hash to check an unknown user's password against, so that an unknown name costs the same
    time as a known one (the answer must not tell which names exist)."""
    return hash_password(base64.b64encode(os.urandom(24)).decode())


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches `stored`; with `stored` None (an unknown user), the same work
    is done against a dummy hash and the answer is False."""
    against = stored if stored is not None else dummy_hash()
    try:
        scheme, n, r, p, salt, digest = against.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password[:MAX_PASSWORD_CHARS], base64.b64decode(salt), int(n), int(r), int(p),
                         len(expected))
    except (ValueError, TypeError):
        return False
    return stored is not None and len(password) <= MAX_PASSWORD_CHARS and hmac.compare_digest(actual, expected)
