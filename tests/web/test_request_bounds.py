"""Numbers and cursors in addresses, compressed bodies: what the database cannot hold is a 400 or
a 404, never a 500 (PostgreSQL refuses a 2**64 id or a NUL where SQLite shrugs)."""

from __future__ import annotations

import gzip
import json
import re
import zlib

import aiohttp
import pytest

from web import provision

HUGE = "99999999999999999999"  # beyond 64 bits
OVER_INT32 = "2147483648"  # row ids are 32-bit on PostgreSQL

ANONYMOUS = [
    ("/users/alice/followers?page=" + HUGE, 400),
    ("/users/alice/followers?page=-1", 400),
    ("/users/alice/followers?page=1&max_id=" + HUGE, 400),
    ("/users/alice/followers?page=1&max_id=-1", 400),
    ("/users/alice/followers?page=1&max_id=1e3", 400),
    ("/users/alice/followers?page=1&max_id=abc", 400),
    ("/users/alice/followers?page=1&max_id=%C2%B2", 400),  # "²" passes str.isdigit()
    ("/users/alice/followers?page=1&max_id=%EF%BC%91", 400),  # a full-width 1: int() takes it
    ("/users/alice/following?page=1&max_id=+1", 400),
    ("/users/alice/outbox?page=1&max_id=" + OVER_INT32, 400),
    ("/users/{island}/catalog?after=abc", 400),
    ("/users/{island}/catalog?after=1_" + HUGE, 400),
    ("/users/{island}/catalog?after=" + HUGE * 2 + "_1", 400),
    ("/users/{island}/catalog?after=1e3_1", 400),
    ("/federated?before=garbage", 400),
    ("/federated?before=1_" + OVER_INT32, 400),
    ("/federated?before=" + HUGE * 2 + "_1", 400),
    ("/federated/stream?after=" + HUGE, 400),
    ("/federated/stream?after=-5", 400),
    ("/r/" + OVER_INT32, 404),
    ("/r/" + HUGE * 2, 404),
    ("{item}?discussion=abc", 400),
    ("{item}?discussion=" + HUGE, 400),
    ("{item}?fil=" + HUGE, 400),
    ("{item}?fil=-3", 400),
    ("{item}/replies?page=1&max_id=" + HUGE, 400),
    ("/users/al%00ice", 400),
    ("/federated?theme=%00", 400),
    ("/federated?%00=1", 400),
    ("/tags/a%00b", 400),
]

# Controls: the same routes with values they must keep accepting.
ACCEPTED = [
    "/users/alice/followers?page=1&max_id=5",
    "/users/alice/followers?page=true",
    "/users/{island}/catalog?after=",
    "/users/{island}/catalog?after=-1000_3",
    "/federated?before=1000_3",
    "{item}?discussion=1&fil=2",
]

MODERATOR = [
    ("/espace/notifications?avant=" + HUGE, 400),
    ("/espace/notifications?avant=abc", 400),
    ("/espace/moderation/journal?avant=" + HUGE, 400),
    ("/espace/moderation/journal?avant=1.5", 400),
    ("/espace/moderation/propositions/999999999999", 404),
    ("/discussion/%C2%B2/supprimer", 404),
    ("/discussion/" + HUGE + "/supprimer", 404),
    ("{item}/historique/1/999999999", 404),
]


@pytest.fixture
async def item(island):
    return await island.publish("alice", "Les PAPI de Brest", "Des **ateliers** chaque semaine.")


def as2(path: str) -> dict:
    wants = path.startswith("/users/")
    return {"Accept": "application/activity+json"} if wants else {}


async def test_numbers_and_cursors_out_of_bounds_are_refused(island, item):
    async with aiohttp.ClientSession() as http:
        for template, expected in ANONYMOUS:
            path = template.format(item=item.removeprefix(island.url), island=island.island_username)
            async with http.get(f"{island.url}{path}", headers=as2(path), allow_redirects=False) as response:
                assert response.status == expected, (path, response.status, await response.text())
        for template in ACCEPTED:
            path = template.format(item=item.removeprefix(island.url), island=island.island_username)
            async with http.get(f"{island.url}{path}", headers=as2(path), allow_redirects=False) as response:
                assert response.status == 200, (path, response.status)


