"""Every piece of application state, declared once with its type."""

import asyncio

from aiohttp import web
from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from archipel.settings import Settings
from archipel.storage.wakeups import Wakeups
from federation.actors import ActorDirectory
from federation.catalog_sync import CatalogSyncWorker
from federation.client import FederationClient, Signer
from federation.delivery import DeliveryWorker
from federation.inbox import InboxReceiver
from federation.incoming_store import IncomingStore
from federation.processing import InboxWorker
from federation.remote_images import RemoteImageWorker
from federation.workers import Runner

SETTINGS = web.AppKey("settings", Settings)
ROLE = web.AppKey("role", str)  # "all", "web" or "worker" (web/app.py ROLES)
WAKEUPS = web.AppKey("wakeups", Wakeups)
RUNNER = web.AppKey("runner", Runner)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker)
CLIENT = web.AppKey("client", FederationClient)
ISLAND_SIGNER = web.AppKey("island_signer", Signer)
DIRECTORY = web.AppKey("directory", ActorDirectory)
INCOMING = web.AppKey("incoming", IncomingStore)
INBOX = web.AppKey("inbox", InboxReceiver)
INBOX_WORKER = web.AppKey("inbox_worker", InboxWorker)
DELIVERY_WORKER = web.AppKey("delivery_worker", DeliveryWorker)
CATALOG_WORKER = web.AppKey("catalog_worker", CatalogSyncWorker)
REMOTE_IMAGE_WORKER = web.AppKey("remote_image_worker", RemoteImageWorker)
TEMPLATES = web.AppKey("templates", Environment)
# Set when the server begins to stop: long-lived answers (the live timeline's stream) end then,
# rather than holding the shutdown until their client goes.
SHUTTING_DOWN = web.AppKey("shutting_down", asyncio.Event)
