"""Refuse outgoing requests to private, loopback and link-local addresses.

Two checks, both needed. `check_url` runs before every connection (the first URL and each
redirect target): scheme, a host spelled plainly (no userinfo, no trailing dot, ASCII only), and
an address literal in any of the spellings a resolver accepts (`2130706433`, `0x7f.1`, `127.1`,
`[::ffff:7f00:1]` ...). The resolver of the HTTP connector (`GuardedResolver`) is the last line:
it applies to the address we really connect to, so a name that resolves to 127.0.0.1 is refused
as surely as the literal.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver
from yarl import URL


class FetchError(Exception):
    """A remote document could not be had, or we refused to ask for it; `status` is the HTTP
    status when there was one. The one error callers catch for a refused or failed fetch."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Refused(FetchError):
    """We refused it ourselves (an address, a domain, a size limit): asking again gets the same
    answer, unlike a network failure or a status of the other server."""


class BlockedAddress(Refused):
    """The URL points at an address or a server we do not talk to; the message says which and why."""


# A host name as servers write it: ASCII labels (punycode for the others), no empty label.
HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$")
# Could be an IPv4 address as inet_aton reads it (decimal, hex 0x.., octal 0.. parts): then ask it.
IPV4_LIKE = re.compile(r"^[0-9a-fx.]+$")
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo client, NAT64), if any."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if any(ip in network for network in NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local
                                 or ip.is_unspecified or ip.is_reserved)


def is_public_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not _is_public(embedded):
            return False
        if any(ip in network for network in NAT64):
            return True  # "reserved" as a prefix, but it carries a public IPv4 host (DNS64 networks)
    return _is_public(ip)


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host literal names, in any spelling a resolver would accept, or None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    if IPV4_LIKE.match(host.lower()):
        try:  # 2130706433, 0x7f.1, 017700000001, 127.1: what getaddrinfo reads as 127.0.0.1
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_url(url: str, *, allow_private: bool) -> str:
    """Validate scheme, host spelling and, for address literals, the address.
    Returns the URL or raises BlockedAddress."""
    try:
        parts = urlsplit(url)
        parsed = URL(url)  # the parser the HTTP library connects with: both must agree
    except ValueError:
        raise BlockedAddress(f"{url!r}: not a valid URL") from None
    if parts.scheme not in ("https", "http"):
        raise BlockedAddress(f"{url!r}: only http(s) URLs are fetched")
    if parts.scheme == "http" and not allow_private:
        raise BlockedAddress(f"{url!r}: plain http is refused (allow_private_networks is off)")
    if not parts.hostname or not parsed.host:
        raise BlockedAddress(f"{url!r}: no host")
    if "@" in parts.netloc or parsed.user is not None or parsed.password is not None:
        raise BlockedAddress(f"{url!r}: user names in URLs are refused")
    hostname = parts.hostname.lower()
    address = literal_address(hostname)
    if address is None:
        if not HOST_NAME.match(hostname) or (parsed.raw_host or "").lower() != hostname:
            raise BlockedAddress(f"{url!r}: the host is not spelled as a plain ASCII name")
    elif address.version == 4 and hostname != str(address):
        # 2130706433, 0x7f.1, 127.1: the same address as the policy's lists would not name it.
        raise BlockedAddress(f"{url!r}: an IPv4 address must be written as four decimal numbers")
    if allow_private:
        return url
    if address is not None and not is_public_address(str(address)):
        raise BlockedAddress(f"{url!r}: {address} is a private or local address")
    if hostname == "localhost" or hostname.endswith(".localhost"):
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
