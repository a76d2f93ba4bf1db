"""Refuse outgoing requests to private, loopback and link-local addresses.

The check lives in the resolver that the HTTP connector uses, so it applies to the address we
really connect to (a name that resolves to 127.0.0.1 is refused as surely as the literal).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver


class BlockedAddress(Exception):
    """The URL points at an address we do not fetch from; the message says which and why."""


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool) -> str:
    """Validate scheme and, for IP literals, the address. Returns the URL or raises BlockedAddress."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise BlockedAddress(f"{url!r}: only http(s) URLs are fetched")
    if parts.scheme == "http" and not allow_private:
        raise BlockedAddress(f"{url!r}: plain http is refused (allow_private_networks is off)")
    if not parts.hostname:
        raise BlockedAddress(f"{url!r}: no host")
    if not allow_private:
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            literal = None
        if literal is not None and not is_public_address(str(literal)):
            raise BlockedAddress(f"{url!r}: {literal} is a private or local address")
        if parts.hostname == "localhost" or parts.hostname.endswith(".localhost"):
            raise BlockedAddress(f"{url!r}: localhost is refused")
    return url


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then drops non-public addresses."""

    def __init__(self, allow_private: bool):
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET):
        addresses = await self._inner.resolve(host, port, family)
        if self._allow_private:
            return addresses
        public = [a for a in addresses if is_public_address(a["host"])]
        if not public:
            raise BlockedAddress(f"{host} resolves only to private or local addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()
