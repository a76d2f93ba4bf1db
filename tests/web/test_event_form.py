"""Writing an event from the trainers' pages, over real HTTP: the form's date, time and zone
fields, its errors (nothing saved), the stored instants, editing (a revision, its diff)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import aiohttp

from archipel import content, revisions
from web import provision

PASSWORD = "correct horse battery"
EVENT_FORM = {
    "title": "Atelier wiki de territoire", "source": "Deux heures pour écrire à plusieurs.",
    "start": "2027-07-01T09:30", "end": "2027-07-01T12:00", "time_zone": "Europe/Paris",
    "place": "Médiathèque des Capucins", "region": "Brest", "latitude": "48.3889", "longitude": "-4.5056",
    "online": "", "registration": "https://inscriptions.example/wiki",
    "organisers": "Tiriad | https://tiriad.example\nWiki-Brest", "uses": "https://ile.example/o/01aaaaaaaaaaaaaaaaaaaaaaaa",
    "themes": "Wiki", "language": "fr", "licence": "CC-BY-SA-4.0", "coauthors": "",
}


async def logged_in(island, http: aiohttp.ClientSession) -> str:
    """Logs in as claire (an author); returns the anti-forgery token of her pages."""
    await provision.add_user(island.sessions, username="claire", password=PASSWORD, display_name="Claire",
                             role="author")
    async with http.get(f"{island.url}/login") as response:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
    async with http.post(f"{island.url}/login", data={"csrf_token": token, "username": "claire",
                                                      "password": PASSWORD}, allow_redirects=False) as response:
        assert response.status == 303
    async with http.get(f"{island.url}/espace") as response:
        return re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)


async def test_an_event_written_in_the_form_is_stored_in_its_zone_and_edited_with_revisions(island):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await logged_in(island, http)
        async with http.get(f"{island.url}/espace/nouveau?kind=event") as response:
            page = await response.text()
        assert response.status == 200 and 'type="datetime-local"' in page
        assert '<option value="Europe/Paris" selected>France (Paris)</option>' in page
        assert '<option value="Indian/Reunion">La Réunion</option>' in page

        new = f"{island.url}/espace/nouveau?kind=event"
        backwards = {**EVENT_FORM, "end": "2027-07-01T08:00", "csrf_token": token, "action": "publish"}
        async with http.post(new, data=backwards, allow_redirects=False) as response:
            assert response.status == 400 and "La fin vient avant le début." in await response.text()
        bad_zone = {**EVENT_FORM, "time_zone": "Europe/Atlantide", "csrf_token": token, "action": "publish"}
        async with http.post(new, data=bad_zone, allow_redirects=False) as response:
            assert response.status == 400 and "fuseau horaire" in await response.text()
        async with island.sessions() as session:
            assert [item async for item in await session.stream_scalars(content.public_items(kinds=("event",)))] == []

        async with http.post(new, data={**EVENT_FORM, "csrf_token": token, "action": "publish"},
                             allow_redirects=False) as response:
            assert response.status == 303
            edit_path = response.headers["Location"].split("?")[0]
        uri = f"{island.url}/o/{edit_path.split('/')[3]}"
        item = await island.object(uri)
        assert item.kind == "event" and item.state == "published"
        assert item.starts_at == datetime(2027, 7, 1, 7, 30, tzinfo=timezone.utc)  # summer time in Paris
        assert item.fields["organisers"] == [{"name": "Tiriad", "url": "https://tiriad.example"},
                                             {"name": "Wiki-Brest", "url": ""}]
        assert item.fields["registration"] == "https://inscriptions.example/wiki"
        # Its page in English writes the times and the facts in English (stored in French).
        async with http.get(uri, headers={"Accept-Language": "en"}) as response:
            english = await response.text()
        assert "From July 1, 2027" in english and ">Registration</a>" in english and "Organisers" in english
        assert "Du 1 juillet" not in english and ">Inscription</a>" not in english
        async with http.get(uri, headers={"Accept-Language": "fr"}) as response:
            assert "Du 1 juillet 2027 à 09:30" in await response.text()

        # The edit form shows the times as they were typed, and a change is a revision.
        async with http.get(f"{island.url}{edit_path}") as response:
            page = await response.text()
        assert 'value="2027-07-01T09:30"' in page and 'value="2027-07-01T12:00"' in page
        changed = {**EVENT_FORM, "end": "2027-07-01T12:30", "state": "published", "csrf_token": token,
                   "action": "save"}
        async with http.post(f"{island.url}{edit_path}", data=changed, allow_redirects=False) as response:
            assert response.status == 303
        async with island.sessions() as session:
            item = await content.find_object(session, uri)
            assert item.ends_at == datetime(2027, 7, 1, 10, 30, tzinfo=timezone.utc)
            assert [r.number for r in await revisions.history(session, item)] == [2, 1]
        async with http.get(f"{uri}/historique/1/2") as response:
            diff = await response.text()
        # The end's line, its changed word marked (12:00 -> 12:30).
        assert response.status == 200 and "Fin" in diff
        assert re.search(r"12:<del>(<span[^>]*>[^<]*</span>)?00</del><ins>(<span[^>]*>[^<]*</span>)?30</ins>", diff), diff
