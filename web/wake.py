"""What a page tells the workers after its transaction committed: new deliveries to send.
The workers may run in this process or another (archipel/storage/wakeups.py)."""

from aiohttp import web

from archipel.storage import wakeups
from web import appkeys


def deliveries_queued(app: web.Application) -> None:
    app[appkeys.WAKEUPS].notify(wakeups.DELIVERIES)


def blocks_changed(app: web.Application) -> None:
    """The moderators' blocks changed here: the other processes reload theirs."""
    app[appkeys.WAKEUPS].notify(wakeups.BLOCKS)


def mail_queued(app: web.Application) -> None:
    app[appkeys.WAKEUPS].notify(wakeups.MAIL)
