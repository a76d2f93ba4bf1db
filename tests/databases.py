"""Databases for test islands: SQLite files by default; a fresh PostgreSQL database per island
when ARCHIPEL_TEST_POSTGRES is set (e.g. postgresql://postgres@127.0.0.1:5432/test)."""

from __future__ import annotations

import os
import uuid

import asyncpg

POSTGRES_ENV = "ARCHIPEL_TEST_POSTGRES"


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


async def postgres_available(url: str) -> bool:
    try:
        connection = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


class DatabaseFactory:
    """Hands out one empty database per island and drops the PostgreSQL ones afterwards."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.admin_url = postgres_admin_url()
        self.created: list[str] = []

    @property
    def backend(self) -> str:
        return "postgresql" if self.admin_url else "sqlite"

    async def new(self, name: str) -> str | None:
        """None means the island's default (SQLite in its folder)."""
        if not self.admin_url:
            return None
        database = f"archipel_test_{name.replace('-', '_')}_{uuid.uuid4().hex[:10]}"
        connection = await asyncpg.connect(self.admin_url)
        try:
            await connection.execute(f'CREATE DATABASE "{database}"')
        finally:
            await connection.close()
        self.created.append(database)
        base = self.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        return f"{base}/{database}"

    async def drop_all(self) -> None:
        if not self.created:
            return
        connection = await asyncpg.connect(self.admin_url)
        try:
            for database in self.created:
                await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await connection.close()
