"""`/metrics` in the Prometheus text format (prometheus-client).

Two kinds of figures:

- requests, counted by this process as they are answered (`metrics_middleware`): by route —
  the route's pattern (`/users/{username}`), never the path asked, so that the number of series
  stays bounded whatever clients ask — method and status, with a latency histogram. When
  `PROMETHEUS_MULTIPROC_DIR` names a folder (set before the processes start, emptied at each
  start of the service), prometheus-client keeps them in files there and every process answers
  the sum of all processes.
- deliveries by outcome, counted by the delivery worker as it writes them (federation/observed.py),
  summed across processes like the requests;
- the queues and the island's contents, read from the database when `/metrics` is asked: right
  whichever process answers. Each is one query that an index answers, on what waits only (a
  range of a `state` index: as long as the backlog, never the finished rows that pile up with
  the island's history), and the items from the search's kept counts;
  `archipel_metrics_scrape_seconds` says what they cost (benchmarks/metrics_scrape.py).

Who may read it: a request from a loopback or private address, or one bearing
`Authorization: Bearer <metrics_token>`. The address is the one `trusted_proxies` establishes
(web/middleware.py); a request that a proxy forwarded without our trusting it, or that a trusted
proxy forwarded without naming its client, counts as coming from outside.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from archipel.queue_states import DeliveryStates, IncomingStates, MailStates
from archipel.storage.tables import (
    CatalogSync,
    Delivery,
    HostHealth,
    IncomingActivity,
    LocalActor,
    OutgoingMail,
    RemoteActor,
    SearchFacetTotal,
    utcnow,
)
from federation import observed
from web import appkeys

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "(unmatched)"  # every address no route answers: one series, not one per address
WAITING_DELIVERIES = (DeliveryStates.PENDING, DeliveryStates.IN_FLIGHT)
# Headers a proxy adds: a request bearing one was forwarded (from where, only a trusted proxy says).
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Real-IP")

REQUESTS = Counter("archipel_http_requests", "HTTP requests answered, by route pattern, method and status.",
                   ["route", "method", "status"])
WORKER_COUNTERS = (observed.DELIVERIES,)  # registered in the process registry by their import
LATENCY = Histogram("archipel_http_request_duration_seconds",
                    "Time to answer an HTTP request (until the handler returns), by route pattern and method.",
                    ["route", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))


def route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@web.middleware
async def metrics_middleware(request: web.Request, handler):
    """The outermost middleware: sees every answer, raised ones and errors included."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        route, method = route_label(request), request.method if request.method in METHODS else "other"
        LATENCY.labels(route, method).observe(time.perf_counter() - started)
        REQUESTS.labels(route, method, str(status)).inc()


# ---- access -----------------------------------------------------------------------------------

def _address(value: str | None):
    try:
        address = ipaddress.ip_address(value or "")
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


