"""WebFinger, host-meta and NodeInfo: how other servers find our actors, and how we find theirs."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

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


def _same_server(url: str, host: str, scheme: str) -> bool:
    """`url` is plain http(s) on `host` exactly (no user info, no other port), in the scheme we
    used to reach it or https; no character a browser would read differently."""
    if any(ord(character) <= 0x20 or ord(character) == 0x7f or character == "\\" for character in url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("https", scheme) or parts.username is not None or parts.password is not None:
        return False
    netloc = (parts.hostname or "") + (f":{port}" if port is not None else "")
    return netloc == host.lower()


def follow_page_from_template(template: object, their_host: str, our_account: str, *,
                              scheme: str = "https") -> str | None:
    """The page a WebFinger subscribe template names, if it is an http(s) page of the visitor's own
    server: a server may send its users only to itself, never elsewhere through us."""
    if not isinstance(template, str) or template.count("{uri}") != 1 or len(template) > 2000:
        return None
    url = template.replace("{uri}", quote(our_account, safe=""))
    return url if _same_server(url, their_host, scheme) else None


async def subscribe_url(client: FederationClient, their_handle: str, our_account: str, *,
                        scheme: str = "https") -> str:
    """Where `their_handle`'s server lets them follow `our_account` (user@host): WebFinger on
    their server, then its OStatus subscribe template (a page of that same server)."""
    host, document = await _webfinger(client, their_handle, scheme)
    for link in document.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == SUBSCRIBE_REL:
            url = follow_page_from_template(link.get("template"), host, our_account, scheme=scheme)
            if url is not None:
                return url
    raise NoSubscribePage(f"{host} gives no page to follow from")


# Software known to serve /authorize_interaction (Mastodon and the forks that keep its name there).
AUTHORIZE_INTERACTION_SOFTWARE = frozenset({"mastodon", "hometown", "glitch", "glitchsoc"})


async def instance_follow_url(client: FederationClient, instance: str, our_account: str, *,
                              scheme: str = "https") -> str:
    """For a visitor who named only their instance: its /authorize_interaction page, if its
    NodeInfo says it runs software that has one. Other servers (GoToSocial has no such page)
    raise NoSubscribePage: better a clear instruction than a page that does not exist."""
    base = f"{scheme}://{instance}"
    links = await client.fetch_json(f"{base}/.well-known/nodeinfo", None, accept="application/json")
    hrefs = [link.get("href") for link in links.get("links") or [] if isinstance(link, dict)
             and str(link.get("rel", "")).startswith("http://nodeinfo.diaspora.software/ns/schema/2.")]
    href = next((h for h in hrefs if isinstance(h, str) and _same_server(h, instance, scheme)), None)
    if href is None:
        raise NoSubscribePage(f"{instance} has no NodeInfo")
    software = (await client.fetch_json(href, None, accept="application/json")).get("software")
    name = software.get("name") if isinstance(software, dict) else None
    if not isinstance(name, str) or name.lower() not in AUTHORIZE_INTERACTION_SOFTWARE:
        raise NoSubscribePage(f"{instance} runs software without /authorize_interaction")
    return interaction_url(base, our_account)
