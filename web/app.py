"""The application factory. Nothing does I/O at import; each resource is set up and torn down
in its own cleanup context, in order: database, HTTP client, federation services, workers."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from aiohttp import web

from archipel.accounts import island_actor
from archipel import search_totals
from archipel.mail import MailWorker, SmtpConfig
from archipel.media import MULTIPART_ALLOWANCE
from archipel.settings import Settings
from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage.migrate import require_current_schema
from federation import mentions
from federation.actors import ActorDirectory
from federation.catalog_sync import CatalogSyncWorker
from federation import domains
from federation.domains import DomainPolicy
from federation.client import FederationClient, Signer
from federation.delivery import DeliveryWorker
from federation.documents import ActorUrls
from federation.inbox import InboxReceiver
from federation.incoming_store import IncomingStore
from federation.processing import InboxWorker
from federation.author_names import AuthorNameWorker
from federation.remote_images import RemoteImageWorker
from federation.inbox_backlog import Backlog
from federation.workers import Stopping, run_forever
from federation.workers import stop as stop_workers
from web import appkeys
from web.auth import csrf_middleware
from web.middleware import error_middleware, privacy_headers_middleware, proxy_middleware, static_cache_middleware
from web.pages import make_templates
from web.params import request_bounds_middleware
from web.routes import setup_routes

log = logging.getLogger(__name__)


COMPACT_SEARCH_COUNTS_EVERY = 60.0  # seconds


def create_app(settings: Settings, *, run_workers: bool = True) -> web.Application:
    app = web.Application(
        # Uploads need more than inboxes; inboxes read at most max_body_bytes themselves.
        client_max_size=max(settings.max_body_bytes, settings.max_upload_bytes + MULTIPART_ALLOWANCE),
        # request_bounds reads forms: after proxy_middleware, whose clone would lose what was read.
        middlewares=[proxy_middleware(settings.trusted_proxies), privacy_headers_middleware,
                     static_cache_middleware, request_bounds_middleware, error_middleware,
                     csrf_middleware],
    )
    app[appkeys.SETTINGS] = settings
    app[appkeys.TEMPLATES] = make_templates()
    mentions.configure(settings.url, mentions.Limits(settings.proposals_per_host_per_hour,
                                                     settings.proposal_max_links, settings.proposal_max_chars))
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_http_client)
    app.cleanup_ctx.append(_federation)
    if run_workers:
        app.cleanup_ctx.append(_workers)
    setup_routes(app)
    return app


async def _database(app: web.Application):
    settings = app[appkeys.SETTINGS]
    await require_current_schema(settings.effective_database_url, str(settings.directory))
    engine = make_engine(settings.effective_database_url)
    app[appkeys.ENGINE] = engine
    app[appkeys.SESSIONS] = make_sessionmaker(engine)
    yield
    await engine.dispose()


async def _http_client(app: web.Application):
    settings = app[appkeys.SETTINGS]
    client = FederationClient(allow_private=settings.allow_private_networks,
                              max_bytes=settings.fetch_max_bytes, timeout=settings.fetch_timeout,
                              policy=DomainPolicy.from_settings(settings.blocked_domains,
                                                                settings.allowed_domains))
    await client.start()
    app[appkeys.CLIENT] = client
    yield
    await client.close()


async def _federation(app: web.Application):
    settings = app[appkeys.SETTINGS]
    async with app[appkeys.SESSIONS]() as session:
        island = await island_actor(session)
        await domains.refresh(app[appkeys.CLIENT], session)  # the moderators' blocks and silences
    signer = Signer(ActorUrls(settings.url, island.username).key_id, island.private_key_pem)
    directory = ActorDirectory(app[appkeys.SESSIONS], app[appkeys.CLIENT], settings.url, signer)
    app[appkeys.ISLAND_SIGNER] = signer
    app[appkeys.DIRECTORY] = directory
    incoming = IncomingStore(app[appkeys.SESSIONS])
    app[appkeys.INCOMING] = incoming
    app[appkeys.INBOX] = InboxReceiver(directory, incoming, max_body_bytes=settings.max_body_bytes,
                                       backlog=Backlog(app[appkeys.SESSIONS], settings.inbox_backlog_per_server))
    await incoming.start()
    yield
    await incoming.stop()


async def _workers(app: web.Application):
    settings = app[appkeys.SETTINGS]
    sessions = app[appkeys.SESSIONS]
    delivery = DeliveryWorker(
        sessions, app[appkeys.CLIENT], base_url=settings.url,
        concurrency=settings.delivery_concurrency, per_host=settings.delivery_per_host,
        give_up_after=timedelta(hours=settings.delivery_give_up_hours),
        poll_interval=settings.poll_interval,
    )
    inbox = InboxWorker(sessions, app[appkeys.DIRECTORY], base_url=settings.url,
                        poll_interval=settings.poll_interval, on_sent=delivery.wake.set, hub=settings.hub,
                        follow_back=settings.follow_back)
    catalogs = CatalogSyncWorker(sessions, app[appkeys.DIRECTORY],
                                 interval=timedelta(minutes=settings.catchup_minutes),
                                 poll_interval=max(settings.poll_interval, 0.5), base_url=settings.url)
    app[appkeys.DELIVERY_WORKER] = delivery
    app[appkeys.INBOX_WORKER] = inbox
    app[appkeys.CATALOG_WORKER] = catalogs
    images = RemoteImageWorker(sessions, app[appkeys.CLIENT], app[appkeys.ISLAND_SIGNER],
                               settings.effective_media_directory, sync_every=max(settings.poll_interval * 20, 2.0))
    app[appkeys.REMOTE_IMAGE_WORKER] = images
    authors = AuthorNameWorker(sessions, app[appkeys.DIRECTORY], settings.url)
    app[appkeys.INCOMING].on_stored = inbox.wake.set
    app[appkeys.INCOMING].write_turn = inbox.write_turn
    await delivery.recover()
    stopping = Stopping()
    tasks = [asyncio.create_task(delivery.run_forever(stopping), name="delivery-worker"),
             asyncio.create_task(inbox.run_forever(stopping), name="inbox-worker"),
             asyncio.create_task(catalogs.run_forever(stopping), name="catalog-sync"),
             asyncio.create_task(_mail_loop(app, stopping), name="mail"),
             # Avatars and covers of other servers: nothing waits on them, a slower poll will do.
             asyncio.create_task(run_forever(images.run_once, images.wake, max(settings.poll_interval * 4, 1.0),
                                             "remote-images", stopping), name="remote-images"),
             # The search's kept counts, folded now and then (reads sum them either way).
             asyncio.create_task(run_forever(search_totals.Compactor(sessions).run_once, asyncio.Event(),
                                             COMPACT_SEARCH_COUNTS_EVERY, "search-counts", stopping),
                                 name="search-counts"),
             # Names of the authors of replicas: pages show addresses until they are known.
             asyncio.create_task(run_forever(authors.run_once, asyncio.Event(), max(settings.poll_interval * 4, 1.0),
                                             "author-names", stopping), name="author-names")]
    yield
    await stop_workers(tasks, stopping)


def mail_worker(settings: Settings, sessions) -> MailWorker:
    return MailWorker(sessions, SmtpConfig.from_settings(settings),
                      give_up_after=timedelta(hours=settings.mail_give_up_hours))


async def _mail_loop(app: web.Application, stopping: Stopping) -> None:
    """Proposers' e-mail (archipel/mail.py). Without `smtp_host` each round returns at once."""
    worker = mail_worker(app[appkeys.SETTINGS], app[appkeys.SESSIONS])
    await run_forever(worker.run_once, worker.wake, max(app[appkeys.SETTINGS].poll_interval, 1.0), "mail",
                      stopping)
