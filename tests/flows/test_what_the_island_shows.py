"""Only the island decides what it says: its listings (home, /federated, theme and tag pages,
outbox), its re-shares (island Announce, hub mode, theme actors) and its local actors hold items
of this island and of the islands it follows — never what a stranger sends, whatever the shape:
addressed to the island, mentioning a member, boosting itself, posted by a person a member
follows, claiming to come from a followed island, or editing a followed island's fiche."""

from __future__ import annotations

import aiohttp
from sqlalchemy import func, select

from archipel.storage.tables import LocalActor, OutgoingActivity, Share, utcnow
from federation import documents
from federation.vocabulary import PUBLIC
from tests.flows.test_blocks import _post_signed_by
from tests.flows.test_fiches import publish_file
from tests.flows.test_remote_interactions import settled
from tests.flows.test_theme_actors import backfilled, get_json, remote_follows
from tests.nodes import island_follows, wait_for

TITLE = "Fiche pirate Zorglub"


def stranger_fiche(remote, n: int, *, to: list[str], cc: list[str] = (), mention: str | None = None,
                   attributed_to: str | None = None, actor: str | None = None) -> dict:
    """A Create of a fiche-shaped Article, tagged with a theme of the island and a new one."""
    rosa = remote.actor_uri("rosa")
    note_id = f"{remote.url}/fiches/{n}"
    tags = [{"type": "Hashtag", "name": "#Inclusion"}, {"type": "Hashtag", "name": "#ZorglubSpam"}]
    if mention:
        tags.append({"type": "Mention", "href": mention, "name": "@alice"})
    obj = {"id": note_id, "type": "Article", "attributedTo": attributed_to or rosa, "name": f"{TITLE} {n}",
           "content": "<p>Achetez !</p>", "to": to, "cc": list(cc), "tag": tags, "itemKind": "fiche",
           "published": documents.rfc3339(utcnow()),
           "details": {"summary": "Achetez", "source": "Achetez **maintenant**", "state": "published",
                       "tags": ["Inclusion", "Zorglub Spam"]}}
    return {"@context": ["https://www.w3.org/ns/activitystreams", documents.OBJECT_CONTEXT[1]],
            "id": f"{note_id}/create", "type": "Create", "actor": actor or rosa, "to": to, "cc": list(cc),
            "object": obj}


async def page(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status in (200, 404), (url, response.status)
        return await response.text() if response.status == 200 else ""


async def listed_anywhere(island, text: str, ids: str) -> list[str]:
    """The listings of the island where `text` shows (pages) or an id starting with `ids` (AS2)."""
    island_actor = island.actor_uri(island.island_username)
    places = {"/": f"{island.url}/", "/federated": f"{island.url}/federated",
              "/tags/inclusion": f"{island.url}/tags/inclusion", "/tags/zorglubspam": f"{island.url}/tags/zorglubspam"}
    found = [name for name, url in places.items() if text in await page(url)]
    for name, url in {"island outbox": f"{island_actor}/outbox?page=true",
                      "theme featured": f"{island.actor_uri('inclusion')}/collections/featured"}.items():
        status, document = await get_json(url)
        if ids in str(document):
            found.append(name)
    return found


async def shares_of(island, uri: str) -> list[str]:
    """Every re-share of `uri` the island made or recorded (Announces, theme shares)."""
    async with island.sessions() as session:
        announces = list(await session.scalars(select(OutgoingActivity.activity_type).where(
            OutgoingActivity.object_uri == uri)))
        shares = await session.scalar(select(func.count(Share.id)).where(Share.object_uri == uri))
    return announces + ["share"] * shares


async def theme_actors(island) -> set[str]:
    async with island.sessions() as session:
        return set(await session.scalars(select(LocalActor.theme_key).where(LocalActor.kind == "theme")))


async def test_nothing_a_stranger_sends_is_listed_shared_or_makes_a_theme(make_island, remote):
    brest = await make_island("brest", hub=True)
    await brest.add_user("alice")
    await publish_file(brest, "papi-brest.md", "alice")  # the island's own themes, Inclusion among them
    remote.add_actor("tom")
    await remote_follows(brest, remote, brest.island_username, name="tom")  # someone a re-share would reach
    await remote_follows(brest, remote, "inclusion", name="tom")
    themes_before = await theme_actors(brest)
    island_id, alice = brest.actor_uri(brest.island_username), brest.actor_uri("alice")
    rosa = remote.actor_uri("rosa")

    # Shapes that are stored (the island is addressed, a member mentioned) but stay out of sight.
    addressed = stranger_fiche(remote, 1, to=[island_id, PUBLIC])
    mentioning = stranger_fiche(remote, 2, to=[PUBLIC], cc=[f"{rosa}/followers", alice], mention=alice)
    for activity in (addressed, mentioning):
        status, text = await remote.post(f"{brest.url}/inbox", activity)
        assert status == 202, text
        await settled(brest, activity["id"])
    stored = await brest.object(mentioning["object"]["id"])
    assert stored is not None and stored.kind == "fiche" and "Zorglub Spam" in stored.tags  # a real attempt

    # rosa boosts her own fiche: nobody here follows her, nothing is fetched or stored.
    remote.serve(f"{remote.url}/fiches/3", {**stranger_fiche(remote, 3, to=[PUBLIC])["object"],
                                            "@context": "https://www.w3.org/ns/activitystreams"})
    boost = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.url}/boosts/3",
             "type": "Announce", "actor": rosa, "object": f"{remote.url}/fiches/3", "to": [PUBLIC]}
    status, _ = await remote.post(f"{brest.url}/inbox", boost)
    assert status == 202 and (await settled(brest, boost["id"])).state == "ignored"
    assert await brest.object(f"{remote.url}/fiches/3") is None

    # alice, a member, follows rosa (a person, from Mastodon): rosa's posts come in, for alice,
    # and still never onto the island's pages nor into its shares.
    await brest.follow("alice", rosa)
    [follow] = await wait_for(lambda: remote.received_of_type("Follow"), message="alice's Follow")
    accept = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.url}/accepts/1",
              "type": "Accept", "actor": rosa, "object": follow["id"]}
    status, _ = await remote.post(f"{brest.url}/users/alice/inbox", accept)
    assert status == 202 and (await settled(brest, accept["id"])).state == "processed"
    followed_post = stranger_fiche(remote, 4, to=[PUBLIC], cc=[f"{rosa}/followers"])
    status, _ = await remote.post(f"{brest.url}/inbox", followed_post)
    assert status == 202 and (await settled(brest, followed_post["id"])).state == "processed"
    followed_boost = {**boost, "id": f"{remote.url}/boosts/3-again"}
    status, _ = await remote.post(f"{brest.url}/inbox", followed_boost)
    assert status == 202 and (await settled(brest, followed_boost["id"])).state == "processed"
    assert await brest.object(f"{remote.url}/fiches/3") is not None

    for n in (1, 2, 3, 4):
        assert await shares_of(brest, f"{remote.url}/fiches/{n}") == [], n
    assert await listed_anywhere(brest, TITLE, f"{remote.url}/fiches/") == []
    assert await theme_actors(brest) == themes_before and "zorglubspam" not in themes_before
    status, _ = await get_json(f"{brest.url}/.well-known/webfinger",
                               resource=f"acct:zorglub-spam@{brest.url.split('://')[1]}")
    assert status == 404
    assert [a for a in remote.received if a["activity"].get("type") == "Announce"
            and TITLE in str(a["activity"])] == []


