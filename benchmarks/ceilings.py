"""Ceilings of this machine, measured now: what an island's figures are judged against.

    .venv/bin/python -m benchmarks.ceilings [--duration 2.5] [--concurrency 64]

Each figure is the rate of one operation repeated for a fixed duration. The HTTP ceilings run
the server in a child process and the load generator (one aiohttp session, N tasks) here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from multidict import CIMultiDict

from benchmarks.common import (
    ChildServer,
    CpuMeter,
    LoadResult,
    header,
    line,
    per_second,
    post_load,
    rate,
)
from federation import signatures
from federation.keys import generate_private_key, load_private_key, private_key_pem, public_key_pem

CONTENT_TYPE = "application/activity+json"
SENDER = "http://127.0.0.1:9/users/rosa"  # only a name: nothing is fetched from it here


def sample_activity(actor_uri: str, number: int, size: int = 2048, kind: str = "Create",
                    to: list[str] | None = None, object_uri: str | None = None) -> dict:
    """A Create of a Note (padded to about `size` bytes of JSON) or a small Like."""
    host = actor_uri.split("/users/")[0]
    activity = {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": f"{host}/activities/{kind.lower()}-{number}",
        "type": kind,
        "actor": actor_uri,
        "to": ["https://www.w3.org/ns/activitystreams#Public"] + (to or []),
        "cc": [f"{actor_uri}/followers"],
    }
    if kind == "Like":
        activity["object"] = object_uri or f"{host}/notes/liked"
        return activity
    note = {
        "id": f"{host}/notes/{number}", "type": "Note", "attributedTo": actor_uri,
        "to": activity["to"], "cc": activity["cc"], "published": "2025-01-01T00:00:00Z",
        "content": "",
    }
    activity["object"] = note
    filler = "<p>Une fiche sur l'animation d'ateliers, avec des exemples et des conseils. </p>"
    while len(json.dumps(activity)) < size:
        note["content"] += filler
    note["content"] = note["content"][: max(0, len(note["content"]) - (len(json.dumps(activity)) - size))]
    return activity


def body_of(activity: dict) -> bytes:
    return json.dumps(activity, separators=(",", ":")).encode()


@dataclass
class Keys:
    private_pem: str
    public_pem: str

    @property
    def private(self):
        return load_private_key(self.private_pem)


def new_keys() -> Keys:
    key = generate_private_key()
    return Keys(private_key_pem(key), public_key_pem(key))


# ---- CPU ceilings ----------------------------------------------------------------------------------

def rsa_sign_rate(duration: float, keys: Keys | None = None) -> float:
    key = (keys or new_keys()).private
    message = b"x" * 200
    return rate(lambda: key.sign(message, padding.PKCS1v15(), hashes.SHA256()), duration)


def rsa_verify_rate(duration: float, keys: Keys | None = None) -> float:
    key = (keys or new_keys()).private
    message = b"x" * 200
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    public = key.public_key()
    return rate(lambda: public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256()), duration)


def cavage_sign_rate(duration: float, keys: Keys | None = None, size: int = 2048) -> float:
    """federation.signatures.sign_request of a 2 KB POST (digest, signing string, RSA)."""
    keys = keys or new_keys()
    body = body_of(sample_activity(SENDER, 0, size))
    url = "http://127.0.0.2:8080/users/alice/inbox"
    key = keys.private
    return rate(lambda: signatures.sign_request("POST", url, f"{SENDER}#main-key", key, body=body,
                                                content_type=CONTENT_TYPE), duration)


def cavage_verify_rate(duration: float, keys: Keys | None = None, size: int = 2048) -> float:
    """parse_signed_request (Digest, Date, coverage) + verify with an already parsed key."""
    keys = keys or new_keys()
    body = body_of(sample_activity(SENDER, 0, size))
    url = "http://127.0.0.2:8080/users/alice/inbox"
    # The headers as an aiohttp server hands them over (a case-insensitive multidict).
    headers = CIMultiDict(signatures.sign_request("POST", url, f"{SENDER}#main-key", keys.private,
                                                  body=body, content_type=CONTENT_TYPE))
    public = keys.private.public_key()

    def verify() -> None:
        signed = signatures.parse_signed_request("POST", url, headers, body)
        if not signed.verify(public):
            raise AssertionError("the signature does not verify")

    return rate(verify, duration)


# ---- HTTP ceilings ---------------------------------------------------------------------------------

async def aiohttp_post_rate(duration: float, concurrency: int = 64, size: int = 2048) -> LoadResult:
    """A minimal aiohttp server (child process) reading a 2 KB POST body and answering 202."""
    body = body_of(sample_activity(SENDER, 0, size))
    with ChildServer("plain") as server:
        url = f"{server.url}/inbox"
        headers = {"Content-Type": CONTENT_TYPE}
        return await post_load(lambda i: (url, body, headers), concurrency=concurrency,
                               duration=duration, server_pid=server.pid)


async def signed_verify_parse_rate(duration: float, concurrency: int = 64, keys: Keys | None = None,
                                   size: int = 2048, pool: int = 256) -> LoadResult:
    """A minimal aiohttp server verifying pre-signed 2 KB POSTs: json.loads, jsonld.normalize,
    parse_signed_request, verify with a key parsed once. No database, no key lookup."""
    keys = keys or new_keys()
    with ChildServer("signed", keys.public_pem) as server:
        url = f"{server.url}/inbox"
        requests = []
        for number in range(pool):
            body = body_of(sample_activity(SENDER, number, size))
            headers = signatures.sign_request("POST", url, f"{SENDER}#main-key", keys.private,
                                              body=body, content_type=CONTENT_TYPE)
            requests.append((url, body, headers))
        result = await post_load(lambda i: requests[i % pool], concurrency=concurrency,
                                 duration=duration, server_pid=server.pid)
    if result.count(202) != result.completed:
        raise AssertionError(f"signed ceiling: unexpected answers {dict(result.statuses)} {dict(result.errors)}")
    return result


async def signed_post_client_rate(duration: float, concurrency: int = 64, keys: Keys | None = None,
                                  size: int = 2048) -> LoadResult:
    """The sender's side: sign each 2 KB POST when it is sent (as FederationClient.post_activity
    does), one shared aiohttp session, to a minimal server in a child process."""
    keys = keys or new_keys()
    body = body_of(sample_activity(SENDER, 0, size))
    key = keys.private
    with ChildServer("plain") as server:
        url = f"{server.url}/inbox"

        def make(_: int):
            return url, body, signatures.sign_request("POST", url, f"{SENDER}#main-key", key,
                                                      body=body, content_type=CONTENT_TYPE)

        return await post_load(make, concurrency=concurrency, duration=duration, server_pid=server.pid)


# ---- main ------------------------------------------------------------------------------------------

def print_load(label: str, result: LoadResult) -> None:
    line(label, per_second(result.rate),
         f"{result.completed:,} in {result.elapsed:.1f} s; {result.cpu()}")


async def run(duration: float, concurrency: int, fanout_concurrency: int) -> dict[str, float]:
    keys = new_keys()
    figures = {}
    print("   one core, cryptography + federation.signatures:")
    for name, label, function in (
        ("rsa_sign", "RSA-2048 sign (PKCS#1 v1.5, SHA-256)", rsa_sign_rate),
        ("rsa_verify", "RSA-2048 verify", rsa_verify_rate),
        ("cavage_sign", "draft-cavage sign of a 2 KB POST", cavage_sign_rate),
        ("cavage_verify", "draft-cavage parse + verify, key parsed", cavage_verify_rate),
    ):
        with CpuMeter() as meter:
            figures[name] = function(duration, keys)
        line(label, per_second(figures[name]), meter.describe())
    print(f"   HTTP on loopback, server in a child process, generator: 1 aiohttp session, "
          f"{concurrency} tasks:")
    result = await aiohttp_post_rate(duration, concurrency)
    figures["aiohttp_post"] = result.rate
    print_load("aiohttp server, POST 2 KB, read body -> 202", result)
    result = await signed_verify_parse_rate(duration, concurrency, keys)
    figures["signed_verify_parse"] = result.rate
    print_load("aiohttp server, signed POST: verify + parse", result)
    result = await signed_post_client_rate(duration, fanout_concurrency, keys)
    figures["signed_post_client"] = result.rate
    print_load(f"aiohttp client, signed POST 2 KB ({fanout_concurrency} tasks)", result)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2.5, help="seconds per figure (2.5)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (64)")
    parser.add_argument("--fanout-concurrency", type=int, default=64,
                        help="requests in flight for the signing client (64, as delivery_concurrency)")
    args = parser.parse_args()
    header("ceilings", "ceilings")
    asyncio.run(run(args.duration, args.concurrency, args.fanout_concurrency))


if __name__ == "__main__":
    main()
