"""Pieces of the inbox path, each timed alone in this process: where an accepted activity's CPU goes.

    .venv/bin/python -m benchmarks.pieces [--count 2000] [--postgres]

CPU time per call (time.process_time, so it includes the aiosqlite worker threads):
  - parse_signature_params of a Mastodon-style Signature header (federation.httpsig);
  - parse_signed_request as a whole (Digest, Date, coverage, signing string) and RSA verify;
  - ActorDirectory.key for a cached remote actor (the per-request database read of the inbox);
  - IncomingStore.add with 64 concurrent callers (grouped commits).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

from multidict import CIMultiDict

from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage.tables import RemoteActor
from benchmarks import ceilings
from benchmarks.common import (
    add_database_arguments,
    backend_name,
    create_database,
    database_url_of,
    drop_database,
    header,
    line,
)
from federation import remote_json, signatures
from federation.actors import ActorDirectory
from federation.client import Signer
from federation.httpsig import parse_signature_params
from federation.incoming_store import IncomingStore
from web import provision

ACTOR = "http://127.0.0.1:9/users/rosa"


def per_call(operation, count: int) -> float:
    """Microseconds of CPU per call."""
    operation()
    start = time.process_time()
    for _ in range(count):
        operation()
    return (time.process_time() - start) / count * 1e6


async def per_call_async(make, count: int, concurrency: int = 1) -> tuple[float, float]:
    """(microseconds of CPU per call, calls per second of wall time)."""
    await make(0)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(number: int) -> None:
        async with semaphore:
            await make(number + 1)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(number) for number in range(count)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / count * 1e6, count / wall


def show(label: str, micros: float, note: str = "") -> None:
    line(label, f"{micros:,.0f} us", note)


async def run(args) -> None:
    database_url = database_url_of(args)
    keys = ceilings.new_keys()
    body = ceilings.body_of(ceilings.sample_activity(ACTOR, 0))
    url = "http://127.0.0.1:8080/inbox"
    headers = CIMultiDict(signatures.sign_request("POST", url, f"{ACTOR}#main-key", keys.private,
                                                  body=body, content_type="application/activity+json"))
    signed = signatures.parse_signed_request("POST", url, headers, body)
    public = keys.private.public_key()
    print("   signatures (CPU per call):")
    show("parse_signature_params (Signature header)",
         per_call(lambda: parse_signature_params(headers["Signature"]), args.count))
    show("parse_signed_request (all checks, no RSA)",
         per_call(lambda: signatures.parse_signed_request("POST", url, headers, body), args.count))
    show("SignedRequest.verify (RSA-2048)", per_call(lambda: signed.verify(public), args.count))
    print("   JSON of the body (CPU per call; json.loads is the ceiling of the strict parse):")
    large = json.dumps({"type": "Note", "content": "é😀 " * 55_000}).encode()  # ~1 MB, \u escapes
    for label, sample in ((f"sample activity, {len(body):,} bytes", body), (f"{len(large):,} bytes", large)):
        count = args.count if len(sample) < 100_000 else max(5, args.count // 500)
        show(f"json.loads, {label}", per_call(lambda: json.loads(sample), count))
        show(f"remote_json.loads (strict), {label}", per_call(lambda: remote_json.loads(sample), count))

    workdir = Path(tempfile.mkdtemp(prefix="archipel-bench-pieces-"))
    if database_url:
        await create_database(database_url)
    try:
        settings = await provision.create_island(workdir, url="http://127.0.0.1:9", name="Pieces",
                                                 database_url=database_url, allow_private_networks=True)
        engine = make_engine(settings.effective_database_url)
        sessions = make_sessionmaker(engine)
        document = {"id": ACTOR, "type": "Person", "inbox": f"{ACTOR}/inbox",
                    "publicKey": {"id": f"{ACTOR}#main-key", "owner": ACTOR, "publicKeyPem": keys.public_pem}}
        async with sessions() as session:
            session.add(RemoteActor(uri=ACTOR, host="127.0.0.1:9", type="Person", inbox=f"{ACTOR}/inbox",
                                    key_id=f"{ACTOR}#main-key", public_key_pem=keys.public_pem,
                                    document=document))
            await session.commit()
        directory = ActorDirectory(sessions, None, settings.url, Signer("unused", keys.private_pem))
        print(f"   database ({backend_name(database_url)}; CPU per call, all threads of this process):")
        micros, rate = await per_call_async(lambda _: directory.key(f"{ACTOR}#main-key"), args.count)
        show("ActorDirectory.key, cached actor, one at a time", micros, f"{rate:,.0f} calls/s")
        micros, rate = await per_call_async(lambda _: directory.key(f"{ACTOR}#main-key"), args.count, 64)
        show("ActorDirectory.key, 64 concurrent", micros, f"{rate:,.0f} calls/s")
        store = IncomingStore(sessions)
        await store.start()
        activities = [ceilings.sample_activity(ACTOR, number) for number in range(args.count + 1)]

        async def add(number: int) -> None:
            activity = activities[number]
            await store.add(activity_uri=activity["id"], activity_type="Create", actor_uri=ACTOR,
                            signer_uri=ACTOR, body_trusted=True, payload=activity)

        micros, rate = await per_call_async(add, args.count, 64)
        show("IncomingStore.add (2 KB), 64 concurrent", micros, f"{rate:,.0f} rows/s, grouped commits")
        await store.stop()
        await engine.dispose()
    finally:
        if database_url:
            await drop_database(database_url)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="calls per piece (2000)")
    add_database_arguments(parser)
    args = parser.parse_args()
    header("pieces of the inbox path", "pieces")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
