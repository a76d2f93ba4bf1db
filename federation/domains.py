"""Which servers this island federates with: a block list, and optionally an allow list.

A domain covers its subdomains ('example.org' blocks 'social.example.org'); an entry with a
port ('127.0.0.1:8002') names exactly that host and port.
"""

from __future__ import annotations

from dataclasses import dataclass


def _normalise(entry: str) -> str:
    return entry.strip().lower().rstrip(".")


@dataclass(frozen=True)
class DomainPolicy:
    blocked: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()  # empty: every domain not blocked

    @classmethod
    def from_settings(cls, blocked, allowed) -> DomainPolicy:
        return cls(tuple(_normalise(d) for d in blocked if d.strip()),
                   tuple(_normalise(d) for d in allowed if d.strip()))

    @staticmethod
    def _matches(host: str, entries: tuple[str, ...]) -> bool:
        host = _normalise(host)
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        for entry in entries:
            if ":" in entry and entry.count(":") == 1:
                if host == entry:
                    return True
            elif name == entry or name.endswith("." + entry):
                return True
        return False

    def allows(self, host: str) -> bool:
        if not host:
            return False
        if self._matches(host, self.blocked):
            return False
        return not self.allowed or self._matches(host, self.allowed)
