"""Scenario run inside a private network namespace (tests/netns.py): fake public hosts that
redirect our FederationClient towards private addresses, blocked or non-allowed domains and other
schemes, with traps listening where no connection may ever arrive.

Run as `python -m tests.hostile_network` by `netns.run_isolated`; prints one JSON line:
{"results": {scenario: {"outcome": ..., "detail": ...}}, "traps": {scenario: {address: count}}}.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from types import SimpleNamespace

from aiohttp import web

from archipel.storage.tables import utcnow
from federation.client import FederationClient, FetchError, Signer
from federation.domains import DomainPolicy
from federation.keys import generate_private_key, private_key_pem

PORT = 8443
GOOD, HOP = "https://good.example:8443", "https://hop.example:8443"
# Where nothing may arrive: loopback, a private network, and hosts the policy refuses.
TRAPS = {"127.0.0.1": "loopback", "10.1.2.3": "private", "11.22.33.46": "blocked.example",
         "11.22.33.47": "other.example", "11.22.33.48": "moderated.example"}
PUBLIC = {"good.example": "11.22.33.44", "hop.example": "11.22.33.45", "blocked.example": "11.22.33.46",
          "www.blocked.example": "11.22.33.46", "other.example": "11.22.33.47",
          "moderated.example": "11.22.33.48", "inner.example": "127.0.0.1", "lan.example": "10.1.2.3"}

# (host, path) -> where it redirects
REDIRECTS = {
    ("good.example", "/to-loopback"): "https://127.0.0.1:8443/secret",
    ("good.example", "/to-private"): "https://10.1.2.3:8443/secret",
    ("good.example", "/to-name-of-loopback"): "https://inner.example:8443/secret",
    ("good.example", "/to-name-of-private"): "https://lan.example:8443/secret",
    ("good.example", "/chain"): f"{HOP}/chain-2",
    ("hop.example", "/chain-2"): f"{GOOD}/chain-3",
    ("good.example", "/chain-3"): "https://[::ffff:127.0.0.1]:8443/secret",
    ("good.example", "/chain-decimal"): f"{HOP}/chain-decimal-2",
    ("hop.example", "/chain-decimal-2"): "https://2130706433:8443/secret",
    ("good.example", "/short-form"): "https://127.1:8443/secret",
    ("good.example", "/hex-form"): "https://0x7f.0.0.1:8443/secret",
    ("good.example", "/scheme-relative"): "//127.0.0.1:8443/secret",
    ("good.example", "/userinfo"): "https://good.example@127.0.0.1:8443/secret",
    ("good.example", "/trailing-dot"): "https://inner.example.:8443/secret",
    ("good.example", "/to-blocked"): "https://blocked.example:8443/x",
    ("good.example", "/to-blocked-subdomain"): "https://www.blocked.example:8443/x",
    ("good.example", "/to-moderated"): "https://moderated.example:8443/x",
    ("good.example", "/to-other"): "https://other.example:8443/x",
    ("good.example", "/to-file"): "file:///etc/passwd",
    ("good.example", "/to-gopher"): "gopher://127.0.0.1:8443/_secret",
    ("good.example", "/to-plain-http"): "http://127.0.0.1:8443/secret",
    ("good.example", "/loop"): f"{HOP}/loop",
    ("hop.example", "/loop"): f"{GOOD}/loop",
    ("good.example", "/to-document"): f"{HOP}/note",
    ("good.example", "/claimed"): f"{HOP}/claims-good",
    ("good.example", "/inbox"): "https://127.0.0.1:8443/inbox",
}
DOCUMENTS = {
    ("hop.example", "/note"): {"id": f"{HOP}/note", "type": "Note", "content": "hello"},
    # Served by hop, claiming to be good's document: it counts for hop only.
    ("hop.example", "/claims-good"): {"id": f"{GOOD}/claimed", "type": "Note", "content": "forged"},
}

# scenario -> (method, first URL, which policy)
SCENARIOS = {
    "direct-loopback": ("GET", "https://127.0.0.1:8443/secret", "open"),
    "direct-blocked": ("GET", "https://blocked.example:8443/x", "open"),
    "to-loopback": ("GET", f"{GOOD}/to-loopback", "open"),
    "to-private": ("GET", f"{GOOD}/to-private", "open"),
    "to-name-of-loopback": ("GET", f"{GOOD}/to-name-of-loopback", "open"),
    "to-name-of-private": ("GET", f"{GOOD}/to-name-of-private", "open"),
    "chain-to-mapped-ipv6": ("GET", f"{GOOD}/chain", "open"),
    "chain-to-decimal": ("GET", f"{GOOD}/chain-decimal", "open"),
    "short-form": ("GET", f"{GOOD}/short-form", "open"),
    "hex-form": ("GET", f"{GOOD}/hex-form", "open"),
    "scheme-relative": ("GET", f"{GOOD}/scheme-relative", "open"),
    "userinfo": ("GET", f"{GOOD}/userinfo", "open"),
    "trailing-dot": ("GET", f"{GOOD}/trailing-dot", "open"),
    "to-blocked": ("GET", f"{GOOD}/to-blocked", "open"),
    "to-blocked-subdomain": ("GET", f"{GOOD}/to-blocked-subdomain", "open"),
    "to-moderated": ("GET", f"{GOOD}/to-moderated", "open"),
    "to-not-allowed": ("GET", f"{GOOD}/to-other", "allowlist"),
    "to-file": ("GET", f"{GOOD}/to-file", "open"),
    "to-gopher": ("GET", f"{GOOD}/to-gopher", "open"),
    "to-plain-http": ("GET", f"{GOOD}/to-plain-http", "open"),
    "loop": ("GET", f"{GOOD}/loop", "open"),
    "allowed-chain": ("GET", f"{GOOD}/to-document", "allowlist"),
    "signed-allowed-chain": ("SIGNED", f"{GOOD}/to-document", "open"),
    "claimed-elsewhere": ("OBJECT", f"{GOOD}/claimed", "open"),
    "post-redirected": ("POST", f"{GOOD}/inbox", "open"),
}


def policy(kind: str) -> DomainPolicy:
    base = DomainPolicy.from_settings(["blocked.example"], ["good.example", "hop.example"] if kind == "allowlist" else [])
    moderators = [SimpleNamespace(kind="domain", severity="block", target="moderated.example", created_at=utcnow())]
    return base.with_rules(moderators)


async def handle(request: web.Request) -> web.StreamResponse:
    host = request.host.split(":")[0]
    location = REDIRECTS.get((host, request.path))
    if location:
        return web.Response(status=307 if request.method == "POST" else 302, headers={"Location": location})
    document = DOCUMENTS.get((host, request.path))
    if document is None:
        return web.Response(status=404)
    return web.json_response(document, content_type="application/activity+json")


async def main() -> None:
    config = json.loads(open(os.environ["NETNS_CONFIG"]).read())
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(config["cert"], config["key"])
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for address in (PUBLIC["good.example"], PUBLIC["hop.example"]):
        await web.TCPSite(runner, address, PORT, ssl_context=tls).start()

    counts = {address: 0 for address in TRAPS}

    def trap(address):
        async def accepted(reader, writer):
            counts[address] += 1
            writer.close()
        return accepted

    traps = [await asyncio.start_server(trap(address), address, PORT) for address in TRAPS]

    signer_key = generate_private_key()
    signer = Signer("https://island.example/users/ile#main-key", private_key_pem(signer_key))
    results, trapped = {}, {}
    for name, (method, url, kind) in SCENARIOS.items():
        client = FederationClient(allow_private=False, max_bytes=100_000, timeout=5, policy=policy(kind))
        await client.start()
        before = dict(counts)
        try:
            if method == "POST":
                result = await client.post_activity(url, b"{}", signer)
                results[name] = {"outcome": "answered", "detail": result.status}
            elif method == "OBJECT":
                fetched = await client.fetch_object(url, None)
                results[name] = {"outcome": "fetched", "detail": fetched.url}
            else:
                fetched = await client.fetch(url, signer if method == "SIGNED" else None)
                results[name] = {"outcome": "fetched", "detail": fetched.url}
        except FetchError as error:
            results[name] = {"outcome": "refused", "detail": str(error)}
        except Exception as error:  # anything else is a failure of the one-error rule
            results[name] = {"outcome": f"unexpected {type(error).__name__}", "detail": str(error)}
        finally:
            await client.close()
        await asyncio.sleep(0.05)  # let a trap notice a connection still in flight
        trapped[name] = {TRAPS[a]: counts[a] - before[a] for a in counts if counts[a] != before[a]}
    for server in traps:
        server.close()
    await runner.cleanup()
    print(json.dumps({"results": results, "traps": trapped}))


if __name__ == "__main__":
    asyncio.run(main())
