"""The application factory. Nothing does I/O at import; each resource is set up and torn down
in its own cleanup context, in order: database, HTTP client, federation services, workers."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from aiohttp import web

from archipel import jobs, map_cells, search_totals
from archipel.accounts import island_actor
from archipel.mail import MailWorker, SmtpConfig
from archipel.media import MULTIPART_ALLOWANCE
from archipel.settings import Settings
from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage import wakeups as channels
from archipel.storage.migrate import require_current_schema
from archipel.storage.wakeups import Wakeups
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
from federation.workers import Runner
from federation.write_turns import WriteTurns
from web import appkeys, health, metrics
from web.auth import csrf_middleware
from web.letter_mail import LetterMail
from web.letter_sending import LetterSender
from web.metrics import metrics_middleware
from web.middleware import error_middleware, privacy_headers_middleware, proxy_middleware, static_cache_middleware
from web.pages import page_templates
from web.params import request_bounds_middleware
from web.routes import setup_routes

log = logging.getLogger(__name__)


COMPACT_SEARCH_COUNTS_EVERY = 60.0  # seconds
PURGE_EVERY = 600.0  # seconds between purges of finished queue rows (sooner while some are left)


ROLES = ("all", "web", "worker")


def create_app(settings: Settings, *, run_workers: bool = True, role: str = "all") -> web.Application:
    """The island's application. `role`: "all" serves pages and runs the background workers
    (one process, SQLite's only way); "web" only serves; "worker" only runs the workers (several
    of each may share one PostgreSQL database). `run_workers=False` leaves the workers to tests,
    which step them themselves."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    app = web.Application(
        # Uploads need more than inboxes; inboxes read at most max_body_bytes themselves.
        client_max_size=max(settings.max_body_bytes, settings.max_upload_bytes + MULTIPART_ALLOWANCE),
        # request_bounds reads forms: after proxy_middleware, whose clone would lose what was read.
        # metrics_middleware first: it times and counts every answer, raised ones included.
        middlewares=[metrics_middleware, proxy_middleware(settings.trusted_proxies), privacy_headers_middleware,
                     static_cache_middleware, request_bounds_middleware, error_middleware,
                     csrf_middleware],
    )
    app[appkeys.SETTINGS] = settings
    app[appkeys.ROLE] = role
    app[appkeys.TEMPLATES] = page_templates()
    app[appkeys.WAKEUPS] = Wakeups()
    app[appkeys.SHUTTING_DOWN] = asyncio.Event()
    app.on_shutdown.append(_shutting_down)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_http_client)
    app.cleanup_ctx.append(_wakeups)
    app.cleanup_ctx.append(_federation)
    if run_workers and role != "web":
        app.cleanup_ctx.append(_workers)
    if role != "worker":
        setup_routes(app)
    # /livez, /readyz and /metrics in every role: a worker process is watched too.
    app.add_routes(health.routes)
    metrics.setup(app)
    return app


async def _shutting_down(app: web.Application) -> None:
    app[appkeys.SHUTTING_DOWN].set()


async def _database(app: web.Application):
    settings = app[appkeys.SETTINGS]
    await require_current_schema(settings.effective_database_url, str(settings.directory))
    engine = make_engine(settings.effective_database_url)
    app[appkeys.ENGINE] = engine
    app[appkeys.SESSIONS] = make_sessionmaker(engine)
    yield
    await engine.dispose()


async def _wakeups(app: web.Application):
    """Workers of other processes hear of new work at once (PostgreSQL), and this process
    reloads the moderators' blocks when another one changed them."""
    wakeups = app[appkeys.WAKEUPS]

    async def reload_blocks() -> None:
        async with app[appkeys.SESSIONS]() as session:
            await domains.refresh(app[appkeys.CLIENT], session)
    wakeups.on(channels.BLOCKS, reload_blocks)
    await wakeups.start(app[appkeys.SETTINGS].effective_database_url)
    yield
    await wakeups.stop()


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
    if app[appkeys.ROLE] == "worker":  # nothing is received here
        yield
        return
    wakeups = app[appkeys.WAKEUPS]
    incoming = IncomingStore(app[appkeys.SESSIONS], on_stored=lambda: wakeups.notify(channels.INBOX))
    app[appkeys.INCOMING] = incoming
    app[appkeys.INBOX] = InboxReceiver(directory, incoming, max_body_bytes=settings.max_body_bytes,
                                       backlog=Backlog(app[appkeys.SESSIONS], settings.inbox_backlog_per_server))
    await incoming.start()
    yield
    await incoming.stop()


