"""The desk's figures are read through indexes on both databases: no statement of
archipel/desk.py scans a queue, the follows or the moderation tables (a desk on an island with
millions of finished rows costs what it costs on a new one), and counts stop at the cap."""

from __future__ import annotations

import re

from archipel import desk
from archipel.storage.tables import Proposal, utcnow
from tests.query_plans import plan

# catalog_syncs is left out: one row per island followed (a few dozen), read whole.
BIG_TABLES = ("incoming_activities", "deliveries", "outgoing_mail", "proposals", "reports", "follows")


def full_scans(plan_text: str) -> list[str]:
    scans = []
    for table in BIG_TABLES:
        # SQLite: "SCAN deliveries" without an index; PostgreSQL: "Seq Scan on deliveries".
        if re.search(rf"\bSCAN {table}\b(?! USING)", plan_text) or f"Seq Scan on {table}" in plan_text:
            scans.append(table)
    return scans


async def test_every_figure_of_the_desk_is_read_through_an_index(island):
    statements = [statement for pair in desk.queue_statements(utcnow()).values() for statement in pair]
    statements += list(desk.moderation_statements().values())
    statements += list(desk.relation_statements(island.actor_uri(island.island_username)).values())
    async with island.sessions() as session:
        for statement in statements:
            for query in (statement, desk.capped(statement)):
                explained = await plan(session, query)
                assert not full_scans(explained), explained
            await session.rollback()


async def test_counts_stop_at_the_cap(island, monkeypatch):
    monkeypatch.setattr(desk, "COUNT_CAP", 3)
    async with island.sessions() as session:
        session.add_all([Proposal(token_hash=f"{n:064d}", kind="new", origin="form", fields={}) for n in range(5)])
        await session.commit()
        assert (await desk.moderation(session))["proposals"] == desk.Count(3, more=True)
        monkeypatch.setattr(desk, "COUNT_CAP", 5)
        assert (await desk.moderation(session))["proposals"] == desk.Count(5, more=False)
