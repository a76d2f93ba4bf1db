"""The one place that sends HTTP to other servers: every request signed when it is sent,
bounded in size and time, and never to a private address unless the island allows it."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp

from federation import remote_json, signatures
from federation.as2 import host_of
from federation.domains import DomainPolicy
from federation.keys import load_private_key
from federation.netguard import BlockedAddress, FetchError, GuardedResolver, Refused, check_url

__all__ = ["ACCEPT_AS2", "BlockedAddress", "FederationClient", "FetchError", "Fetched", "PostResult", "Refused",
           "Signer", "TooLarge"]

log = logging.getLogger(__name__)

AS2_TYPES = ("application/activity+json", "application/ld+json")
ACCEPT_AS2 = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
USER_AGENT = "Archipel/0.1 (+https://archipel.invalid)"


MAX_REDIRECTS = 3
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Fetched:
    """A fetched JSON document and the URL that finally answered it."""

    document: dict
    url: str

    def answers_for(self, claimed) -> bool:
        """Does the document's `id` name the URL it was served from? (a fragment aside)"""
        return isinstance(claimed, str) and claimed.split("#")[0] == self.url.split("#")[0]


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
        """Scheme, address and domain policy of one URL, before any connection to it."""
        url = check_url(url, allow_private=self.allow_private)
        if not self.policy.allows_url(url):
            raise BlockedAddress(f"{urlsplit(url).netloc} is not a server this island federates with")
        return url

    async def fetch_json(self, url: str, signer: Signer | None, *, accept: str = ACCEPT_AS2) -> dict:
        """Signed GET of an AS2 (or JRD) document: size-limited, must be a JSON object.
        Says nothing of where the document came from: for objects and actors, `fetch_object`."""
        return (await self.fetch(url, signer, accept=accept)).document

    async def fetch(self, url: str, signer: Signer | None, *, accept: str = ACCEPT_AS2) -> Fetched:
        """The document and the URL that finally answered it (after our own redirects)."""
        first = self.preferred_scheme(url)
        try:
            return await self._get_json(url, signer, accept, first)
        except BlockedAddress:
            raise
        except FetchError as error:
            if signer is None or error.status not in (400, 401):
                raise
            second = "rfc9421" if first == "cavage" else "cavage"
            fetched = await self._get_json(url, signer, accept, second)
            self._remember_scheme(url, second)
            return fetched

    async def fetch_object(self, url: str, signer: Signer | None) -> Fetched:
        """An object or actor that counts for where it came from: its `id` is the URL that
        finally answered, or it is fetched again by that id when the id is on the same host
        (a profile URL `/@bob` that serves the actor `/users/bob`). Anything else is refused:
        a document never speaks for another URL than its own."""
        fetched = await self.fetch(url, signer)
        claimed = fetched.document.get("id")
        if fetched.answers_for(claimed):
            return fetched
        if isinstance(claimed, str) and host_of(claimed) == host_of(fetched.url):
            again = await self.fetch(claimed, signer)
            if again.answers_for(again.document.get("id")):
                return again
            claimed = again.document.get("id")
        raise FetchError(f"GET {url}: the document answered from {fetched.url} claims the id {claimed!r}")

    async def _get_json(self, url: str, signer: Signer | None, accept: str, scheme: str) -> Fetched:
        try:
            async with self._get_following(url, signer, accept, scheme) as (response, final_url):
                if response.status >= 400:
                    raise FetchError(f"GET {url}: HTTP {response.status}", response.status)
                if accept == ACCEPT_AS2 and not _is_as2(response.headers.get("Content-Type", "")):
                    raise FetchError(f"GET {url}: not an ActivityStreams document "
                                     f"({response.headers.get('Content-Type', 'no type')})")
                body = await _read_limited(response, self.max_bytes)
        except FetchError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
            raise FetchError(f"GET {url}: {type(error).__name__}: {error}") from None
        try:
            document = remote_json.loads(body)
        except ValueError:
            raise FetchError(f"GET {url}: invalid JSON") from None
        if not isinstance(document, dict):
            raise FetchError(f"GET {url}: the document is not a JSON object")
        return Fetched(document, final_url)

    @asynccontextmanager
    async def _get_following(self, url: str, signer: Signer | None, accept: str, scheme: str):
        """GET with redirects followed here, never by the HTTP library: every hop is checked
        (scheme, address, domain policy) before it is connected to, and signed for its own URL.
        Yields (response, the URL that answered) once a hop answers with something else than a
        redirect; no body is read before that."""
        for _ in range(MAX_REDIRECTS + 1):
            self.check(url)
            headers = {"Accept": accept}
            if signer is not None:
                headers.update(signatures.sign_request("GET", url, signer.key_id, signer.private_key,
                                                       scheme=scheme))
            async with self.session.get(url, headers=headers, allow_redirects=False) as response:
                location = response.headers.get("Location")
                if response.status not in REDIRECTS or not location:
                    yield response, url
                    return
            next_url = urljoin(url, location.strip())
            log.debug("GET %s redirected to %s", url, next_url)
            url = next_url.split("#")[0]
        raise FetchError(f"GET {url}: more than {MAX_REDIRECTS} redirects")

    async def fetch_bytes(self, url: str, signer: Signer | None, *, accept: str, max_bytes: int) -> bytes:
        """Signed GET of a file (a remote picture), size-limited, on the same checked path as
        documents: every redirect hop is checked before anything is sent to it."""
        try:
            async with self._get_following(url, signer, accept, self.preferred_scheme(url)) as (response, _):
                if response.status >= 300:
                    raise FetchError(f"GET {url}: HTTP {response.status}", response.status)
                return await _read_limited(response, max_bytes)
        except FetchError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
            raise FetchError(f"GET {url}: {type(error).__name__}: {error}") from None

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
        # A redirect is not followed: the signature names this URL, and a 3xx is a failure to deliver.
        async with self.session.post(inbox_url, data=body, headers=headers, allow_redirects=False) as response:
            excerpt = (await response.content.read(300)).decode("utf-8", "replace")
            return PostResult(response.status, response.headers.get("Retry-After"), excerpt)


class TooLarge(Refused):
    """A body over our byte limit: refused, not truncated."""


def _is_as2(content_type: str) -> bool:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/activity+json":
        return True
    return media_type == "application/ld+json"


async def _read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > limit:
        raise TooLarge(f"GET {response.url}: {declared} bytes is over the {limit} byte limit")
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"GET {response.url}: over the {limit} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
