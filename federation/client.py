"""The one place that sends HTTP to other servers: every request signed when it is sent,
bounded in size and time, and never to a private address unless the island allows it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from federation import remote_json, signatures
from federation.domains import DomainPolicy
from federation.keys import load_private_key
from federation.netguard import BlockedAddress, GuardedResolver, check_url

log = logging.getLogger(__name__)

AS2_TYPES = ("application/activity+json", "application/ld+json")
ACCEPT_AS2 = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
USER_AGENT = "Archipel/0.1 (+https://archipel.invalid)"


class FetchError(Exception):
    """A remote document could not be had; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Signer:
    """Who signs a request: a key id and the private key PEM (parsed once, cached)."""

    key_id: str
    private_key_pem: str

    @property
    def private_key(self):
        return load_private_key(self.private_key_pem)


@dataclass(frozen=True)
class PostResult:
    status: int
    retry_after: str | None
    body_excerpt: str


class FederationClient:
    def __init__(self, *, allow_private: bool, max_bytes: int, timeout: float, user_agent: str = USER_AGENT,
                 policy: DomainPolicy | None = None):
        self.allow_private = allow_private
        self.policy = policy or DomainPolicy()
        self.max_bytes = max_bytes
        self.timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 5))
        self.user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        # Signature scheme that last worked per host. Draft-cavage first (what most servers
        # read); a host that refuses it with 400/401 is asked again with RFC 9421, and remembered.
        self._scheme_by_host: dict[str, str] = {}

    def preferred_scheme(self, url: str) -> str:
        return self._scheme_by_host.get(urlsplit(url).netloc.lower(), "cavage")

    def _remember_scheme(self, url: str, scheme: str) -> None:
        self._scheme_by_host[urlsplit(url).netloc.lower()] = scheme

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self.allow_private), limit=200, limit_per_host=8, ttl_dns_cache=60
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self.timeout, headers={"User-Agent": self.user_agent},
            auto_decompress=True,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("FederationClient.start() was not called")
        return self._session

    def check(self, url: str) -> str:
        url = check_url(url, allow_private=self.allow_private)
        if not self.policy.allows_url(url):
            raise BlockedAddress(f"{urlsplit(url).netloc} is not a server this island federates with")
        return url

    async def fetch_json(self, url: str, signer: Signer | None, *, accept: str = ACCEPT_AS2) -> dict:
        """Signed GET of an AS2 (or JRD) document: size-limited, must be a JSON object."""
        try:
            self.check(url)
        except BlockedAddress as error:
            raise FetchError(str(error)) from None
        first = self.preferred_scheme(url)
        try:
            return await self._get_json(url, signer, accept, first)
        except FetchError as error:
            if signer is None or error.status not in (400, 401):
                raise
            second = "rfc9421" if first == "cavage" else "cavage"
            document = await self._get_json(url, signer, accept, second)
            self._remember_scheme(url, second)
            return document

    async def _get_json(self, url: str, signer: Signer | None, accept: str, scheme: str) -> dict:
        headers = {"Accept": accept}
        if signer is not None:
            headers.update(signatures.sign_request("GET", url, signer.key_id, signer.private_key,
                                                   scheme=scheme))
        try:
            async with self.session.get(url, headers=headers, allow_redirects=True, max_redirects=3) as response:
                if response.status >= 400:
                    raise FetchError(f"GET {url}: HTTP {response.status}", response.status)
                if accept == ACCEPT_AS2 and not _is_as2(response.headers.get("Content-Type", "")):
                    raise FetchError(f"GET {url}: not an ActivityStreams document "
                                     f"({response.headers.get('Content-Type', 'no type')})")
                body = await _read_limited(response, self.max_bytes)
                final_url = str(response.url)
        except BlockedAddress as error:
            raise FetchError(str(error)) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise FetchError(f"GET {url}: {type(error).__name__}: {error}") from None
        try:
            document = remote_json.loads(body)
        except ValueError:
            raise FetchError(f"GET {url}: invalid JSON") from None
        if not isinstance(document, dict):
            raise FetchError(f"GET {url}: the document is not a JSON object")
        if final_url != url:
            check_url(final_url, allow_private=self.allow_private)
        return document

    async def post_activity(self, inbox_url: str, body: bytes, signer: Signer) -> PostResult:
        """Signed POST of an activity; signs now, so a retry never carries a stale Date."""
        self.check(inbox_url)
        first = self.preferred_scheme(inbox_url)
        result = await self._post_signed(inbox_url, body, signer, first)
        if result.status in (400, 401):
            second = "rfc9421" if first == "cavage" else "cavage"
            retried = await self._post_signed(inbox_url, body, signer, second)
            if retried.status < 300:
                self._remember_scheme(inbox_url, second)
                return retried
        return result

    async def _post_signed(self, inbox_url: str, body: bytes, signer: Signer, scheme: str) -> PostResult:
        headers = signatures.sign_request("POST", inbox_url, signer.key_id, signer.private_key, body=body,
                                          content_type="application/activity+json", scheme=scheme)
        async with self.session.post(inbox_url, data=body, headers=headers, allow_redirects=False) as response:
            excerpt = (await response.content.read(300)).decode("utf-8", "replace")
            return PostResult(response.status, response.headers.get("Retry-After"), excerpt)


def _is_as2(content_type: str) -> bool:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/activity+json":
        return True
    return media_type == "application/ld+json"


async def _read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > limit:
        raise FetchError(f"GET {response.url}: {declared} bytes is over the {limit} byte limit")
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise FetchError(f"GET {response.url}: over the {limit} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
