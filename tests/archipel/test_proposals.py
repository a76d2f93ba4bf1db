"""The proposal domain without HTTP: checks, credit, improvements that keep what the form hides,
decisions in the audit log, the status token; and the rate limiter."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from archipel import audit, proposals
from archipel.errors import InvalidInput
from archipel.ratelimit import RateLimiter
from archipel.storage.tables import LocalActor, Notification, StoredObject

FIELDS = {"title": "  Le   jardin ", "source": "Texte", "tags": ["Alimentation", "alimentation"],
          "licence": "CC BY 4.0", "data": {"pitch": "Un potager", "territory": {"place": "Brest"}}}


def test_fields_are_checked_like_the_trainers_form():
    checked = proposals.check_fields("fiche", FIELDS)
    assert checked["title"] == "Le jardin" and checked["licence"] == "CC-BY-4.0"
    assert checked["tags"] == ["Alimentation"] and checked["credit"] is True
    assert checked["data"]["territory"]["place"] == "Brest"
    for bad, message in (({"title": ""}, "titre"), ({"title": "x" * 301}, "titre"),
                         ({"licence": "tous droits réservés"}, "Licence"),
                         ({"data": {"sections": {"nope": "x"}}}, "Sections"),
                         ({"source": "", "data": {}}, "une accroche ou un texte")):
        with pytest.raises(InvalidInput, match=message):
            proposals.check_fields("fiche", {**FIELDS, **bad})
    with pytest.raises(InvalidInput):
        proposals.check_fields("article", FIELDS)


def test_links_and_sizes_are_counted_in_every_field():
    fields = {"title": "www.a.example", "data": {"sections": {"goals": "https://b.example http://c.example"}},
              "tags": ["HTTPS://d.example"]}
    assert proposals.count_links(fields) == 4
    assert proposals.total_chars({"a": "abc", "b": ["de", {"c": "f"}], "n": 3}) == 6


def test_credit_lines():
    proposal = proposals.Proposal(kind="new", proposer_name="Zoé", fields={"credit": True})
    assert proposals.credit_line(proposal) == "Proposée par Zoé."
    proposal.fields = {"credit": False}
    assert proposals.credit_line(proposal) == "Proposée par une personne de passage."
    proposal.kind, proposal.proposer_actor_uri = "edit", "https://masto.example/users/rosa"
    assert proposals.credit_line(proposal) == "Amélioration proposée par https://masto.example/users/rosa."
    assert proposals.with_credit("D'après X.", "Proposée par Zoé.") == "D'après X. Proposée par Zoé."
    assert proposals.with_credit("Proposée par Zoé.", "Proposée par Zoé.") == "Proposée par Zoé."
    assert proposals.with_credit("x" * 1990, "Proposée par Zoé.") == "x" * 1990  # never over the limit


def test_an_improvement_changes_only_what_the_form_showed():
    item = StoredObject(kind="fiche", fields={
        "pitch": "Avant", "steps": ["Un"], "holders": [{"name": "Asso", "kind": "organisation", "url": ""}],
        "territory": {"place": "Brest", "region": "", "latitude": 48.39, "longitude": -4.49},
        "attribution": "D'après X."})
    proposal = proposals.Proposal(kind="edit", proposer_name="Yann", fields=proposals.check_fields("fiche", {
        "title": "T", "source": "S", "data": {"pitch": "Après", "territory": {"place": "Quimper"}}}))
    changes = proposals.improvement(item, proposal)
    assert set(changes["data"]) == {"pitch", "sections", "territory", "audience", "attribution"}
    assert changes["data"]["territory"] == {"place": "Quimper", "region": "", "latitude": 48.39, "longitude": -4.49}
    assert changes["data"]["attribution"] == "D'après X. Amélioration proposée par Yann."


async def test_create_decide_and_the_audit_log(island):
    async with island.sessions() as session:
        moderator = await session.scalar(select(LocalActor).where(LocalActor.username == "alice"))
        proposal, token = await proposals.create(session, item_kind="fiche", fields=FIELDS, origin="form",
                                                 proposer_name="  Zoé   M ", proposer_email=" zoe@example.org ")
        assert proposal.proposer_name == "Zoé M" and proposal.proposer_email == "zoe@example.org"
        assert await proposals.find_by_token(session, token) is proposal
        assert await proposals.find_by_token(session, token + "x") is None
        assert await session.scalar(select(Notification.id)) is None  # alice is an author: not notified
        assert not await proposals.edit(session, proposal, moderator, dict(FIELDS))  # nothing changed
        assert await proposals.edit(session, proposal, moderator, {**FIELDS, "title": "Autre"})
        with pytest.raises(InvalidInput, match="raison"):
            await proposals.mark_refused(session, proposal, moderator, "   ")
        await proposals.mark_refused(session, proposal, moderator, "Hors sujet")
        with pytest.raises(InvalidInput, match="déjà été traitée"):
            await proposals.mark_accepted(session, proposal, moderator, "https://x/o/1")
        entries = await audit.recent(session)
        assert [(e.action, e.reason) for e in entries] == [("refuse_proposal", "Hors sujet"), ("edit_proposal", "")]
        assert entries[1].details == {"changed": ["title"], "title": "Autre"}
        with pytest.raises(InvalidInput, match="Origine"):
            await proposals.create(session, item_kind="fiche", fields=FIELDS, origin="pigeon")


def test_the_rate_limiter_slides():
    now = [1000.0]
    limiter = RateLimiter(2, 60, clock=lambda: now[0], max_keys=2)
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    assert limiter.retry_after("a") == 60
    now[0] += 30
    assert limiter.allow("b") and not limiter.allow("a")
    now[0] += 31  # a's first two hits left the window
    assert limiter.allow("a") and limiter.retry_after("b") == 0
    limiter.allow("c")  # a third key: the one seen least recently (a) is forgotten
    assert set(limiter._hits) == {"b", "c"}
    assert all(RateLimiter(0, 60).allow("x") for _ in range(100))  # 0: no limit


async def test_two_moderators_cannot_both_decide(island):
    async with island.sessions() as session:
        proposal, _ = await proposals.create(session, item_kind="fiche", fields=FIELDS, origin="form")
        await session.commit()
    async with island.sessions() as first:
        mine = await first.get(proposals.Proposal, proposal.id)
        await proposals.claim(first, mine)
        await proposals.mark_refused(first, mine, await first.get(LocalActor, 1), "Doublon")
        await first.commit()
    async with island.sessions() as second:
        stale = proposals.Proposal(id=proposal.id, state="pending")  # what a second page still showed
        with pytest.raises(InvalidInput, match="déjà été traitée"):
            await proposals.claim(second, stale)
