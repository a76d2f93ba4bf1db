"""Editing a profile (one's own; the island's for admins): what the actor document then says, the
Update its followers receive, and what is refused (CSRF, sizes, files that are not images)."""

from __future__ import annotations

import io

from pathlib import Path

import aiohttp
from PIL import Image

from tests.flows.test_theme_actors import get_json, remote_follows
from tests.nodes import wait_for
from tests.web.test_authoring import add_user, visitors  # noqa: F401 (fixture)


def png(width: int = 64, height: int = 64, colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def profile_form(visitor, **fields) -> aiohttp.FormData:
    values = {"csrf_token": visitor.csrf, "display_name": "Alice Martin",
              "summary": "Animatrice numérique à Brest.\n\nJ'aime les <wikis> & les fiches.",
              "link_name_0": "Site", "link_url_0": "https://alice.example/",
              "link_name_1": "", "link_url_1": "", **fields}
    form = aiohttp.FormData()
    for name, value in values.items():
        if isinstance(value, tuple):
            form.add_field(name, io.BytesIO(value[1]), filename=value[0], content_type="application/octet-stream")
        elif value is not None:
            form.add_field(name, value)
    return form


async def post_form(visitor, path: str, form) -> tuple[int, str, str | None]:
    async with visitor.http.post(visitor.island.url + path, data=form, allow_redirects=False) as response:
        return response.status, await response.text(), response.headers.get("Location")


async def test_a_member_edits_their_profile_and_followers_hear_of_it(island, visitors, remote):  # noqa: F811
    alice = await visitors("alice")
    await remote_follows(island, remote, "alice")
    status, page, _ = await alice.get("/espace/profil")
    assert status == 200 and 'name="display_name"' in page and 'enctype="multipart/form-data"' in page
    status, _, location = await post_form(alice, "/espace/profil", profile_form(
        alice, avatar=("moi.png", png()), avatar_alt="Alice souriante"))
    assert status == 303 and location == "/espace/profil?fait=1"

    status, actor = await get_json(island.actor_uri("alice"))
    assert actor["type"] == "Person" and actor["name"] == "Alice Martin"
    assert actor["summary"] == ("<p>Animatrice numérique à Brest.</p>"
                                "<p>J&#x27;aime les &lt;wikis&gt; &amp; les fiches.</p>")
    [link] = actor["attachment"]
    assert link["type"] == "PropertyValue" and link["name"] == "Site"
    assert link["value"].startswith('<a href="https://alice.example/"') and 'rel="me nofollow noopener' in link["value"]
    assert actor["icon"]["mediaType"] == "image/png" and actor["icon"]["name"] == "Alice souriante"
    assert "/media/" in actor["icon"]["url"] and actor["image"]["url"].endswith("/users/alice/header.png")
    async with aiohttp.ClientSession() as http, http.get(actor["icon"]["url"]) as response:
        assert response.status == 200 and response.content_type == "image/png"

    [update] = await wait_for(lambda: [a for a in remote.received_of_type("Update")
                                       if a["object"].get("id") == island.actor_uri("alice")],
                              message="the actor Update")
    assert update["actor"] == island.actor_uri("alice") and update["object"]["name"] == "Alice Martin"

    status, page, _ = await alice.get("/@alice")
    assert "Alice Martin" in page and 'rel="me nofollow noopener"' in page and actor["icon"]["url"] in page
    assert "/espace/profil" in page  # her own page leads to the form; nobody else's does
    async with aiohttp.ClientSession() as http, http.get(f"{island.url}/@alice") as response:
        assert "/espace/profil" not in await response.text()

    # Back to the drawn picture: the uploaded one is gone, file and all.
    uploaded = actor["icon"]["url"]
    media_directory = island.settings.effective_media_directory
    assert len([path for path in Path(media_directory).rglob("*") if path.is_file()]) == 1
    status, _, _ = await post_form(alice, "/espace/profil", profile_form(alice, avatar_reset="1"))
    assert status == 303
    status, actor = await get_json(island.actor_uri("alice"))
    assert actor["icon"]["url"].endswith("/users/alice/avatar.png")
    async with aiohttp.ClientSession() as http, http.get(uploaded) as response:
        assert response.status == 404
    assert not [path for path in Path(media_directory).rglob("*") if path.is_file()]


async def test_what_a_profile_form_refuses(island, visitors):  # noqa: F811
    alice = await visitors("alice")
    refused = {
        "text file as picture": {"avatar": ("moi.png", b"not an image at all, only text\n")},
        "pdf as header": {"header": ("x.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")},
        "too heavy": {"avatar": ("big.png", b"\x89PNG" + b"\0" * 4_000_001)},
        "bad link": {"link_url_0": "javascript:alert(1)"},
        "link without label": {"link_name_0": ""},
        "empty name": {"display_name": "   "},
        "long summary": {"summary": "x" * 1001},
    }
    for case, fields in refused.items():
        status, page, _ = await post_form(alice, "/espace/profil", profile_form(alice, **fields))
        assert status == 400, case
        assert 'role="alert"' in page, case
    status, actor = await get_json(island.actor_uri("alice"))
    assert actor["name"] == "Alice" and actor["attachment"] == [] and actor["summary"] == ""

    # No CSRF token, or a forged one: refused before anything is read.
    status, _, _ = await post_form(alice, "/espace/profil", profile_form(alice, csrf_token=None))
    assert status == 403
    status, _, _ = await post_form(alice, "/espace/profil", profile_form(alice, csrf_token="forged"))
    assert status == 403


async def test_only_admins_edit_the_island_profile(island, visitors):  # noqa: F811
    await add_user(island, "ada", "admin")
    alice, ada = await visitors("alice"), await visitors("ada")
    assert (await alice.get("/espace/ile/profil"))[0] == 403
    status, page, _ = await ada.get("/espace/ile/profil")
    assert status == 200 and f"@{island.island_username}" in page
    assert (await post_form(alice, "/espace/ile/profil", profile_form(alice)))[0] == 403
    status, _, _ = await post_form(ada, "/espace/ile/profil", profile_form(
        ada, display_name="Île de Brest", summary="Les fiches du pays de Brest.", header=("h.png", png(300, 100))))
    assert status == 303
    status, actor = await get_json(island.actor_uri(island.island_username))
    assert actor["type"] == "Group" and actor["name"] == "Île de Brest" and "/media/" in actor["image"]["url"]
    status, page, _ = await ada.get("/espace")
    assert "/espace/ile/profil" in page and "/espace/profil" in page
    assert "/espace/ile/profil" not in (await alice.get("/espace"))[1]


async def test_default_pictures_are_stable_pngs(island):
    for name, size in (("avatar", (400, 400)), ("header", (1500, 500))):
        bodies = []
        for _ in range(2):
            async with aiohttp.ClientSession() as http, http.get(f"{island.actor_uri('alice')}/{name}.png") as response:
                assert response.status == 200 and response.content_type == "image/png"
                bodies.append(await response.read())
        assert bodies[0] == bodies[1] and Image.open(io.BytesIO(bodies[0])).size == size
    async with aiohttp.ClientSession() as http, http.get(f"{island.actor_uri('nobody')}/avatar.png") as response:
        assert response.status == 404