async def test_items_of_followed_islands_are_listed_and_shared_and_their_ids_cannot_be_borrowed(
        make_island, remote):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await nantes.add_user("yann")
    await island_follows(brest, nantes)
    await backfilled(brest)
    theirs = await publish_file(nantes, "papi-brest.md", "yann")
    item = await wait_for(lambda: brest.object(theirs), message="nantes' fiche on brest")
    listed = await listed_anywhere(brest, "Internet de Brest", theirs)  # (its title has a quote: escaped)
    assert {"/", "/federated", "/tags/inclusion", "theme featured"} <= set(listed), listed
    assert "share" in await shares_of(brest, theirs)  # brest's theme actor shares it

    nantes_island = nantes.actor_uri(nantes.island_username)
    # A stranger's post claiming to be the followed island's, or a member's, on the stranger's host.
    for n, author in ((5, nantes_island), (6, nantes.actor_uri("yann"))):
        claimed = stranger_fiche(remote, n, to=[PUBLIC, brest.actor_uri(brest.island_username)],
                                 attributed_to=author)
        status, _ = await remote.post(f"{brest.url}/inbox", claimed)
        assert status == 202 and (await settled(brest, claimed["id"])).state == "ignored"
        assert await brest.object(claimed["object"]["id"]) is None
    # The followed island's key boosting a stranger's fiche that claims to be the island's.
    remote.serve(f"{remote.url}/fiches/7", {**stranger_fiche(remote, 7, to=[PUBLIC], attributed_to=nantes_island)
                                            ["object"], "@context": "https://www.w3.org/ns/activitystreams"})
    boost = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{nantes.url}/boosts/7",
             "type": "Announce", "actor": nantes_island, "object": f"{remote.url}/fiches/7", "to": [PUBLIC]}
    await _post_signed_by(nantes, brest, boost)
    assert (await settled(brest, boost["id"])).state == "ignored"
    assert await brest.object(f"{remote.url}/fiches/7") is None

    # Someone else's Update of nantes' fiche: as themselves, or claiming to be yann (then the
    # body is not trusted and the origin is asked): the fiche stays as nantes published it.
    # The claimed one has its id on yann's host: an id on another host than its actor's is
    # dropped at the inbox (federation.inbox.provenance_key) and would never reach the worker.
    for n, actor in ((1, remote.actor_uri("rosa")), (2, nantes.actor_uri("yann"))):
        origin = remote.url if n == 1 else nantes.url
        spoofed = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{origin}/updates/{n}",
                   "type": "Update", "actor": actor,
                   "object": {"id": theirs, "type": "Article", "attributedTo": nantes.actor_uri("yann"),
                              "name": TITLE, "updated": "2030-01-01T00:00:00Z"}}
        status, _ = await remote.post(f"{brest.url}/inbox", spoofed)
        assert status == 202
        await settled(brest, spoofed["id"])
    assert (await brest.object(theirs)).name == item.name
    assert await listed_anywhere(brest, TITLE, f"{remote.url}/fiches/") == []


async def test_a_hubs_re_share_of_an_island_it_follows_is_part_of_the_archipelago(make_island, remote):
    """lyon follows the hub brest, not nantes: nantes' fiche, re-shared by brest, is lyon's to show.
    A person followed by one of lyon's members boosting it does not make it so."""
    nantes, brest, lyon = await make_island("nantes"), await make_island("brest", hub=True), await make_island("lyon")
    await nantes.add_user("yann")
    await island_follows(brest, nantes)
    await island_follows(lyon, brest)
    await backfilled(lyon)
    theirs = await publish_file(nantes, "papi-brest.md", "yann")
    item = await wait_for(lambda: lyon.object(theirs), message="nantes' fiche on lyon, through brest")
    listed = await wait_for(lambda: listed_anywhere(lyon, "Internet de Brest", theirs), message="listed on lyon")
    assert {"/", "/federated", "/tags/inclusion"} <= set(listed), listed
    assert (item.extra or {}).get("shared_by") == brest.actor_uri(brest.island_username)
