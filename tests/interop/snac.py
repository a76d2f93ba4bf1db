"""A real snac2 server on loopback, driven from its command line and read through its pages.

snac cannot be installed from a package registry: build it from its public source (C, `make`,
with libcurl and libssl headers) and name the binary in ARCHIPEL_SNAC. Without it the snac tests
skip and say so.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import aiohttp

from tests.nodes import bound_socket, wait_for

SNAC_ENV = "ARCHIPEL_SNAC"


def snac_binary() -> str | None:
    given = os.environ.get(SNAC_ENV)
    if given:
        return given if Path(given).is_file() else None
    return shutil.which("snac")


class SnacServer:
    """One snac instance with one user; `post_html(id)` is how that user's timeline shows a post."""

    def __init__(self, binary: str, directory: Path, username: str = "marie"):
        self.binary = binary
        self.directory = directory
        self.username = username
        sock = bound_socket()
        self.port = sock.getsockname()[1]
        sock.close()  # snac binds the port itself
        self.url = f"http://127.0.0.1:{self.port}"
        self.actor_id = f"{self.url}/{username}"
        self.password = ""
        self.process: subprocess.Popen | None = None

    def _run(self, *arguments: str, answers: str = "") -> str:
        done = subprocess.run([self.binary, *arguments], input=answers, capture_output=True, text=True,
                              timeout=30, check=True)
        return done.stdout + done.stderr

    async def start(self) -> SnacServer:
        # init asks: address, port, host name, URL prefix, admin e-mail.
        self._run("init", str(self.directory), answers=f"127.0.0.1\n{self.port}\n127.0.0.1:{self.port}\n\n\n")
        server_json = self.directory / "server.json"
        config = json.loads(server_json.read_text())
        config.update(protocol="http", queue_retry_minutes=1)
        server_json.write_text(json.dumps(config, indent=4))
        output = self._run("adduser", str(self.directory), self.username, answers="Marie\n")
        self.password = re.search(r"User password is (\S+)", output).group(1)
        self.process = subprocess.Popen([self.binary, "httpd", str(self.directory)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await wait_for(self._answers, timeout=15, message="snac answers")
        return self

    async def _answers(self) -> bool:
        try:
            async with aiohttp.ClientSession() as http, http.get(self.url + "/.well-known/nodeinfo") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    async def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    async def command(self, *arguments: str) -> str:
        """`snac VERB DIR USER ARGS…` (follow, note, boost…): queued, sent by the running server."""
        verb, *rest = arguments
        return await asyncio.to_thread(self._run, verb, str(self.directory), self.username, *rest)

    @property
    def auth_headers(self) -> dict:
        """The user's password, as snac's private pages ask for it (HTTP basic)."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def post_form(self, path: str, form) -> int:
        """A form of the user's private pages (like, reply…), as their browser would send it.
        snac closes every connection after its answer: no connection is reused."""
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http, \
                http.post(f"{self.actor_id}/admin/{path}", data=form, headers=self.auth_headers,
                          allow_redirects=False) as response:
            return response.status

    async def timeline(self) -> str:
        async with aiohttp.ClientSession() as http, \
                http.get(f"{self.actor_id}/admin", headers=self.auth_headers) as response:
            assert response.status == 200, response.status
            return await response.text()

    async def post_html(self, object_id: str) -> str | None:
        """The HTML of the post whose id is `object_id` on the user's timeline, or None."""
        page = await self.timeline()
        for block in page.split('<div class="snac-post">')[1:]:
            if f'value="{html.escape(object_id)}"' in block:
                return block.split('<div class="snac-controls">')[0]
        return None
