"""A scriptable remote server on loopback: serves actors and objects with real keys, records what
our islands deliver (checking their signatures), and sends signed (or deliberately broken)
activities to our inboxes. Stands in for Mastodon-like servers in hostile-input tests."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
from aiohttp import web

from federation import signatures
from federation.keys import generate_private_key, load_private_key, load_public_key, public_key_pem
from tests.nodes import bound_socket

KEYS = Path(__file__).parent / "data" / "fediverse" / "keys"


class RemoteServer:
    def __init__(self, host: str = "127.0.0.1"):
        self.sock = bound_socket(host)
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.private_pem = (KEYS / "remote.example.pem").read_text()
        self.private_key = load_private_key(self.private_pem)
        self.public_pem = public_key_pem(self.private_key)
        self.documents: dict[str, dict] = {}  # path -> document served as AS2
        self.received: list[dict] = []  # {"path", "activity", "verified", "scheme"}
        self.fetches: list[str] = []  # paths of every GET served
        self.redirects: dict[str, str] = {}  # path -> Location answered with a 302
        self.get_delay = 0.0
        self.refused: list[dict] = []  # requests answered 401 for their signature scheme
        self.inbox_status = 202
        self.inbox_headers: dict[str, str] = {}  # added to every inbox answer (e.g. Retry-After)
        self.inbox_delay = 0.0  # seconds an inbox takes to answer (a slow server)
        self.verify_signatures = True
        self.accepted_schemes = {"cavage", "rfc9421"}  # others get 401, like a strict server
        self.runner: web.AppRunner | None = None

    # ---- serving ---------------------------------------------------------------------------
    def actor_uri(self, name: str = "rosa") -> str:
        return f"{self.url}/users/{name}"

    def add_actor(self, name: str = "rosa", *, shared_inbox: bool = True, key_pem: str | None = None,
                  **fields) -> str:
        uri = self.actor_uri(name)
        document = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": uri, "type": "Person", "preferredUsername": name, "name": name.capitalize(),
            "inbox": f"{uri}/inbox", "outbox": f"{uri}/outbox", "followers": f"{uri}/followers",
            "publicKey": {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": key_pem or self.public_pem},
            **fields,
        }
        if shared_inbox:
            document["endpoints"] = {"sharedInbox": f"{self.url}/inbox"}
        self.documents[f"/users/{name}"] = document
        return uri

    def serve(self, uri: str, document: dict) -> None:
        self.documents[uri.removeprefix(self.url)] = document

    async def start(self) -> RemoteServer:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._get)
        app.router.add_post("/{tail:.*}", self._post)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.SockSite(self.runner, self.sock).start()
        self.session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        await self.session.close()
        if self.runner:
            await self.runner.cleanup()

    async def _get(self, request: web.Request) -> web.Response:
        self.fetches.append(request.path)
        if self.get_delay:
            await asyncio.sleep(self.get_delay)
        if request.path in self.redirects:
            return web.Response(status=302, headers={"Location": self.redirects[request.path]})
        document = self.documents.get(request.path)
        if document is None:
            return web.Response(status=404)
        if document.get("type") == "Tombstone":
            return web.json_response(document, status=410, content_type="application/activity+json")
        return web.json_response(document, content_type="application/activity+json")

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.inbox_delay:
            await asyncio.sleep(self.inbox_delay)
        verified = False
        if not self.verify_signatures:
            self.received.append({"path": request.path, "activity": json.loads(body), "verified": None})
            return web.Response(status=self.inbox_status, headers=self.inbox_headers)
        scheme = "rfc9421" if "Signature-Input" in request.headers else "cavage"
        if scheme not in self.accepted_schemes:
            self.refused.append({"path": request.path, "scheme": scheme})
            return web.Response(status=401)
        try:
            signed = signatures.parse_signed_request(request.method, str(request.url), request.headers, body)
            key_id = signed.key_id
            verified = await self._verify_with_origin(signed, key_id)
        except signatures.SignatureError:
            pass
        self.received.append({"path": request.path, "activity": json.loads(body), "verified": verified,
                              "scheme": scheme})
        return web.Response(status=self.inbox_status, headers=self.inbox_headers)

    async def _verify_with_origin(self, signed, key_id: str) -> bool:
        async with self.session.get(key_id.split("#")[0],
                                    headers={"Accept": "application/activity+json"}) as response:
            actor = await response.json(content_type=None)
        return signed.verify(load_public_key(actor["publicKey"]["publicKeyPem"]))

    def received_of_type(self, kind: str) -> list[dict]:
        return [r["activity"] for r in self.received if r["activity"].get("type") == kind]

    # ---- sending ---------------------------------------------------------------------------
    async def post(self, inbox_url: str, activity: dict | bytes, *, name: str = "rosa",
                   key=None, key_id: str | None = None, headers_override: dict | None = None,
                   drop_headers: tuple[str, ...] = (), body_after_signing: bytes | None = None,
                   scheme: str = "cavage", now=None) -> tuple[int, str]:
        body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        headers = signatures.sign_request(
            "POST", inbox_url, key_id or f"{self.actor_uri(name)}#main-key", key or self.private_key,
            body=body, content_type="application/activity+json", scheme=scheme, now=now)
        headers.update(headers_override or {})
        for header in drop_headers:
            headers.pop(header, None)
        async with self.session.post(inbox_url, data=body_after_signing or body, headers=headers) as response:
            return response.status, await response.text()

    async def post_unsigned(self, inbox_url: str, body: bytes) -> tuple[int, str]:
        async with self.session.post(inbox_url, data=body,
                                     headers={"Content-Type": "application/activity+json"}) as response:
            return response.status, await response.text()


def other_key():
    """A key nobody published, for forged signatures."""
    return generate_private_key()
