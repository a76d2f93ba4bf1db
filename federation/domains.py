"""Which servers and accounts this island federates with: the block and allow lists of the
settings, combined with the blocks and silences moderators decide (archipel/blocks.py).

A domain covers its subdomains ('example.org' blocks 'social.example.org'); an entry with a
port ('127.0.0.1:8002') names exactly that host and port.

The policy is an immutable value held in memory by the FederationClient and consulted on the
hot inbox path without touching the database; a moderation change builds a new one and swaps it
in (`refresh`), so a block takes effect at once, without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from archipel import blocks
from archipel.blocks import normalise_domain
from federation.as2 import host_of


@dataclass(frozen=True)
class DomainPolicy:
    blocked: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()  # empty: every domain not blocked
    blocked_accounts: frozenset[str] = frozenset()
    silenced: tuple[tuple[str, datetime], ...] = ()  # (domain, when it was silenced)
    silenced_accounts: dict[str, datetime] = field(default_factory=dict)
    # The settings' own lists, kept to rebuild the policy when moderators change theirs.
    static_blocked: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, blocked, allowed) -> DomainPolicy:
        listed = tuple(normalise_domain(d) for d in blocked if d.strip())
        return cls(listed, tuple(normalise_domain(d) for d in allowed if d.strip()),
                   static_blocked=listed)

    def with_rules(self, rules) -> DomainPolicy:
        """This policy's settings lists plus the moderators' rules (tables.Block rows)."""
        domains = [r.target for r in rules if r.kind == "domain" and r.severity == "block"]
        return DomainPolicy(
            blocked=tuple(dict.fromkeys([*self.static_blocked, *domains])),
            allowed=self.allowed,
            blocked_accounts=frozenset(r.target for r in rules if r.kind == "account" and r.severity == "block"),
            silenced=tuple((r.target, r.created_at) for r in rules if r.kind == "domain" and r.severity == "silence"),
            silenced_accounts={r.target: r.created_at for r in rules
                               if r.kind == "account" and r.severity == "silence"},
            static_blocked=self.static_blocked,
        )

    def __post_init__(self):
        # Sets for the hot inbox path: a look-up per domain suffix, not a scan of every rule.
        object.__setattr__(self, "_blocked", _entries(self.blocked))
        object.__setattr__(self, "_allowed", _entries(self.allowed))
        object.__setattr__(self, "_silenced", {domain: moment for domain, moment in self.silenced})

    def allows(self, host: str) -> bool:
        """May we talk with this host[:port] at all?"""
        if not host:
            return False
        if _covered(host, self._blocked):
            return False
        return not self.allowed or _covered(host, self._allowed)

    def allows_actor(self, uri: str | None) -> bool:
        """May this actor be heard? (its server allowed, the account itself not blocked)"""
        return bool(uri) and self.allows(host_of(uri)) and not self._account_blocked(uri)

    def allows_url(self, url: str) -> bool:
        """May this URL be fetched or posted to? (a blocked account's documents are refused)"""
        return self.allows(host_of(url)) and not self._account_blocked(url)

    def _account_blocked(self, uri: str) -> bool:
        if not self.blocked_accounts:
            return False
        # The actor itself, or a document under its id (Mastodon: /users/x/statuses/1).
        path = uri.split("#")[0]
        while "/" in path.split("://", 1)[-1]:
            if path in self.blocked_accounts:
                return True
            path = path.rsplit("/", 1)[0]
        return False

    def silenced_at(self, author_uri: str | None) -> datetime | None:
        """When the silence covering this author began (its mark on hidden objects), or None."""
        if not author_uri:
            return None
        if author_uri in self.silenced_accounts:
            return self.silenced_accounts[author_uri]
        host = normalise_domain(host_of(author_uri))
        for candidate in _candidates(host):
            if candidate in self._silenced:
                return self._silenced[candidate]
        return None


def _entries(domains) -> frozenset[str]:
    return frozenset(domains)


def _candidates(host: str):
    """The entries that would cover host[:port]: itself, its name, and every parent domain
    ('a.b.example.org:8443' -> 'a.b.example.org:8443', 'a.b.example.org', 'b.example.org', ...).
    Same rules as archipel.blocks.host_matches, as set look-ups."""
    yield host
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    while name:
        yield name
        name = name.partition(".")[2]


def _covered(host: str, entries: frozenset[str]) -> bool:
    if not entries:
        return False
    host = normalise_domain(host)
    return any(candidate in entries for candidate in _candidates(host))


async def refresh(client, session: AsyncSession) -> DomainPolicy:
    """Rebuild the client's policy from the moderators' rules and swap it in."""
    client.policy = client.policy.with_rules(await blocks.rules(session))
    return client.policy


def mark_if_silenced(policy: DomainPolicy, item):
    """Called where a remote object is first stored: a silenced author's object starts hidden."""
    blocks.hide_if_silenced(item, policy.silenced_at(item.author_uri))
    return item
