"""A media row and its file appear together or not at all: a file written for a row that is never
committed is removed, a deleted row's file goes with the commit, and what a crash leaves behind is
put right (a committed row's pending file promoted, an uncommitted one swept away)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from archipel import accounts
from archipel import media as media_store
from archipel.storage.tables import LocalActor, Media
from tests.web.test_media import pdf, png


def files_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.rglob("*") if path.is_file()) if directory.exists() else []


@pytest.fixture
def directory(island) -> Path:
    return Path(island.settings.effective_media_directory)


async def alice(session) -> LocalActor:
    return await accounts.get_actor(session, "alice")


async def test_a_committed_upload_keeps_its_file_under_its_final_name(island, directory):
    async with island.sessions() as session:
        stored = await media_store.store_upload(session, directory, await alice(session), "a.pdf", pdf())
        assert files_in(directory) == [f"{stored.id}.pending"]  # written, not yet believed
        await session.commit()
    assert files_in(directory) == [stored.id]
    assert media_store.media_path(directory, stored.id).read_bytes() == pdf()


async def test_a_rolled_back_upload_leaves_no_file(island, directory):
    async with island.sessions() as session:
        await media_store.store_upload(session, directory, await alice(session), "a.pdf", pdf())
        await media_store.store_upload(session, directory, await alice(session), "b.png", png())
        assert len(files_in(directory)) == 2
        await session.rollback()
    assert files_in(directory) == []
    # The session goes on: a later upload in it is kept when it commits.
    async with island.sessions() as session:
        await media_store.store_upload(session, directory, await alice(session), "a.pdf", pdf())
        await session.rollback()
        kept = await media_store.store_upload(session, directory, await alice(session), "c.pdf", pdf())
        await session.commit()
    assert files_in(directory) == [kept.id]


async def test_a_session_closed_without_commit_leaves_no_file(island, directory):
    async with island.sessions() as session:
        await media_store.store_upload(session, directory, await alice(session), "a.pdf", pdf())
    assert files_in(directory) == []


async def test_a_row_that_fails_to_save_leaves_no_file(island, directory):
    ghost = LocalActor(id=999_999, username="ghost")  # no such actor: the row breaks a foreign key
    with pytest.raises(IntegrityError):
        async with island.sessions() as session:
            await media_store.store_upload(session, directory, ghost, "a.pdf", pdf())
            await session.commit()
    assert files_in(directory) == []
    async with island.sessions() as session:
        assert list(await session.scalars(select(Media))) == []


async def test_a_deleted_rows_file_goes_only_when_the_deletion_commits(island, directory):
    async with island.sessions() as session:
        stored = await media_store.store_upload(session, directory, await alice(session), "a.pdf", pdf())
        await session.commit()
    async with island.sessions() as session:
        await media_store.delete_media(session, directory, await session.get(Media, stored.id))
        await session.rollback()
    assert files_in(directory) == [stored.id]
    async with island.sessions() as session:
        await media_store.delete_media(session, directory, await session.get(Media, stored.id))
        await session.commit()
    assert files_in(directory) == []


async def test_after_a_crash_committed_files_are_promoted_and_others_swept(island, directory, monkeypatch):
    # A crash right after the commit, before the rename: the row exists, its file is still pending.
    monkeypatch.setattr(media_store, "_after_commit", lambda sync_session: None)  # the process dies here
    monkeypatch.setattr(media_store, "_after_transaction_end", lambda sync_session, transaction: None)
    async with island.sessions() as session:
        committed = await media_store.store_upload(session, directory, await alice(session), "a.pdf", pdf())
        read_later = await media_store.store_upload(session, directory, await alice(session), "b.pdf", pdf(900))
        await session.commit()
    monkeypatch.undo()
    # A crash before the commit: a pending file whose row never was.
    orphan = media_store.media_path(directory, "01j00000000000000000000000")
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.with_name(orphan.name + ".pending").write_bytes(b"half written")
    assert files_in(directory) == sorted([f"{committed.id}.pending", f"{read_later.id}.pending",
                                          f"{orphan.name}.pending"])

    # Reading a committed row's file promotes it.
    async with island.sessions() as session:
        row = await session.get(Media, read_later.id)
    assert media_store.existing_file(directory, row) == media_store.media_path(directory, read_later.id)

    # The sweep leaves young files alone (they may be in a transaction right now) ...
    async with island.sessions() as session:
        assert await media_store.sweep_pending(session, directory) == (0, 0)
    # ... and settles the older ones.
    old = time.time() - 2 * media_store.STALE_PENDING_SECONDS
    for path in directory.rglob("*.pending"):
        os.utime(path, (old, old))
    async with island.sessions() as session:
        assert await media_store.sweep_pending(session, directory) == (1, 1)
    assert files_in(directory) == sorted([committed.id, read_later.id])


async def test_the_island_settles_what_a_crash_left_when_it_starts_again(island, directory):
    async with island.sessions() as session:
        kept = await media_store.store_upload(session, directory, await alice(session), "a.pdf", pdf())
        await session.commit()
    path = media_store.media_path(directory, kept.id)
    os.replace(path, path.with_name(path.name + ".pending"))  # as if the rename never happened
    orphan = media_store.media_path(directory, "01j00000000000000000000000")
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.with_name(orphan.name + ".pending").write_bytes(b"never committed")
    old = time.time() - 2 * media_store.STALE_PENDING_SECONDS
    for pending in directory.rglob("*.pending"):
        os.utime(pending, (old, old))
    await island.restart()
    assert files_in(directory) == [kept.id]