async def test_numbers_out_of_bounds_on_moderators_pages(island, item):
    await provision.add_user(island.sessions, username="gwen", password="correct horse battery", role="admin")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{island.url}/login") as response:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
        form = {"csrf_token": token, "username": "gwen", "password": "correct horse battery"}
        async with http.post(f"{island.url}/login", data=form, allow_redirects=False) as response:
            assert response.status == 303
        for template, expected in MODERATOR:
            path = template.format(item=item.removeprefix(island.url), island=island.island_username)
            async with http.get(f"{island.url}{path}", allow_redirects=False) as response:
                assert response.status == expected, (path, response.status, await response.text())
        async with http.get(f"{island.url}/espace/moderation") as response:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
        for path in ("/espace/moderation/blocages/" + HUGE + "/lever",
                     "/espace/moderation/signalements/" + OVER_INT32):
            async with http.post(f"{island.url}{path}", data={"csrf_token": token}, allow_redirects=False) as response:
                assert response.status == 404, (path, response.status)


# ---- compressed bodies ------------------------------------------------------------------------

def compressed(encoding: str, body: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    return body  # br, or anything else: refused without being looked at


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "GZIP", "gzip, identity", "x-unknown"])
@pytest.mark.parametrize("path", ["/users/alice/inbox", "/inbox"])
async def test_an_encoded_inbox_body_is_refused(island, remote, item, encoding, path):
    actor = remote.actor_uri("rosa")
    body = json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "id": f"{actor}#likes/z",
                       "type": "Like", "actor": actor, "object": item}).encode()
    status, _ = await remote.post(f"{island.url}{path}", compressed(encoding, body),
                                  headers_override={"Content-Encoding": encoding})
    assert status == 415
    assert await island.incoming() == []


async def test_an_identity_encoding_is_read_as_usual(island, remote, item):
    actor = remote.actor_uri("rosa")
    activity = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{actor}#likes/i",
                "type": "Like", "actor": actor, "object": item}
    status, _ = await remote.post(f"{island.url}/inbox", activity, headers_override={"Content-Encoding": "identity"})
    assert status == 202


@pytest.mark.parametrize("path", ["/login", "/proposer", "/discussion/repondre"])
async def test_an_encoded_form_is_refused(island, path):
    body = gzip.compress(b"username=alice&password=correct+horse+battery")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{island.url}{path}", data=body, allow_redirects=False, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"}) as response:
            assert response.status == 415


def csrf_in(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("path,form", [
    ("/login", {"username": "al\x00ice", "password": "correct horse battery"}),
    ("/proposer", {"kind": "fiche", "title": "Le jardin\x00", "pitch": "Un potager en pied d'immeuble",
                   "source": "Une **friche**.", "section-genesis": "Une friche.", "section-advice": "Trois bacs.",
                   "place": "Brest", "region": "Bretagne", "audience": "Voisin·es", "themes": "Alimentation",
                   "language": "fr", "licence": "CC-BY-SA-4.0", "name": "Rosa\x00", "email": "rosa@example.org"}),
    ("/discussion/repondre", {"text": "Bonjour\x00"}),
])
@pytest.mark.parametrize("multipart", [False, True])
async def test_a_form_with_a_nul_is_refused(island, item, path, form, multipart):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        page = path
        if path == "/discussion/repondre":
            async with http.get(f"{island.url}/login") as response:
                login = {"csrf_token": csrf_in(await response.text()), "username": "alice",
                         "password": "correct horse battery"}
            async with http.post(f"{island.url}/login", data=login, allow_redirects=False) as response:
                assert response.status == 303
            page = item.removeprefix(island.url)
            async with island.sessions() as session:
                from archipel.storage.tables import StoredObject
                from sqlalchemy import select
                form = {**form, "in_reply_to": str(await session.scalar(
                    select(StoredObject.id).where(StoredObject.uri == item)))}
        async with http.get(f"{island.url}{page}") as response:
            form = {"csrf_token": csrf_in(await response.text()), **form}
        if multipart:
            data = aiohttp.FormData()
            for name, value in form.items():
                data.add_field(name, value)
            data.add_field("file", b"\x00\x01", filename="a.bin", content_type="application/octet-stream")
        else:
            data = form
        async with http.post(f"{island.url}{path}", data=data, allow_redirects=False) as response:
            assert response.status == 400, await response.text()
