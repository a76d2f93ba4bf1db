"""The letter with the real `archipel` command: `archipel letter --preview` and `--send-now`, and a
kill -9 of `archipel serve` while its own worker sends the letter: after a restart every subscriber
has exactly one letter queued, and only the message in flight at the kill may arrive twice (SMTP
cannot tell us whether the server kept it; it comes again with the same Message-ID)."""

from __future__ import annotations

import sqlite3
from collections import Counter

from tests.archipel.test_mail import smtp  # noqa: F401 (fixture)
from tests.flows.test_cli import _free_url
from tests.nodes import wait_for
from tests.processes import ServeProcess, cli

READERS = 30


def _island(tmp_path, controller, **settings) -> tuple:
    url = _free_url()
    island = tmp_path / "ile"
    cli("init", island, "--url", url, "--name", "Île de Brest", "--allow-private-networks")
    cli("user", "add", island, "alice")
    lines = ["smtp_host = \"127.0.0.1\"", f"smtp_port = {controller.port}", "mail_from = \"lettre@brest.example\""]
    lines += [f"{name} = {value}" for name, value in settings.items()]
    with open(island / "archipel.toml", "a") as toml:
        toml.write("\n".join(lines) + "\n")
    with sqlite3.connect(island / "archipel.db") as db:
        for n in range(READERS):
            db.execute("INSERT INTO letter_subscribers (email, token, themes, regions, place, radius_km, language, "
                       "frequency, created_at, confirmed_at) VALUES (?, ?, '[]', '[]', '', 0, '', 'weekly', "
                       "'2026-01-01 00:00:00', '2026-01-01 00:00:00')", (f"r{n}@example.org", f"token-{n:04d}-" + "x" * 20))
    fiche = tmp_path / "fiche.md"
    fiche.write_text("---\nkind: fiche\ntitle: Repair café du quartier\npitch: On répare ensemble.\n---\nTexte.\n")
    cli("publish", island, "--as", "alice", fiche)
    return url, island


def _rows(database, statement: str) -> list:
    with sqlite3.connect(database) as db:
        return list(db.execute(statement))


async def test_preview_then_send_now_from_the_command_line(tmp_path, smtp):  # noqa: F811
    controller, inbox = smtp
    url, island = _island(tmp_path, controller, letter_weekday=0)
    preview = cli("letter", island, "--preview").stdout
    assert "Repair café du quartier" in preview and "On répare ensemble." in preview
    assert "example.org" not in preview  # addresses are never printed

    sent = cli("letter", island, "--send-now").stdout
    assert f"{READERS} letters queued" in sent
    assert sorted(recipients[0] for _, recipients, _ in inbox.messages) == sorted(
        f"r{n}@example.org" for n in range(READERS))
    assert "already sent" in cli("letter", island, "--send-now").stdout
    assert len(inbox.messages) == READERS
    # A reader who confirmed after this week's letter was written gets it on the next --send-now,
    # and only they do.
    with sqlite3.connect(island / "archipel.db") as db:
        db.execute("INSERT INTO letter_subscribers (email, token, themes, regions, place, radius_km, language, "
                   "frequency, created_at, confirmed_at) VALUES ('late@example.org', ?, '[]', '[]', '', 0, '', "
                   "'weekly', '2026-01-01 00:00:00', '2099-01-01 00:00:00')", ("token-late-" + "x" * 20,))
    assert "1 letter queued" in cli("letter", island, "--send-now").stdout
    assert [recipients for _, recipients, _ in inbox.messages[READERS:]] == [["late@example.org"]]
    assert "already sent" in cli("letter", island, "--send-now").stdout


async def test_kill_9_while_the_letter_is_sent_loses_none_and_repeats_only_the_one_in_flight(tmp_path, smtp):  # noqa: F811
    controller, inbox = smtp
    inbox.delay = 0.15  # a slow server keeps the sending under way when the kill comes
    # The island's own worker sends it: today is the day, from midnight.
    from archipel.storage.tables import utcnow
    url, island = _island(tmp_path, controller, letter_weekday=utcnow().isoweekday(), letter_hour=0)
    database = island / "archipel.db"

    server = await ServeProcess(island, url, tmp_path / "serve.log").start()
    await wait_for(lambda: len(inbox.messages) >= 5, timeout=30, message="the letter to start going out")
    server.kill()
    received_at_kill = len(inbox.messages)
    assert received_at_kill < READERS, "the kill came too late to test anything"
    assert len(_rows(database, "SELECT id FROM letter_deliveries")) == READERS  # all written before sending

    server = await ServeProcess(island, url, tmp_path / "serve.log").start()
    try:
        await wait_for(lambda: len({r[0] for _, r, _ in inbox.messages}) == READERS, timeout=60,
                       message="every reader's letter")
        await wait_for(lambda: _rows(database, "SELECT count(*) FROM outgoing_mail WHERE state != 'sent'") == [(0,)],
                       timeout=30, message="every letter marked sent")
    finally:
        await server.stop()

    per_reader = Counter(recipients[0] for _, recipients, _ in inbox.messages)
    assert sum(count - 1 for count in per_reader.values()) <= 1
    for reader in per_reader:  # a repeated message is the same message
        assert len({m["Message-ID"] for _, r, m in inbox.messages if r == [reader]}) == 1
    # One issue, one letter per reader, one mail per letter; the addresses gone from the sent mail.
    assert _rows(database, "SELECT count(*) FROM letter_issues") == [(1,)]
    assert _rows(database, "SELECT count(*), count(DISTINCT subscriber_id), count(DISTINCT mail_id) "
                           "FROM letter_deliveries") == [(READERS, READERS, READERS)]
    assert _rows(database, "SELECT count(*) FROM outgoing_mail WHERE to_address != ''") == [(0,)]
    assert "example.org" not in (tmp_path / "serve.log").read_text()  # never logged
