"""Sending a visitor to a page of their own server about something of ours: following one of our
accounts (/suivre) or answering, liking, sharing one of our items (/interagir), as Mastodon's
remote interaction does. The server that acts must be the visitor's: we can only point the way.

The only places a visitor is sent: the page their server's WebFinger names in its OStatus
subscribe template (`{uri}` replaced by what they want to act on; a page of that same server), or
/authorize_interaction of an instance whose NodeInfo says it has one. Every look-up goes through
federation/client.py (its guard refuses internal addresses) and web/remote_lookups.py (a rate
limit per client; one answer, at one time, for every failure)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from federation.discovery import clean_instance, instance_follow_url, parse_handle, subscribe_url, webfinger_scheme
from web import appkeys, remote_lookups

MAX_INPUT = 300  # an address or an instance, as a visitor types it


@dataclass(frozen=True)
class Outcome:
    """One of: `url` (send the visitor there), `malformed` (neither an address nor an instance),
    `retry_after` (too many look-ups from this client), or none of them: nothing found (the
    visitor gets instructions to search for it on their server)."""

    url: str | None = None
    malformed: bool = False
    retry_after: int | None = None


def _scheme(request: web.Request, host: str) -> str:
    return webfinger_scheme(host, allow_private_networks=request.app[appkeys.SETTINGS].allow_private_networks)


async def page_for(request: web.Request, given: str, subject: str) -> Outcome:
    """The page of the server of `given` (@user@host, or an instance) where they act on `subject`
    (user@host of one of our accounts, or the id of one of our items)."""
    given = given.strip()[:MAX_INPUT]
    handle = parse_handle(given)
    instance = None if handle else clean_instance(given.removeprefix("@"))
    if handle is None and instance is None:
        return Outcome(malformed=True)
    wait = remote_lookups.refused_for(request)
    if wait is not None:
        return Outcome(retry_after=wait)
    client = request.app[appkeys.CLIENT]
    if handle is not None:
        lookup = subscribe_url(client, given, subject, scheme=_scheme(request, handle[1].lower()))
    else:
        lookup = instance_follow_url(client, instance, subject, scheme=_scheme(request, instance))
    return Outcome(url=await remote_lookups.bounded(request, lookup))
