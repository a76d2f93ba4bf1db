"""`archipel`: the operator's command line. Every command has --help.

Commands that change content (publish, follow, user add...) work while `archipel serve` runs on
the same folder: they write to the database (deliveries included) and the serving process
notices the new work within `poll_interval` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import logging
import os
import secrets
import sys
from pathlib import Path

from sqlalchemy import exc as sqlalchemy_errors
from sqlalchemy import select

from archipel import accounts, content, logs
from archipel.errors import ArchipelError
from archipel.handles import InvalidUsername
from archipel import media as media_store
from archipel.markdown_items import MediaReferences, read_item, read_media
from archipel.passwords import MAX_PASSWORD_CHARS, hash_password
from archipel.settings import Settings, SettingsError, load_settings
from archipel.storage import migrate
from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage.tables import LocalActor, RemoteActor
from federation import actions, domains
from federation.actors import ActorDirectory, ActorError
from federation.domains import DomainPolicy
from federation.client import FederationClient, FetchError, Signer
from federation.discovery import actor_id_of
from federation.documents import ActorUrls
from federation.netguard import BlockedAddress
from web import item_media, provision, words
from web.forms import FORM_KINDS

CLI_LANGUAGE = "en"  # the command line speaks English; the form's checks say the same in it
DEBUG_VARIABLE = "ARCHIPEL_DEBUG"  # set to 1: an unexpected error shows its traceback


class CommandError(Exception):
    """A message for the operator; the command exits with status 1."""


class Island:
    """An open island folder: settings and a database session factory, for one command."""

    def __init__(self, directory: str):
        self.settings: Settings = load_settings(directory)
        self.engine = make_engine(self.settings.effective_database_url)
        self.sessions = make_sessionmaker(self.engine)

    async def __aenter__(self) -> Island:
        try:
            await migrate.require_current_schema(self.settings.effective_database_url,
                                                 str(self.settings.directory))
        except (ConnectionError, TimeoutError) as error:  # PostgreSQL down, or a wrong host or port
            await self.engine.dispose()
            raise CommandError(f"cannot connect to the database: {error}") from None
        return self

    async def __aexit__(self, *exc) -> None:
        await self.engine.dispose()


# ---- commands ---------------------------------------------------------------------------------

async def cmd_init(args) -> None:
    settings = await provision.create_island(
        args.directory, url=args.url, name=args.name, handle=args.handle,
        database_url=args.database_url, allow_private_networks=args.allow_private_networks,
        manually_approves_followers=args.manual_approval)
    link = await provision.invitation_link(settings, role="admin")
    print(f"Island {args.name!r} created in {args.directory}: @{settings.handle}@{settings.host}")
    print(f"Start it with: archipel serve {args.directory}")
    print(f"Then create the first admin account in a browser (one use, valid 7 days): {link}")
    print(f"(or from the command line: archipel user add {args.directory} USERNAME --role admin)")


async def cmd_migrate(args) -> None:
    settings = load_settings(args.directory)
    before = await migrate.current_revision(settings.effective_database_url)
    await migrate.upgrade(settings.effective_database_url)
    print(f"schema {before or 'none'} -> {migrate.head_revision()}")


def cmd_serve(args) -> None:
    from archipel.island_lock import IslandBusy, IslandLock
    from web import server
    from web.app import create_app

    settings = load_settings(args.directory)
    if args.listen:
        settings = Settings(**{**settings.__dict__, "listen": args.listen})
    sqlite = settings.effective_database_url.startswith("sqlite")
    if sqlite and args.role != "all":
        raise CommandError(f"--role {args.role} needs PostgreSQL (`database_url`): a SQLite island is "
                           "served by one process, with --role all (the default)")
    lock = IslandLock(args.directory)
    if sqlite:
        try:
            lock.acquire()
        except IslandBusy as busy:
            raise CommandError(str(busy)) from None
    logs.configure(settings.log_level, settings.log_format)
    try:
        asyncio.run(migrate.require_current_schema(settings.effective_database_url, args.directory))
    except migrate.SchemaOutOfDate as error:
        lock.release()
        raise CommandError(str(error)) from None
    host, port = settings.listen_host_port
    doing = {"all": "serving", "web": "serving (web only)", "worker": "working (background workers only)"}[args.role]
    print(f"Island {settings.name!r} {doing} {settings.url} on http://{host}:{port}", flush=True)
    try:
        asyncio.run(server.serve(create_app(settings, role=args.role), settings, host, port))
    finally:
        lock.release()


def _new_password(args) -> tuple[str, bool]:
    """The password given (file or terminal), or a generated one; and whether it was generated."""
    if args.password_file:
        password = Path(args.password_file).read_text("utf-8").strip()
        generated = False
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        generated = False
    else:
        password, generated = secrets.token_urlsafe(12), True
    if len(password) < accounts.MIN_PASSWORD_CHARS:
        raise CommandError(f"the password needs at least {accounts.MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise CommandError(f"the password is longer than {MAX_PASSWORD_CHARS} characters")
    return password, generated


async def cmd_user_add(args) -> None:
    password, generated = _new_password(args)
    async with Island(args.directory) as island:
        await provision.add_user(island.sessions, username=args.username, password=password,
                                 display_name=args.display_name or "", role=args.role,
                                 manually_approves_followers=args.manual_approval)
        handle = f"@{args.username}@{island.settings.host}"
    print(f"user {handle} added ({args.role})")
    if generated:
        print(f"password: {password}")


async def cmd_user_password(args) -> None:
    password, generated = _new_password(args)
    async with Island(args.directory) as island:
        async with island.sessions() as session:
            user = await accounts.user_by_username(session, args.username)
            if user is None:
                raise CommandError(f"no user named {args.username!r} on this island")
            user.password_hash = hash_password(password)
            await accounts.end_sessions(session, user)
            await session.commit()
    print(f"password of {args.username} changed; their open sessions are ended")
    if generated:
        print(f"password: {password}")


def _read_at_most(path: Path, limit: int) -> bytes:
    with path.open("rb") as file:
        return file.read(limit + 1)


async def _checked_file(path: Path, key: str, limit: int, *, image_only: bool) -> item_media.Upload:
    """A file named in the front matter, checked exactly as the item form checks an upload."""
    try:
        data = await asyncio.to_thread(_read_at_most, path, limit)
    except FileNotFoundError:
        raise CommandError(f"{key}: no such file {path}") from None
    except IsADirectoryError:
        raise CommandError(f"{key}: {path} is a folder, not a file") from None
    checked = await asyncio.to_thread(item_media.check_bytes, data, path.name, CLI_LANGUAGE, limit,
                                      image_only=image_only)
    if isinstance(checked, str):
        raise CommandError(f"{key}: {checked}")
    return checked


async def _checked_media(references: MediaReferences, folder: Path, limit: int) -> item_media.MediaChanges:
    changes = item_media.MediaChanges(cover_alt=references.cover_alt)
    if references.cover:
        changes.cover = await _checked_file(folder / references.cover, "cover", limit, image_only=True)
    for path in references.attachments or ():
        changes.attachments.append(await _checked_file(folder / path, "attachments", limit, image_only=False))
    return changes


def _media_problem(kind: str, references: MediaReferences, changes: item_media.MediaChanges,
                   cover: dict | None, attachment_count: int) -> str | None:
    """What the form would refuse: a cover without its description, too many files."""
    if references.cover_alt and not references.cover and not cover:
        return "cover_alt: there is no cover image to describe (add cover: with its path)"
    problem = item_media.cover_alt_problem(CLI_LANGUAGE, changes.cover_alt, needed=changes.cover is not None)
    if problem:
        return f"cover_alt: {problem}"
    if references.attachments and kind not in FORM_KINDS:
        return f"attachments: only a fiche or a resource offers attached files, not an {kind}"
    problem = item_media.too_many_attachments(CLI_LANGUAGE, attachment_count)
    return f"attachments: {problem}" if problem else None


async def cmd_publish(args) -> None:
    path = Path(args.file)
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{args.file} is not UTF-8 text") from None
    fields, references = read_item(text), read_media(text)
    co_authors = [str(name) for name in fields.pop("authors")]
    async with Island(args.directory) as island:
        settings = island.settings
        base, directory = settings.url, settings.effective_media_directory
        changes = await _checked_media(references, path.parent, settings.max_upload_bytes)
        async with island.sessions() as session:
            author = await accounts.get_actor(session, args.as_user)
            if args.update:
                item = await content.get_local_object(session, args.update)
                old_cover, attachments = await media_store.cover_and_attachments(session, base, item)
                if references.attachments is not None:  # the listed files replace the item's
                    changes.remove_ids = [media.id for media in attachments]
                kept = [media for media in attachments if media.id not in changes.remove_ids]
                problem = _media_problem(item.kind, references, changes, item.cover,
                                         len(kept) + len(changes.attachments))
                if problem:
                    raise CommandError(problem)
                stored = await item_media.store(session, directory, author, changes)
                cover = await item_media.cover_change(session, directory, base, item, old_cover, changes, stored)
                await item_media.remove_attachments(session, directory, attachments, changes.remove_ids)
                edits = {key: fields[key] for key in ("title", "source", "summary", "tags", "language",
                                                       "licence", "state", "data")}
                if item.kind in FORM_KINDS:
                    edits["data"] = {**(edits["data"] or {}),
                                     "files": item_media.files_value(base, kept + stored.attachments)}
                item = await actions.edit_item(session, base, item, editor=author, **cover, **edits)
            else:
                problem = _media_problem(fields["kind"], references, changes, None, len(changes.attachments))
                if problem:
                    raise CommandError(problem)
                others = [await accounts.get_actor(session, name) for name in co_authors if name != args.as_user]
                stored = await item_media.store(session, directory, author, changes)
                cover = item_media.cover_value(base, stored.cover, changes.cover_alt) if stored.cover else None
                if fields["kind"] in FORM_KINDS:
                    fields["data"] = {**(fields["data"] or {}),
                                      "files": item_media.files_value(base, stored.attachments)}
                item = await actions.publish_item(session, base, [author, *others], cover=cover, **fields)
            await item_media.attach(session, item, stored)
            await session.commit()
    print(item.uri)


async def cmd_unpublish(args) -> None:
    async with Island(args.directory) as island:
        async with island.sessions() as session:
            item = await content.get_local_object(session, args.id)
            author = await session.get(LocalActor, item.local_author_id)
            await actions.withdraw_article(session, island.settings.url, author, item)
            await session.commit()
    print(f"withdrawn: {args.id}")


async def cmd_follow(args) -> None:
    async with Island(args.directory) as island:
        settings = island.settings
        client = FederationClient(allow_private=settings.allow_private_networks,
                                  max_bytes=settings.fetch_max_bytes, timeout=settings.fetch_timeout,
                              policy=DomainPolicy.from_settings(settings.blocked_domains,
                                                                settings.allowed_domains))
        await client.start()
        try:
            async with island.sessions() as session:
                actor = (await accounts.get_actor(session, args.as_user) if args.as_user
                         else await accounts.island_actor(session))
                island_signer_actor = await accounts.island_actor(session)
                await domains.refresh(client, session)  # moderators' blocks, not only the settings'
            signer = Signer(ActorUrls(settings.url, island_signer_actor.username).key_id,
                            island_signer_actor.private_key_pem)
            target_uri = await actor_id_of(client, args.target,
                                           allow_private_networks=settings.allow_private_networks)
            directory = ActorDirectory(island.sessions, client, settings.url, signer)
            target = await directory.get(target_uri, refresh=True)
            async with island.sessions() as session:
                await actions.follow(session, settings.url, actor, target)
                await session.commit()
        finally:
            await client.close()
    print(f"follow request sent to {target.uri}")


async def cmd_requests(args) -> None:
    async with Island(args.directory) as island:
        settings = island.settings
        async with island.sessions() as session:
            actor = (await accounts.get_actor(session, args.as_user) if args.as_user
                     else await accounts.island_actor(session))
            decision = args.accept or args.reject
            if decision is None:
                pending = await actions.pending_requests(session, settings.url, actor)
                for relation in pending:
                    print(relation.follower_uri)
                if not pending:
                    print(f"no pending follow request for {actor.username}")
                return
            follower = await session.scalar(select(RemoteActor).where(RemoteActor.uri == decision))
            if follower is None:
                raise CommandError(f"no known actor {decision}")
            await actions.decide_follow_request(session, settings.url, actor, follower,
                                                accept=bool(args.accept))
            await session.commit()
    print(f"{'accepted' if args.accept else 'rejected'}: {decision}")


async def cmd_deliveries(args) -> None:
    from federation import delivery_hosts

    async with Island(args.directory) as island:
        async with island.sessions() as session:
            host = args.retry or args.stop
            if host is None:
                failing = await delivery_hosts.failing(session)
                for state in failing:
                    status = ("stopped" if state.stopped else
                              f"paused until {state.paused_until:%Y-%m-%d %H:%M} UTC" if state.paused_until else "retrying")
                    since = f"{state.last_success_at:%Y-%m-%d %H:%M} UTC" if state.last_success_at else "never"
                    print(f"{state.host}  {status}; {state.failures} failures in a row; last success {since}; "
                          f"{state.waiting} waiting; last error: {state.last_error or '-'}")
                if not failing:
                    print("every server reached recently answered")
                return
            try:
                if args.retry:
                    count = await delivery_hosts.retry_now(session, host, admin=None)
                else:
                    count = await delivery_hosts.stop(session, host, admin=None, reason=args.reason)
            except delivery_hosts.UnknownHost:
                raise CommandError(f"no delivery was ever made to {host}") from None
            await session.commit()
    if args.retry:
        print(f"{host}: delivering again; {count} waiting deliveries due now")
    else:
        print(f"{host}: stopped; {count} waiting deliveries abandoned (archipel deliveries --retry {host} resumes)")


async def cmd_export(args) -> None:
    from web import portability

    async with Island(args.directory) as island:
        report = await portability.export_island(island.settings, island.sessions, args.out,
                                                 format=args.format, include_private=args.include_private)
    print("\n".join(report.lines()))


async def cmd_import(args) -> None:
    from web import portability

    async with Island(args.directory) as island:
        report = await portability.import_island(island.settings, island.sessions, args.source,
                                                 as_user=args.as_user)
    print("\n".join(report.lines()))


async def cmd_backup(args) -> None:
    from archipel import backup

    try:
        summary = await backup.backup(load_settings(args.directory), args.out)
    except (ConnectionError, TimeoutError) as error:  # PostgreSQL down, or a wrong host or port
        raise CommandError(f"cannot connect to the database: {error}") from None
    print(summary.line("backed up into"))


async def cmd_restore(args) -> None:
    from archipel import backup

    try:
        summary = await backup.restore(args.source, args.directory, args.database_url)
    except (ConnectionError, TimeoutError) as error:
        raise CommandError(f"cannot connect to the database: {error}") from None
    print(summary.line("restored into"))
    if summary.schema != migrate.head_revision():
        print(f"the schema is older than this version's: run `archipel migrate {args.directory}` before serving")
    print(f"Start it with: archipel serve {args.directory}")


async def cmd_reindex(args) -> None:
    from archipel import search_index

    async with Island(args.directory) as island:
        async with island.sessions() as session:
            count = await search_index.reindex(session)
            await session.commit()
    print(f"search index rebuilt: {count} items")


async def cmd_letter(args) -> None:
    from archipel import letter_issues
    from archipel.storage.tables import utcnow
    from archipel.storage.wakeups import Wakeups
    from web.app import letter_sender, mail_worker
    from web.letter_mail import letter_events, letter_items
    from web.pages import page_templates

    async with Island(args.directory) as island:
        settings = island.settings
        if args.send_now:
            sender = letter_sender(settings, island.sessions, page_templates(), Wakeups())
            async with island.sessions() as session:  # letters this week's issue already had
                earlier = await letter_issues.issue_by_period(session, letter_issues.period_of(utcnow()))
                before = await letter_issues.letters_of(session, earlier) if earlier is not None else 0
            issue = await sender.send_now()
            if issue is None:
                print("this week's letter was already sent: nothing is due")
                return
            async with island.sessions() as session:
                count = await letter_issues.letters_of(session, issue) - before
            print(f"letter {issue.period}: {count} letter{'' if count == 1 else 's'} queued")
            if settings.can_send_mail:  # sent now, rather than at the next round of `archipel serve`
                worker = mail_worker(settings, island.sessions)
                while await worker.run_once():
                    pass
            return
        async with island.sessions() as session:
            preview = await letter_issues.preview(session)
            items = await letter_items(session, settings.url, settings.name, preview.items)
            events = await letter_events(session, settings.url, settings.name, preview.events, "en")
    print(f"Next letter of {settings.name}: items published since {preview.since:%Y-%m-%d %H:%M} UTC")
    print()
    print(preview.editorial or "(no editorial yet: write it at /espace/lettre)")
    print()
    for item in items:
        print(f"* {item.title}")
        if item.pitch:
            print(f"  {_one_line(item.pitch)}")
        print(f"  {item.island} · {item.published:%Y-%m-%d} · {item.link}")
    if not items:
        print("(nothing new yet)")
    if events:
        print()
        print("Coming up across the archipelago:")
    for event in events:
        print(f"* {event.title}")
        print(f"  {event.when}" + (f" · {event.place}" if event.place else ""))
        print(f"  {event.island} · {event.link}")


def cmd_demo(args) -> None:
    from web.demo import run_demo

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(run_demo(Path(args.directory), args.islands, base_port=args.base_port))
    except KeyboardInterrupt:
        pass


# ---- parser -----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archipel", description="An island of the archipelago: "
                                     "fiches and training resources shared over ActivityPub.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create a new island in a folder")
    init.add_argument("directory", metavar="DIR")
    init.add_argument("--url", required=True, help="public base URL, e.g. https://ile.example")
    init.add_argument("--name", required=True, help="display name of the island")
    init.add_argument("--handle", help="username of the island actor (default: from the name)")
    init.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in DIR), e.g. "
                      "postgresql+asyncpg://user@host/db")
    init.add_argument("--allow-private-networks", action="store_true",
                      help="allow plain-http and loopback peers (local networks and tests)")
    init.add_argument("--manual-approval", action="store_true",
                      help="follows of the island wait for approval (archipel requests)")
    init.set_defaults(run=cmd_init)

    serve = commands.add_parser("serve", help="run the island (web, federation, delivery)")
    serve.add_argument("directory", metavar="DIR")
    serve.add_argument("--listen", metavar="HOST:PORT", help="address to listen on")
    serve.add_argument("--role", choices=("all", "web", "worker"), default="all",
                       help="all: pages and background workers in this process (the default, SQLite's "
                            "only way); web: pages only; worker: background workers only (PostgreSQL: "
                            "any number of each share the island)")
    serve.set_defaults(run=cmd_serve, sync=True)

    migrate_cmd = commands.add_parser("migrate", help="upgrade the database schema")
    migrate_cmd.add_argument("directory", metavar="DIR")
    migrate_cmd.set_defaults(run=cmd_migrate)

    user = commands.add_parser("user", help="manage users").add_subparsers(dest="user_command",
                                                                         required=True, metavar="ACTION")
    add = user.add_parser("add", help="add a user (prints a generated password unless given one)")
    add.add_argument("directory", metavar="DIR")
    add.add_argument("username", metavar="USERNAME")
    add.add_argument("--display-name")
    add.add_argument("--role", choices=accounts.ROLES, default="author")
    add.add_argument("--password-file", help="read the password from this file")
    add.add_argument("--manual-approval", action="store_true",
                     help="follows of this user wait for approval (archipel requests)")
    add.set_defaults(run=cmd_user_add)
    password = user.add_parser("password", help="set a user's password (prints a generated one unless given "
                                                "one); their open sessions end")
    password.add_argument("directory", metavar="DIR")
    password.add_argument("username", metavar="USERNAME")
    password.add_argument("--password-file", help="read the password from this file")
    password.set_defaults(run=cmd_user_password)

    publish = commands.add_parser(
        "publish", help="publish a fiche, resource or article from Markdown; prints its id",
        description="Publish a Markdown file whose front matter carries the fields (kind: fiche by "
                    "default, resource or article; title, summary, tags, licence, territory, holders, "
                    "pitch, audience, started, authors...). In the body, '## <section>' headings start "
                    "the sections of a fiche and '## Mode d'emploi' lists its steps. 'cover:' (an image "
                    "path relative to the file), 'cover_alt:' (its description, required) and "
                    "'attachments:' (a list of paths) bring files, checked as the web form checks "
                    "uploads. With --update, given files replace the item's; absent keys keep them.")
    publish.add_argument("directory", metavar="DIR")
    publish.add_argument("file", metavar="FILE.md")
    publish.add_argument("--as", dest="as_user", required=True, metavar="USERNAME")
    publish.add_argument("--update", metavar="ID", help="replace the item with this id")
    publish.set_defaults(run=cmd_publish)

    unpublish = commands.add_parser("unpublish", help="withdraw a published item")
    unpublish.add_argument("directory", metavar="DIR")
    unpublish.add_argument("id", metavar="ID")
    unpublish.set_defaults(run=cmd_unpublish)

    follow = commands.add_parser("follow", help="follow a remote actor (@user@host or actor URL)")
    follow.add_argument("directory", metavar="DIR")
    follow.add_argument("target", metavar="HANDLE_OR_URL")
    follow.add_argument("--as", dest="as_user", metavar="USERNAME",
                        help="the local user who follows (default: the island)")
    follow.set_defaults(run=cmd_follow)

    demo = commands.add_parser("demo", help="run a demo archipelago of N islands on this machine",
                               description="Create (or reuse) N islands in DIR on ports BASE, BASE+1..., "
                                           "with members and fiches; they follow each other. Ctrl-C stops them.")
    demo.add_argument("--islands", type=int, default=3, metavar="N", help="how many islands (default 3)")
    demo.add_argument("--directory", default="demo", metavar="DIR", help="where the islands live (default ./demo)")
    demo.add_argument("--base-port", type=int, default=8001, metavar="PORT", help="port of the first island")
    demo.set_defaults(run=cmd_demo, sync=True)

    requests = commands.add_parser("requests", help="list, accept or reject pending follow requests")
    requests.add_argument("directory", metavar="DIR")
    requests.add_argument("--as", dest="as_user", metavar="USERNAME",
                          help="whose requests (default: the island's)")
    decision = requests.add_mutually_exclusive_group()
    decision.add_argument("--accept", metavar="ACTOR_URL")
    decision.add_argument("--reject", metavar="ACTOR_URL")
    requests.set_defaults(run=cmd_requests)

    deliveries = commands.add_parser(
        "deliveries", help="servers that deliveries fail to reach; retry now or stop delivering to one")
    deliveries.add_argument("directory", metavar="DIR")
    chosen = deliveries.add_mutually_exclusive_group()
    chosen.add_argument("--retry", metavar="HOST", help="lift its pause or stop; what waits is due now")
    chosen.add_argument("--stop", metavar="HOST", help="send nothing more there until --retry; abandon what waits")
    deliveries.add_argument("--reason", default="", help="why it is stopped (kept in the moderation log)")
    deliveries.set_defaults(run=cmd_deliveries)

    export = commands.add_parser(
        "export", help="write every local fiche, resource and article (drafts included) to a folder",
        description="Write the island's own items, their revisions and attachments to the folder OUT "
                    "(created; must be empty): one file per item (jsonld: the ActivityStreams document, "
                    "withdrawn items as tombstones; markdown: the file `archipel publish` reads), "
                    "revisions/<id>.json and manifest.json. Private contacts stay out unless "
                    "--include-private.")
    export.add_argument("directory", metavar="DIR")
    export.add_argument("out", metavar="OUT")
    export.add_argument("--format", choices=("jsonld", "markdown"), default="jsonld")
    export.add_argument("--include-private", action="store_true",
                        help="also write the private contacts of project holders")
    export.set_defaults(run=cmd_export)

    import_cmd = commands.add_parser(
        "import", help="read a folder made by `archipel export` into this island (nothing is federated)",
        description="Create the items of an export folder on this island, with new ids, their revisions "
                    "and dates, in one transaction: a file that cannot be read stops the import and "
                    "nothing is written. Nothing is federated: no Create is sent to anyone. Authors are "
                    "matched by username; importing the same folder again changes nothing. Withdrawn "
                    "items are skipped. Prints the original id -> new id of every item.")
    import_cmd.add_argument("directory", metavar="DIR")
    import_cmd.add_argument("source", metavar="IN")
    import_cmd.add_argument("--as", dest="as_user", metavar="USERNAME",
                            help="author of the items (and revisions) whose users do not exist here; "
                                 "required when some do not")
    import_cmd.set_defaults(run=cmd_import)

    backup = commands.add_parser(
        "backup", help="copy the island (database, media, settings and keys) into a new folder",
        description="Copy the database (SQLite: its online backup, consistent while the island runs; "
                    "PostgreSQL: pg_dump, which must be installed), then the media and archipel.toml, "
                    "into the new folder OUT, with a manifest.json (version, schema, date) written last. "
                    "The actors' keys are in the database and the secret in archipel.toml: keep OUT as "
                    "private as the island folder.")
    backup.add_argument("directory", metavar="DIR")
    backup.add_argument("out", metavar="OUT")
    backup.set_defaults(run=cmd_backup)

    restore = commands.add_parser(
        "restore", help="make an island folder from a backup (never over an existing one)",
        description="Create the island folder DIR (new or empty) from the backup folder IN: same URL, "
                    "same keys, same content; it then serves and federates as the original did (stop "
                    "the original first). A PostgreSQL backup needs --database-url of an empty database.")
    restore.add_argument("source", metavar="IN")
    restore.add_argument("directory", metavar="DIR")
    restore.add_argument("--database-url", metavar="URL",
                         help="PostgreSQL backups: the empty database to restore into "
                              "(postgresql+asyncpg://user@host/db)")
    restore.set_defaults(run=cmd_restore)

    reindex = commands.add_parser(
        "reindex", help="rebuild the search index from the items stored",
        description="Empty the search index and index every item the island shows again, in one "
                    "transaction (searches see the old index until it commits).")
    reindex.add_argument("directory", metavar="DIR")
    reindex.set_defaults(run=cmd_reindex)

    letter = commands.add_parser(
        "letter", help="preview the next letter, or send what is due now",
        description="--preview prints the next issue (the editorial and every new item, before each "
                    "subscriber's choices); --send-now opens this week's issue if it is not yet, queues "
                    "every subscriber's letter and sends the mail queue.")
    letter.add_argument("directory", metavar="DIR")
    action = letter.add_mutually_exclusive_group(required=True)
    action.add_argument("--preview", action="store_true", help="print the next issue")
    action.add_argument("--send-now", action="store_true", help="send what is due at once")
    letter.set_defaults(run=cmd_letter)
    return parser


# ---- errors -----------------------------------------------------------------------------------

def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "(no message)"


def _os_message(error: OSError) -> str:
    where = " ".join(repr(str(name)) for name in (error.filename, error.filename2) if name is not None)
    if error.errno == errno.ENOSPC:
        return f"no space left on the device{' writing ' + where if where else ''}: free some space and run again"
    if isinstance(error, FileNotFoundError):
        return f"no such file or folder: {where}" if where else f"not found: {error.strerror or error}"
    reason = error.strerror or str(error)
    return f"{reason}: {where}" if where else reason


def _database_message(error: sqlalchemy_errors.SQLAlchemyError) -> str:
    reason = str(getattr(error, "orig", None) or error).splitlines()[0]
    if "disk is full" in reason:
        return "no space left on the device for the database: free some space and run again"
    if "disk I/O error" in reason:
        return "the database file cannot be written (disk I/O error): is the disk full or failing?"
    if "locked" in reason or "busy" in reason:
        return f"the database is busy ({reason}): another process holds it; try again in a moment"
    if "unable to open" in reason or "no such table" in reason or "does not exist" in reason:
        return f"the database cannot be used ({reason}): check the folder and run `archipel migrate DIR`"
    if isinstance(error, sqlalchemy_errors.OperationalError | sqlalchemy_errors.InterfaceError):
        return f"the database cannot be reached ({reason})"
    return f"database error: {reason}"


def error_message(error: BaseException) -> tuple[str, int]:
    """The one line an operator reads for an error, and the exit status: 1 for what they can act
    on, 2 for an error the command did not expect (a bug to report)."""
    if isinstance(error, ArchipelError):  # a French template of the catalogue, said in the command's language
        return _one_line(words.failure(CLI_LANGUAGE, error)), 1
    if isinstance(error, (CommandError, SettingsError, ActorError, InvalidUsername, migrate.SchemaOutOfDate)):
        return _one_line(str(error)), 1
    if isinstance(error, (FetchError, BlockedAddress)):
        return _one_line(f"fetch refused or failed: {error}"), 1
    if isinstance(error, sqlalchemy_errors.SQLAlchemyError):
        return _one_line(_database_message(error)), 1
    if isinstance(error, UnicodeDecodeError):
        return "a file is not UTF-8 text", 1
    if isinstance(error, OSError):
        return _one_line(_os_message(error)), 1
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", 130
    return _one_line(f"unexpected error {type(error).__name__}: {error} "
                     f"(run again with {DEBUG_VARIABLE}=1 to see the traceback)"), 2


def main(argv: list[str] | None = None) -> int:
    """Every error ends as one line `archipel: <message>` on stderr, never a traceback (unless
    ARCHIPEL_DEBUG=1 asks for it)."""
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "sync", False):
            args.run(args)
        else:
            asyncio.run(args.run(args))
    except (Exception, KeyboardInterrupt) as error:
        if os.environ.get(DEBUG_VARIABLE) == "1":
            raise
        message, status = error_message(error)
        print(f"archipel: {message}", file=sys.stderr)
        return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
