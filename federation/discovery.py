"""WebFinger, host-meta and NodeInfo: how other servers find our actors, and how we find theirs."""

from __future__ import annotations

import re
from urllib.parse import quote

from federation.as2 import types_of
from federation.client import FederationClient, FetchError, Signer
from federation.vocabulary import ACTOR_TYPES

ACCT = re.compile(r"^@?(?P<user>[^@\s]+)@(?P<host>[^@\s/]+)$")
JRD = "application/jrd+json"


def webfinger_document(username: str, host: str, actor_id: str, profile_url: str) -> dict:
    return {
        "subject": f"acct:{username}@{host}",
        "aliases": [actor_id, profile_url],
        "links": [
            {"rel": "self", "type": "application/activity+json", "href": actor_id},
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": profile_url},
            {"rel": "http://ostatus.org/schema/1.0/subscribe",
             "template": f"{profile_url.rsplit('/@', 1)[0]}/authorize_interaction?uri={{uri}}"},
        ],
    }


def host_meta_xml(base_url: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{base_url.rstrip("/")}/.well-known/webfinger?resource={{uri}}"/>\n'
        "</XRD>\n"
    )


def nodeinfo_links(base_url: str) -> dict:
    base = base_url.rstrip("/")
    return {"links": [
        {"rel": f"http://nodeinfo.diaspora.software/ns/schema/{v}", "href": f"{base}/nodeinfo/{v}"}
        for v in ("2.0", "2.1")
    ]}


def nodeinfo_document(version: str, *, software_version: str, users: int, posts: int,
                      island_name: str) -> dict:
    software = {"name": "archipel", "version": software_version}
    if version == "2.1":
        software["repository"] = "https://archipel.invalid/source"
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {"users": {"total": users, "activeMonth": users, "activeHalfyear": users},
                  "localPosts": posts},
        "metadata": {"nodeName": island_name},
    }


def parse_handle(text: str) -> tuple[str, str] | None:
    match = ACCT.match(text.strip().removeprefix("acct:"))
    return (match["user"], match["host"]) if match else None


def webfinger_scheme(host: str, *, allow_private_networks: bool) -> str:
    """https everywhere; plain http only for a loopback host when private networks are allowed
    (tests, the demo: several islands on one machine)."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    loopback = name in ("localhost", "[::1]") or name.startswith("127.") or name.endswith(".localhost")
    return "http" if allow_private_networks and loopback else "https"


async def _webfinger(client: FederationClient, handle: str, scheme: str) -> tuple[str, dict]:
    """(host, WebFinger document) of an @user@host handle."""
    parsed = parse_handle(handle)
    if parsed is None:
        raise FetchError(f"{handle!r} is not a handle of the form @user@host")
    user, host = parsed
    url = f"{scheme}://{host}/.well-known/webfinger?resource={quote(f'acct:{user}@{host}', safe=':@')}"
    return host, await client.fetch_json(url, None, accept=f"{JRD}, application/json")


async def resolve_handle(client: FederationClient, handle: str, *, scheme: str = "https") -> str:
    """@user@host -> actor id, through the host's WebFinger (http only when private networks are allowed)."""
    _, document = await _webfinger(client, handle, scheme)
    for link in document.get("links") or []:
        if (isinstance(link, dict) and link.get("rel") == "self" and isinstance(link.get("href"), str)
                and (link.get("type") or "").split(";")[0] in ("application/activity+json", "application/ld+json")):
            return link["href"]
    raise FetchError(f"WebFinger for {handle} has no ActivityPub actor link")


async def actor_id_of(client: FederationClient, target: str, *, allow_private_networks: bool,
                      signer: Signer | None = None) -> str:
    """An actor id from what a person typed: an @user@host handle through WebFinger; a URL given
    a signer is asked for the actor it serves (a profile URL such as `https://host/@bob` names the
    actor `https://host/users/bob`: only an id on the host that answered counts), without one it
    comes back as it is (`ActorDirectory.get` applies the same rule when it fetches it).
    Anything else comes back unchanged, for the caller to refuse."""
    target = target.strip()
    if target.startswith(("http://", "https://")):
        if signer is None:
            return target
        fetched = await client.fetch_object(target, signer)
        if not any(kind in ACTOR_TYPES for kind in types_of(fetched.document)):
            raise FetchError(f"{target} is not an actor")
        return fetched.url
    parsed = parse_handle(target)
    if parsed is None:
        return target
    scheme = webfinger_scheme(parsed[1], allow_private_networks=allow_private_networks)
    return await resolve_handle(client, target, scheme=scheme)


SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
HOST = re.compile(rf"^(?=.{{1,253}}(?::\d{{1,5}})?$){LABEL}(?:\.{LABEL})*(?::\d{{1,5}})?$")


class NoSubscribePage(Exception):
    """The visitor's server does not say where its users follow someone (no subscribe template)."""


def clean_instance(text: str) -> str | None:
    """'https://Mastodon.example/' -> 'mastodon.example'; None when it cannot be a host name."""
    host = text.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    return host if HOST.match(host) else None


def interaction_url(instance_base: str, our_account: str) -> str:
    """Mastodon's page where a logged-in user confirms following an account of another server."""
    return f"{instance_base.rstrip('/')}/authorize_interaction?uri={quote(our_account, safe='')}"


async def subscribe_url(client: FederationClient, their_handle: str, our_account: str, *,
                        scheme: str = "https") -> str:
    """Where `their_handle`'s server lets them follow `our_account` (user@host): WebFinger on
    their server, then its OStatus subscribe template."""
    host, document = await _webfinger(client, their_handle, scheme)
    for link in document.get("links") or []:
        if not isinstance(link, dict) or link.get("rel") != SUBSCRIBE_REL:
            continue
        template = link.get("template")
        if isinstance(template, str) and "{uri}" in template and template.startswith(("https://", "http://")):
            return template.replace("{uri}", quote(our_account, safe=""))
    raise NoSubscribePage(f"{host} gives no page to follow from")
