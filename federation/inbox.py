"""The thin inbox: check, store raw, answer. Processing happens later in the inbox worker.

Order of checks: size, JSON, shape (one type, an actor, an id that can be stored), signature
(parse, key, verify), then the body's trust and provenance. A valid signature from someone
other than the activity's actor is normal (Mastodon forwards replies to a thread's
participants): such an activity is accepted but marked untrusted, and the worker fetches its
object from the origin instead of believing the body.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from archipel.bounds import OutOfBounds, fits_uri
from archipel.storage.tables import actor_host_of
from federation import remote_json
from federation.actors import ActorDirectory, ActorError
from federation.as2 import host_of, id_of, types_of
from federation.client import FetchError
from federation.inbox_backlog import RETRY_AFTER_SECONDS, Backlog
from federation.incoming_store import IncomingStore
from federation.jsonld import normalize
from federation.keys import InvalidKey, load_public_key
from federation.remote_json import RemoteJSONError
from federation.signatures import SignatureError, parse_signed_request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboxOutcome:
    """What happened to one POST; the web layer turns `status` into the response."""

    status: int
    reason: str
    retry_after: int | None = None  # seconds, for a 429


ACCEPTED = "accepted"


class InboxReceiver:
    def __init__(self, directory: ActorDirectory, store: IncomingStore, *, max_body_bytes: int,
                 backlog: Backlog | None = None):
        self.directory = directory
        self.store = store
        self.max_body_bytes = max_body_bytes
        self.backlog = backlog or Backlog(store.sessionmaker, 0)

    async def receive(self, method: str, target_uri: str, headers, body: bytes,
                      now: datetime | None = None) -> InboxOutcome:
        if len(body) > self.max_body_bytes:
            return InboxOutcome(413, f"body of {len(body)} bytes is over {self.max_body_bytes}")
        try:
            activity = remote_json.loads(body)
        except RemoteJSONError as error:
            return InboxOutcome(400, f"body is not JSON we accept: {error}")
        if not isinstance(activity, dict):
            return InboxOutcome(400, "body is not a JSON object")
        try:
            normalised = normalize(activity)
        except Exception as error:  # pyld raises many types for hostile documents
            return InboxOutcome(400, f"unreadable JSON-LD: {type(error).__name__}")
        kinds = types_of(normalised)
        actor_uri = id_of(normalised.get("actor"))
        if len(kinds) != 1 or not actor_uri:
            return InboxOutcome(400, "an activity needs one type and an actor")
        activity_id = normalised.get("id")
        if isinstance(activity_id, str) and activity_id and not fits_uri(activity_id):
            # An id that cannot be stored is refused whoever sent it, before any key is fetched
            # and before the provenance check (which would drop it with a 202 or store it under
            # a digest): the sender learns that its activity was not taken.
            return InboxOutcome(400, "the activity id is not a storable URI of at most 2000 characters")
        kind = kinds[0]
        policy = self.directory.client.policy  # in memory: no query on this path
        if not policy.allows_actor(actor_uri):
            # A blocked server or account gets the answer any server gets, and nothing is
            # fetched from it: no hint that it is blocked.
            log.info("activity from blocked %s dropped", actor_uri)
            return InboxOutcome(202, ACCEPTED)

        try:
            signed = parse_signed_request(method, target_uri, headers, body, now=now)
        except SignatureError as error:
            return InboxOutcome(401, f"signature: {error}")
        if host_of(signed.key_id) and not policy.allows_url(signed.key_id):
            # Relayed by a blocked signer: dropped the same way, before its key is fetched.
            log.info("activity signed by blocked %s dropped", signed.key_id)
            return InboxOutcome(202, ACCEPTED)

        if kind == "Delete" and id_of(normalised.get("object")) == actor_uri:
            # An account deletion: its key is gone (410). If we never knew the actor there is
            # nothing to delete, and fetching the key would only fail.
            if await self.directory.cached(actor_uri) is None:
                return InboxOutcome(202, "deletion of an unknown actor: dropped")

        outcome = await self._verify(signed)
        if isinstance(outcome, InboxOutcome):
            return outcome
        signer_uri = outcome
        sender = actor_host_of(signer_uri)
        if await self.backlog.is_full(sender):
            return InboxOutcome(429, f"too many activities of {sender} waiting to be processed: retry later",
                                retry_after=RETRY_AFTER_SECONDS)
        trusted = signer_uri == actor_uri
        if not trusted:
            log.info("activity %s from %s signed by %s: body not trusted",
                     normalised.get("id"), actor_uri, signer_uri)
        key = provenance_key(normalised, actor_uri, signer_uri, trusted, activity)
        if key is None:
            log.info("activity %s from %s: its id is not on the actor's host, dropped",
                     normalised.get("id"), actor_uri)
            return InboxOutcome(202, "activity id on another host than its actor: dropped")
        if not (isinstance(activity.get("id"), str) and activity["id"]):
            # Named by its digest from now on, so that what it leads to (a like, a follow) has
            # an id too, and a resent copy is "already received".
            activity = {**activity, "id": key}
        try:
            inserted = await self.store.add(
                activity_uri=key,
                activity_type=kind[:32], actor_uri=actor_uri, signer_uri=signer_uri,
                body_trusted=trusted, payload=activity,
            )
        except OutOfBounds:  # an id longer than its column, a value the database refuses
            # Read by another server's software and its admins: English, like the other answers.
            return InboxOutcome(400, "a value of this activity cannot be stored (too long, or refused by the database)")
        if inserted:
            self.backlog.stored(sender)
        return InboxOutcome(202, ACCEPTED if inserted else "already received")

    async def _verify(self, signed) -> str | InboxOutcome:
        """The verified signer's actor URI, or the outcome to answer."""
        try:
            key = await self.directory.key(signed.key_id)
            if key is not None and _verifies(signed, key.public_key_pem):
                return key.owner
            # The actor may have rotated its key: re-fetch (rate-limited) and try once more.
            key = await self.directory.key(signed.key_id, refresh=True)
            if key is not None and _verifies(signed, key.public_key_pem):
                return key.owner
        except (FetchError, ActorError) as error:
            return InboxOutcome(401, f"signature key {signed.key_id}: {error}")
        return InboxOutcome(401, f"signature does not verify with the key {signed.key_id}")


def provenance_key(activity: dict, actor_uri: str, signer_uri: str, trusted: bool, raw: dict) -> str | None:
    """The key under which an activity is stored once, or None when it must be dropped.

    An activity's id names it only on its actor's host, and only when the actor itself signed
    it: anyone else could send `https://victim/activities/1` first and have the real one
    dropped as "already received". So an id on another host drops the activity; a copy
    relayed by another signer is stored under a key of its own (the id and the signer); an
    activity without an id under a digest of its JSON (keys sorted) and the signer, so that
    sending the same activity again is "already received" and it is processed at most once.
    """
    activity_id = activity.get("id")
    if isinstance(activity_id, str) and activity_id:
        if host_of(activity_id) != host_of(actor_uri):
            return None
        if trusted:
            return activity_id  # storable: an id that does not fit was refused before
        return _derived("relayed", signer_uri, activity_id.encode())
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _derived("unnamed", signer_uri, canonical.encode())


def _derived(kind: str, signer_uri: str, content: bytes) -> str:
    digest = hashlib.sha256(signer_uri.encode() + b"\n" + content).hexdigest()
    return f"urn:archipel:{kind}:{digest}"


def _verifies(signed, public_key_pem: str) -> bool:
    try:
        return signed.verify(load_public_key(public_key_pem))
    except InvalidKey:
        return False
