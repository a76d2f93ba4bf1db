"""Replicated items have read-only local pages; servers are told the canonical id, never
redirected to another host."""

import re

import aiohttp

from tests.flows.test_fiches import publish_file
from tests.nodes import island_follows, wait_for


async def test_a_replica_is_readable_here_even_when_its_island_is_down(make_island):
    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await island_follows(nantes, brest)
    uri = await publish_file(brest, "papi-brest.md", "alice")
    await wait_for(lambda: nantes.object(uri), message="the replica")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{nantes.url}/") as response:
            home = await response.text()
        local = re.search(r'href="(/r/\d+)">Les Points', home).group(1)
        await brest.stop()  # the origin is down: its replica stays readable
        async with http.get(f"{nantes.url}{local}") as response:
            page = await response.text()
            assert response.status == 200
        assert "Les Points d&#39;Accès Public à Internet de Brest" in page
        assert f'href="{uri}"' in page  # the original, credited
        assert f'<link rel="alternate" type="application/activity+json" href="{uri}">' in page
        assert "<h2>Mode d&#39;emploi</h2>" in page or "Mode d'emploi" in page
        for accept in ("application/activity+json", 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
                       "application/activity+json, text/html;q=0.1", "*/*"):
            async with http.get(f"{nantes.url}{local}", headers={"Accept": accept},
                                allow_redirects=False) as response:
                # No redirect (to brest or anywhere), no AS2 document for an id that is not ours:
                # the page, whose Link header names the canonical id (what Mastodon's search follows).
                assert response.status == 200 and "Location" not in response.headers, accept
                assert response.content_type == "text/html", accept
                assert response.headers["Link"] == f'<{uri}>; rel="alternate"; type="application/activity+json"'
        async with http.get(f"{nantes.url}/r/999999") as response:
            assert response.status == 404


async def test_an_activity_page_sends_a_person_to_a_page_here_never_to_another_host(make_island):
    """/a/<id> shows a person the object of one of our activities: ours, or the local page of a
    replica; for an object with no page here, the activity itself (no redirect)."""
    from archipel.accounts import island_actor
    from archipel.storage.tables import OutgoingActivity

    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await island_follows(nantes, brest)
    uri = await publish_file(brest, "papi-brest.md", "alice")
    await wait_for(lambda: nantes.object(uri), message="the replica")
    replica = await nantes.object(uri)
    async with nantes.sessions() as session:
        island = await island_actor(session)
        for ulid, object_uri in (("01HZZZZZZZZZZZZZZZZZZZZZZA", uri),
                                 ("01HZZZZZZZZZZZZZZZZZZZZZZB", "https://evil.example/o/1"),
                                 ("01HZZZZZZZZZZZZZZZZZZZZZZC", "//evil.example/o/1")):
            session.add(OutgoingActivity(activity_uri=f"{nantes.url}/a/{ulid}", activity_type="Announce",
                                         actor_id=island.id, object_uri=object_uri, public=True,
                                         payload={"type": "Announce", "object": object_uri}))
        await session.commit()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{nantes.url}/a/01HZZZZZZZZZZZZZZZZZZZZZZA", allow_redirects=False,
                            headers={"Accept": "text/html"}) as response:
            assert response.status == 302 and response.headers["Location"] == f"/r/{replica.id}"
        for ulid in ("01HZZZZZZZZZZZZZZZZZZZZZZB", "01HZZZZZZZZZZZZZZZZZZZZZZC"):
            async with http.get(f"{nantes.url}/a/{ulid}", allow_redirects=False,
                                headers={"Accept": "text/html"}) as response:
                assert response.status == 200 and "Location" not in response.headers, ulid
