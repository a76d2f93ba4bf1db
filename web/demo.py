"""`archipel demo`: a working archipelago on this machine, in one process.

N islands on loopback ports with SQLite, each with its members and a few real-world fiches,
following each other so that what one publishes appears on the others. A second run serves the
same islands again. Ctrl-C stops every island cleanly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import signal
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from archipel import accounts
from archipel.markdown_items import read_item
from archipel.settings import SETTINGS_FILE, load_settings
from archipel.social import find_follow
from archipel.storage.engine import make_engine, make_sessionmaker
from federation import actions
from web.wake import deliveries_queued
from web import appkeys, demo_mailbox, provision, server
from web.app import create_app

CONTENT = Path(__file__).parent / "demo_content"
PASSWORD = "archipel-demo"
MAIL_FOLDER = "courrier"  # inside each island's folder: its mail, shown by the demo's mailbox
# The events of demo_content are dated as if this week were the week of Monday 4 January 2027:
# the demo moves them by whole weeks to come at the same distance from the week it runs in.
EVENTS_WRITTEN_FOR_WEEK = dt.date(2027, 1, 4)


@dataclass(frozen=True)
class IslandPlan:
    handle: str
    name: str
    members: tuple[tuple[str, str], ...]  # (username, display name); the first is admin
    files: tuple[str, ...]


PLANS = (
    IslandPlan("brest", "Île de Brest", (("maela", "Maëla Le Gall"), ("yann", "Yann Kerbrat")),
               ("papi.md", "wiki.md", "cd-libre.md", "forum.md", "ressource-atelier-wiki.md",
                "atelier-wiki-evenement.md")),
    IslandPlan("nantes", "Île de Nantes", (("chloe", "Chloé Martin"), ("karim", "Karim Benali")),
               ("intergenerationnel.md", "ressource-faire-avec.md", "ressourcerie.md", "rencontre-reemploi.md")),
    IslandPlan("montpellier", "Île de Montpellier", (("lea", "Léa Roux"), ("hugo", "Hugo Garcia")),
               ("appel-envie.md",)),
)


def plan_for(index: int) -> IslandPlan:
    if index < len(PLANS):
        return PLANS[index]
    return IslandPlan(f"ile-{index + 1}", f"Île n°{index + 1}", ((f"membre{index + 1}", f"Membre {index + 1}"),), ())


@dataclass
class RunningIsland:
    plan: IslandPlan
    url: str
    app: web.Application
    runner: web.AppRunner
    fresh: bool


async def _prepare(directory: Path, plan: IslandPlan, url: str) -> bool:
    """Create the island if needed; True when it is new."""
    if (directory / SETTINGS_FILE).exists():
        return False
    settings = await provision.create_island(directory, url=url, name=plan.name, handle=plan.handle,
                                             allow_private_networks=True, mail_folder=MAIL_FOLDER,
                                             # The letter goes when asked (`archipel letter DIR
                                             # --send-now`), not on the week's day: a demo is tried now.
                                             letter_weekday=0)
    engine = make_engine(settings.effective_database_url)
    try:
        sessions = make_sessionmaker(engine)
        for position, (username, display_name) in enumerate(plan.members):
            await provision.add_user(sessions, username=username, password=PASSWORD, display_name=display_name,
                                     role="admin" if position == 0 else "author")
    finally:
        await engine.dispose()
    return True


async def _start(directory: Path, plan: IslandPlan, host: str, port: int, fresh: bool) -> RunningIsland:
    settings = load_settings(directory)
    if not settings.mail_folder:  # an island of an older demo: its mail goes to the mailbox too
        settings = dataclasses.replace(settings, mail_folder=MAIL_FOLDER)
    app = create_app(settings)
    # As `archipel serve` runs an island: header and body timeouts, bounded connections.
    runner = server.make_runner(app, settings)
    await runner.setup()
    try:
        await server.GuardedSite(runner, max_connections=settings.max_connections, host=host, port=port).start()
    except BaseException:  # the port is taken: close what the island opened, then say so
        await runner.cleanup()
        raise
    return RunningIsland(plan, settings.url, app, runner, fresh)


async def _follow_each_other(islands: list[RunningIsland], timeout: float = 20.0) -> None:
    for island in islands:
        async with island.app[appkeys.SESSIONS]() as session:
            me = await accounts.island_actor(session)
        for other in islands:
            if other is island or not (island.fresh or other.fresh):
                continue
            target = await island.app[appkeys.DIRECTORY].get(f"{other.url}/users/{other.plan.handle}", refresh=True)
            async with island.app[appkeys.SESSIONS]() as session:
                await actions.follow(session, island.url, me, target)
                await session.commit()
        deliveries_queued(island.app)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        pending = 0
        for island in islands:
            async with island.app[appkeys.SESSIONS]() as session:
                for other in islands:
                    if other is not island:
                        follow = await find_follow(session, f"{island.url}/users/{island.plan.handle}",
                                                   f"{other.url}/users/{other.plan.handle}")
                        pending += follow is None or follow.state != "accepted"
        if not pending:
            return
        await asyncio.sleep(0.2)


async def _publish_content(island: RunningIsland) -> int:
    count = 0
    async with island.app[appkeys.SESSIONS]() as session:
        author = await accounts.get_actor(session, island.plan.members[0][0])
        for name in island.plan.files:
            fields = read_item((CONTENT / name).read_text("utf-8"))
            fields.pop("authors")
            if fields.get("kind") == "event":
                fields["data"] = moved_to_this_week(fields["data"], dt.date.today())
            await actions.publish_item(session, island.url, [author], **fields)
            count += 1
        await session.commit()
    deliveries_queued(island.app)
    return count


def moved_to_this_week(event: dict, today: dt.date) -> dict:
    """An event of demo_content with its dates moved by whole weeks, as if `today` were in the
    week it was written for; the wall-clock times stay the same in the event's zone."""
    this_monday = today - dt.timedelta(days=today.weekday())
    shift = this_monday - EVENTS_WRITTEN_FOR_WEEK
    zone = ZoneInfo(event["time_zone"])
    moved = dict(event)
    for key in ("start", "end"):
        local = event[key].astimezone(zone)
        moved[key] = dt.datetime.combine(local.date() + shift, local.time(), tzinfo=zone)
    return moved