async def _workers(app: web.Application):
    settings = app[appkeys.SETTINGS]
    sessions = app[appkeys.SESSIONS]
    wakeups = app[appkeys.WAKEUPS]
    delivery = DeliveryWorker(
        sessions, app[appkeys.CLIENT], base_url=settings.url,
        concurrency=settings.delivery_concurrency, per_host=settings.delivery_per_host,
        give_up_after=timedelta(hours=settings.delivery_give_up_hours),
        poll_interval=settings.poll_interval,
        # Two knocks (the second after a key refresh), each bounded by the client's timeout.
        send_timeout=2 * settings.fetch_timeout + 10,
    )
    inbox = InboxWorker(sessions, app[appkeys.DIRECTORY], base_url=settings.url,
                        poll_interval=settings.poll_interval, on_sent=lambda: wakeups.notify(channels.DELIVERIES),
                        hub=settings.hub, follow_back=settings.follow_back,
                        proposal_limits=mentions.Limits(settings.proposals_per_host_per_hour,
                                                        settings.proposal_max_links, settings.proposal_max_chars))
    catalogs = CatalogSyncWorker(sessions, app[appkeys.DIRECTORY],
                                 interval=timedelta(minutes=settings.catchup_minutes),
                                 poll_interval=max(settings.poll_interval, 0.5), base_url=settings.url)
    images = RemoteImageWorker(sessions, app[appkeys.CLIENT], app[appkeys.ISLAND_SIGNER],
                               settings.effective_media_directory, sync_every=max(settings.poll_interval * 20, 2.0))
    authors = AuthorNameWorker(sessions, app[appkeys.DIRECTORY], settings.url)
    mail = mail_worker(settings, sessions)
    app[appkeys.DELIVERY_WORKER] = delivery
    app[appkeys.INBOX_WORKER] = inbox
    app[appkeys.CATALOG_WORKER] = catalogs
    app[appkeys.REMOTE_IMAGE_WORKER] = images
    for channel, worker in ((channels.DELIVERIES, delivery), (channels.INBOX, inbox),
                            (channels.CATALOGS, catalogs), (channels.MAIL, mail)):
        wakeups.subscribe(channel, worker.wake)
    if appkeys.INCOMING in app:  # the same process receives: the store and the worker take turns
        inbox.write_turns = app[appkeys.INCOMING].write_turns = WriteTurns(
            one_writer=sessions.kw["bind"].dialect.name == "sqlite")
    if sessions.kw["bind"].dialect.name == "sqlite":
        # One process serves a SQLite island (archipel/island_lock.py): whatever its predecessor
        # left in flight is free now. With several processes, leases give rows back instead.
        await delivery.recover()
        await mail.recover()

    runner = Runner()
    runner.add("delivery-worker", delivery.run_forever)
    runner.add("inbox-worker", inbox.run_forever)
    runner.add("catalog-sync", catalogs.run_forever)
    runner.every("mail", mail.run_once, max(settings.poll_interval, 1.0), mail.wake)
    # Avatars and covers of other servers: nothing waits on them, a slower poll will do.
    runner.every("remote-images", images.run_once, max(settings.poll_interval * 4, 1.0), images.wake)
    # The search's kept counts, folded now and then (reads sum them either way).
    runner.every("search-counts", search_totals.Compactor(sessions).run_once, COMPACT_SEARCH_COUNTS_EVERY)
    # The map's kept cells, likewise.
    runner.every("map-cells", map_cells.Compactor(sessions).run_once, COMPACT_SEARCH_COUNTS_EVERY)
    # Names of the authors of replicas: pages show addresses until they are known.
    runner.every("author-names", authors.run_once, max(settings.poll_interval * 4, 1.0))
    # The letter: expiries, this week's issue when due, its letters queued a batch at a time.
    runner.every("letter", letter_sender(settings, sessions, app[appkeys.TEMPLATES], wakeups).run_once,
                 min(max(settings.poll_interval * 10, 1.0), 60.0))
    # Finished queue rows past their retention, a batch at a time.
    runner.every("retention", jobs.Purger(sessions, jobs.Retention.from_days(
        settings.retention_days, settings.failed_retention_days)).run_once, PURGE_EVERY)
    app[appkeys.RUNNER] = runner
    runner.start()
    yield
    await runner.stop()


def letter_sender(settings: Settings, sessions, templates, wakeups: Wakeups) -> LetterSender:
    def queued() -> None:  # letters for the mail worker, an Article for the deliveries
        wakeups.notify(channels.MAIL)
        wakeups.notify(channels.DELIVERIES)
    return LetterSender(sessions, settings, LetterMail(templates, settings), on_queued=queued)


def mail_worker(settings: Settings, sessions) -> MailWorker:
    return MailWorker(sessions, SmtpConfig.from_settings(settings),
                      give_up_after=timedelta(hours=settings.mail_give_up_hours))