# Loopback and the private ranges (RFC 1918, RFC 4193), named: `ipaddress.is_private` also
# counts the documentation and reserved ranges, which a forged or odd header could carry.
INTERNAL_NETWORKS = tuple(ipaddress.ip_network(network) for network in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7"))


def internal_address(value: str | None) -> bool:
    address = _address(value)
    return address is not None and any(address in network for network in INTERNAL_NETWORKS)


def _networks(trusted: tuple[str, ...]):
    return [ipaddress.ip_network(entry, strict=False) for entry in trusted]


def from_inside(request: web.Request, trusted: tuple[str, ...]) -> bool:
    """Whether the request comes from a loopback or private address, as far as we can tell."""
    peername = request.transport.get_extra_info("peername") if request.transport else None
    peer = _address(peername[0] if isinstance(peername, tuple) else None)
    peer_is_proxy = peer is not None and any(peer in network for network in _networks(trusted))
    forwarded = any(header in request.headers for header in FORWARDING_HEADERS)
    if peer_is_proxy and "X-Forwarded-For" in request.headers:
        # proxy_middleware has put the client that X-Forwarded-For names in request.remote.
        return internal_address(request.remote)
    if forwarded:
        # A proxy we do not trust (its client may be anyone), or a trusted one that did not name
        # its client: the request may come from the internet.
        return False
    return internal_address(request.remote)  # asked directly (the proxy's own host included)


def allowed(request: web.Request) -> bool:
    settings = request.app[appkeys.SETTINGS]
    if from_inside(request, settings.trusted_proxies):
        return True
    if not settings.metrics_token:
        return False
    given = request.headers.get("Authorization", "")
    expected = "Bearer " + settings.metrics_token
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


# ---- figures read from the database -----------------------------------------------------------

def _age(now: datetime, since: datetime | None) -> float:
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0


async def database_families(session) -> list:
    """The queues and contents of the island, each from one indexed query."""
    now = utcnow()
    depth = GaugeMetricFamily("archipel_queue_depth", "Items waiting in a work queue, by state.",
                              labels=["queue", "state"])
    oldest = GaugeMetricFamily("archipel_queue_oldest_seconds",
                               "Age of the oldest item waiting in a queue (0: none waits).", labels=["queue"])

    # Only what waits is counted: ranges of the `state` indexes, as long as the backlog (finished
    # rows, which pile up with the island's history, are never scanned).
    # Inbox: ix_incoming_state; the oldest waiting is the lowest id received.
    received = await session.execute(select(func.count(), func.min(IncomingActivity.id))
                                     .where(IncomingActivity.state == IncomingStates.RECEIVED))
    count, first = received.one()
    depth.add_metric(["incoming", "received"], count or 0)
    since = None if first is None else await session.scalar(
        select(IncomingActivity.received_at).where(IncomingActivity.id == first))
    oldest.add_metric(["incoming"], _age(now, since))

    # Deliveries: ix_deliveries_due; pending split into due now and waiting for a retry.
    states = dict((await session.execute(
        select(Delivery.state, func.count()).where(Delivery.state.in_(WAITING_DELIVERIES))
        .group_by(Delivery.state))).all())
    due = await session.scalar(select(func.count()).select_from(Delivery)
                               .where(Delivery.state == DeliveryStates.PENDING, Delivery.next_try_at <= now))
    depth.add_metric(["deliveries", "pending_due"], due or 0)
    depth.add_metric(["deliveries", "pending_later"], states.get(DeliveryStates.PENDING, 0) - (due or 0))
    depth.add_metric(["deliveries", "in_flight"], states.get(DeliveryStates.IN_FLIGHT, 0))
    since = await session.scalar(select(func.min(Delivery.created_at))
                                 .where(Delivery.state.in_(WAITING_DELIVERIES)))
    oldest.add_metric(["deliveries"], _age(now, since))

    # Catalog walks: a walk is waiting once its next run is due (one row per followed island).
    walks = await session.execute(select(func.count(), func.min(CatalogSync.next_run_at))
                                  .where(CatalogSync.next_run_at <= now))
    due_walks, first_due = walks.one()
    depth.add_metric(["catalog_walks", "due"], due_walks or 0)
    oldest.add_metric(["catalog_walks"], _age(now, first_due))

    # Outgoing mail: ix_outgoing_mail_due.
    mail = await session.execute(select(func.count(), func.min(OutgoingMail.created_at))
                                 .where(OutgoingMail.state == MailStates.PENDING))
    count, since = mail.one()
    depth.add_metric(["mail", "pending"], count or 0)
    oldest.add_metric(["mail"], _age(now, since))

    hosts = await session.execute(select(
        func.count().filter(HostHealth.consecutive_failures > 0),
        func.count().filter(HostHealth.paused_until > now)))
    failing, paused = hosts.one()
    hosts_family = GaugeMetricFamily("archipel_hosts", "Remote hosts whose deliveries fail: failing (the last "
                                     "attempt failed), paused (not tried until their pause ends).", labels=["health"])
    hosts_family.add_metric(["failing"], failing or 0)
    hosts_family.add_metric(["paused"], paused or 0)

    # Items from the search's kept counts (a few thousand rows, however many items): every indexed
    # item counts once under its `kind` facet.
    items = GaugeMetricFamily("archipel_items", "Items listings may show (published or archived, not "
                              "withdrawn, hidden nor replies): local (written here) or replicas (received), "
                              "those of islands not followed included.", labels=["origin"])
    counts = dict((await session.execute(select(SearchFacetTotal.local, func.sum(SearchFacetTotal.count))
                                         .where(SearchFacetTotal.facet == "kind")
                                         .group_by(SearchFacetTotal.local))).all())
    items.add_metric(["local"], counts.get(True) or 0)
    items.add_metric(["replica"], counts.get(False) or 0)

    actors = GaugeMetricFamily("archipel_actors", "Actors: local ones by kind (island, person, theme), and "
                               "remote ones known.", labels=["kind"])
    local = dict((await session.execute(select(LocalActor.kind, func.count()).group_by(LocalActor.kind))).all())
    for kind in sorted(set(local) | {"island", "person", "theme"}):
        actors.add_metric([kind], local.get(kind, 0))
    actors.add_metric(["remote"], await session.scalar(select(func.count()).select_from(RemoteActor)) or 0)
    return [depth, oldest, hosts_family, items, actors]


class _Families:
    """A collector of families already built (read from the database for this scrape)."""

    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self):
        return iter(self.families)


def process_registry():
    """This process's request figures, or, in multiprocess mode, those of every process."""
    if os.environ.get(MULTIPROCESS_VARIABLE):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


async def metrics(request: web.Request) -> web.Response:
    if not allowed(request):
        if request.app[appkeys.SETTINGS].metrics_token:
            raise web.HTTPUnauthorized(text="a metrics token is required\n",
                                       headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        raise web.HTTPForbidden(text="metrics are answered to loopback and private addresses only\n")
    started = time.perf_counter()
    async with request.app[appkeys.SESSIONS]() as session:
        families = await database_families(session)
    scrape = GaugeMetricFamily("archipel_metrics_scrape_seconds",
                               "Time the database figures of this answer took to read.")
    scrape.add_metric([], time.perf_counter() - started)
    database = CollectorRegistry(auto_describe=False)
    database.register(_Families([*families, scrape]))
    body = generate_latest(process_registry()) + generate_latest(database)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