async def run_demo(directory: Path, count: int, host: str = "127.0.0.1", base_port: int = 8001,
                   ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> list[RunningIsland]:
    directory.mkdir(parents=True, exist_ok=True)
    plans = [plan_for(i) for i in range(count)]
    islands: list[RunningIsland] = []
    mailbox: web.AppRunner | None = None
    try:
        for index, plan in enumerate(plans):
            url = f"http://{host}:{base_port + index}"
            fresh = await _prepare(directory / plan.handle, plan, url)
            islands.append(await _start(directory / plan.handle, plan, host, base_port + index, fresh))
        mailbox, mailbox_url = await _start_mailbox(islands, directory, host, base_port + count)
        await _follow_each_other(islands)
        published = sum([await _publish_content(island) for island in islands if island.fresh])
        _print_summary(islands, published, directory, mailbox_url)
        if ready is not None:
            ready.set()
        await _wait_for_stop(stop)
    finally:
        for island in islands:
            await island.runner.cleanup()
        if mailbox is not None:
            await mailbox.cleanup()
    return islands


async def _start_mailbox(islands: list[RunningIsland], directory: Path, host: str,
                         port: int) -> tuple[web.AppRunner, str]:
    """The islands' mail, readable in the browser on the port after theirs."""
    app = demo_mailbox.make_app({island.plan.handle: directory / island.plan.handle / MAIL_FOLDER for island in islands},
                                {island.plan.handle: island.plan.name for island in islands})
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, f"http://{host}:{port}"


async def _wait_for_stop(stop: asyncio.Event | None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    await stop.wait()
    print("\nStopping the archipelago…", flush=True)


def _print_summary(islands: list[RunningIsland], published: int, directory: Path, mailbox_url: str) -> None:
    print(f"\nArchipel demo: {len(islands)} islands in {directory}/ "
          f"({published} fiches, resources and events published now, replicated within seconds)\n", flush=True)
    for island in islands:
        host = island.url.split("//")[1]
        members = ", ".join(username for username, _ in island.plan.members)
        print(f"  {island.plan.name:<22} {island.url}/   @{island.plan.handle}@{host}   members: {members}")
    print(f"\n  Log in at <island>/login with a member's name and the password '{PASSWORD}'.")
    print(f"  The islands' e-mail (invitations, password resets, answers to proposals): {mailbox_url}/")
    print("  Follow an island or a member from any fediverse server on this machine by its handle.")
    print("  Ctrl-C stops every island.\n", flush=True)
