"""Every error of the `archipel` command is one line `archipel: <message>` on stderr and a
non-zero status, never a traceback: run as real processes, one shape of error after another."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from tests.processes import ENV

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                               reason="a full disk is a small tmpfs mounted in a private mount namespace (root)")


def run(*args, env: dict | None = None, wrap: list[str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "web.cli", *map(str, args)]
    return subprocess.run((wrap or []) + command, env={**ENV, **(env or {})}, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def one_line_error(result: subprocess.CompletedProcess, *fragments: str, status: int = 1) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archipel: "), result.stderr
    assert result.returncode == status, (result.returncode, result.stderr)
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def island(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "ile"
    result = run("init", folder, "--url", "http://127.0.0.1:9", "--name", "Île", "--allow-private-networks")
    assert result.returncode == 0, result.stderr
    assert run("user", "add", folder, "alice").returncode == 0
    return folder


def test_settings_that_cannot_be_read(tmp_path, island):
    (tmp_path / "ok.md").write_text("---\ntitle: Ok\n---\nx\n")
    one_line_error(run("publish", tmp_path / "nowhere", tmp_path / "ok.md", "--as", "alice"), "not found")
    as_folder = tmp_path / "folder-settings"
    (as_folder / "archipel.toml").mkdir(parents=True)
    one_line_error(run("requests", as_folder), "archipel.toml")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "archipel.toml").write_text("url = \n")
    one_line_error(run("requests", broken), "archipel.toml")
    one_line_error(run("requests", island, env={"ARCHIPEL_FETCH_TIMEOUT": "soon"}), "ARCHIPEL_FETCH_TIMEOUT")


def test_markdown_files_missing_or_wrong(tmp_path, island):
    one_line_error(run("publish", island, tmp_path / "absent.md", "--as", "alice"), "absent.md")
    shapes = {"yaml.md": ("---\ntitle: [oops\n---\nx\n", "YAML"),
              "unknown.md": ("---\ntitle: Ok\ncolour: red\n---\nx\n", "colour"),
              "open.md": ("---\ntitle: Ok\n", "never closed"),
              "long.md": ("---\ntitle: Long\n---\n" + "mot " * 30_000, "longer than"),
              "kind.md": ("---\ntitle: Ok\nkind: poem\n---\nx\n", "poem")}
    for name, (text, fragment) in shapes.items():
        (tmp_path / name).write_text(text)
        one_line_error(run("publish", island, tmp_path / name, "--as", "alice"), fragment)
    (tmp_path / "latin1.md").write_bytes("---\ntitle: Été\n---\n".encode("latin-1"))
    one_line_error(run("publish", island, tmp_path / "latin1.md", "--as", "alice"), "UTF-8")
    one_line_error(run("publish", island, tmp_path, "--as", "alice"), str(tmp_path))  # a folder, not a file


def test_names_that_are_refused(island):
    one_line_error(run("user", "add", island, "admin"), "reserved")
    one_line_error(run("user", "add", island, "Élodie"), "Élodie")
    one_line_error(run("user", "add", island, "alice"), "alice")
    one_line_error(run("publish", island, "/dev/null", "--as", "ghost"), "ghost")
    one_line_error(run("unpublish", island, "http://127.0.0.1:9/o/nothing"), "nothing")


def test_refused_and_failed_fetches(island):
    strict = {"ARCHIPEL_ALLOW_PRIVATE_NETWORKS": "0"}  # nothing leaves: every address below is refused
    for target in ("http://127.0.0.1:1/users/x", "http://[::ffff:127.0.0.1]:1/users/x", "http://0x7f000001/u",
                   "file:///etc/passwd", "@bob@localhost:1"):
        one_line_error(run("follow", island, target, env=strict))
    one_line_error(run("follow", island, "not a handle"))
    one_line_error(run("follow", island, "@bob@127.0.0.1:1"), "127.0.0.1:1")  # nothing listens there


def test_databases_that_cannot_be_used(tmp_path, island):
    corrupt = tmp_path / "corrupt"
    shutil.copytree(island, corrupt, ignore=shutil.ignore_patterns("archipel.db*"))
    (corrupt / "archipel.db").write_bytes(os.urandom(8192))
    one_line_error(run("requests", corrupt), "database")
    empty = tmp_path / "empty"
    shutil.copytree(island, empty, ignore=shutil.ignore_patterns("archipel.db*"))
    one_line_error(run("requests", empty), "archipel migrate")
    unreachable = {"ARCHIPEL_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/x"}
    one_line_error(run("requests", island, env=unreachable), "database")
    with sqlite3.connect(island / "archipel.db") as db:  # a table gone: the schema says current, it is not
        db.execute("ALTER TABLE follows RENAME TO follows_elsewhere")
    try:
        one_line_error(run("requests", island), "database")
    finally:
        with sqlite3.connect(island / "archipel.db") as db:
            db.execute("ALTER TABLE follows_elsewhere RENAME TO follows")


@ROOT_ONLY
def test_a_full_disk(tmp_path, island):
    full = tmp_path / "full"
    full.mkdir()
    (tmp_path / "big.md").write_text("---\ntitle: Gros\n---\n" + "mot " * 20_000)
    assert run("publish", island, tmp_path / "big.md", "--as", "alice").returncode == 0

    def on_full_disk(*args, size="48k"):
        mount = f"mount -t tmpfs -o size={size} tmpfs {full} && exec \"$@\""
        return run(*args, wrap=["unshare", "-m", "sh", "-c", mount, "sh"])

    one_line_error(on_full_disk("init", full / "ile", "--url", "http://127.0.0.1:9", "--name", "Île"), "space")
    one_line_error(on_full_disk("export", island, full / "out", size="16k"), "space")
    one_line_error(on_full_disk("init", full / "ile", "--url", "http://127.0.0.1:9", "--name", "Île", size="16k"),
                   "disk")  # SQLite says "disk I/O error" or "database or disk is full"


def test_an_unexpected_error_is_one_line_with_the_way_to_its_traceback(island):
    result = run("serve", island, "--listen", "127.0.0.1:notaport")
    assert "Traceback" not in result.stderr and result.returncode in (1, 2)
    errors = [line for line in result.stderr.splitlines() if line.startswith("archipel: ")]
    assert len(errors) == 1, result.stderr
    if result.returncode == 2:
        assert "ARCHIPEL_DEBUG=1" in errors[0]
        debug = run("serve", island, "--listen", "127.0.0.1:notaport", env={"ARCHIPEL_DEBUG": "1"})
        assert "Traceback" in debug.stderr and debug.returncode != 0
