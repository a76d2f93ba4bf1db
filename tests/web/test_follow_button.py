"""The follow box of followable pages, and /suivre, which sends a visitor to their own server."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp

from tests.flows.test_fiches import publish_file

SUBSCRIBE = "http://ostatus.org/schema/1.0/subscribe"


async def fetch(url: str, **params) -> tuple[int, str, str | None]:
    async with aiohttp.ClientSession() as http, http.get(url, params=params, allow_redirects=False) as response:
        return response.status, await response.text(), response.headers.get("Location")


def host_of(node) -> str:
    return node.url.split("://", 1)[1]


async def test_every_followable_page_shows_the_handle_and_the_follow_form(island):
    await publish_file(island, "papi-brest.md", "alice")
    host = host_of(island)
    for path, handle in (("/", f"@{island.island_username}@{host}"), ("/@alice", f"@alice@{host}"),
                         ("/tags/inclusion", f"@inclusion@{host}"),
                         ("/tags/Inclusion", f"@inclusion@{host}")):
        status, page, _ = await fetch(island.url + path)
        assert status == 200, path
        assert f'<code class="handle" id="follow-handle">{handle}</code>' in page, path
        assert f'data-copy="{handle}"' in page and 'action="' + island.url + '/suivre"' in page, path
        assert f'name="account" value="{handle}"' in page and 'for="follow-from"' in page, path
        assert "/static/follow.js" in page
    status, script, _ = await fetch(f"{island.url}/static/follow.js")
    assert status == 200 and "clipboard" in script
    # The theme actor's own profile URL leads to the theme's page.
    status, _, location = await fetch(f"{island.url}/@inclusion")
    assert status == 302 and location == "/tags/inclusion"


async def test_an_instance_alone_goes_to_its_authorize_interaction_page(island):
    handle = f"@alice@{host_of(island)}"
    for given in ("mastodon.example", "https://Mastodon.example/", "@mastodon.example"):
        status, _, location = await fetch(f"{island.url}/suivre", account=handle, **{"from": given})
        assert status == 303, given
        assert location.startswith("https://mastodon.example/authorize_interaction?"), given
        assert parse_qs(urlsplit(location).query) == {"uri": [handle[1:]]}


async def test_a_handle_goes_to_the_subscribe_page_its_server_names(island, remote):
    remote.serve(f"{remote.url}/.well-known/webfinger", {
        "subject": "acct:rosa@x", "links": [
            {"rel": "self", "type": "application/activity+json", "href": remote.actor_uri("rosa")},
            {"rel": SUBSCRIBE, "template": f"{remote.url}/authorize_interaction?uri={{uri}}"}]})
    handle = f"@alice@{host_of(island)}"
    status, _, location = await fetch(f"{island.url}/suivre", account=handle,
                                      **{"from": f"@rosa@{host_of(remote)}"})
    assert status == 303
    assert location.startswith(f"{remote.url}/authorize_interaction?")
    assert parse_qs(urlsplit(location).query) == {"uri": [handle[1:]]}
    assert "/.well-known/webfinger" in remote.fetches


async def test_follow_errors_are_explained_in_the_page(island, remote):
    handle = f"@alice@{host_of(island)}"
    status, page, _ = await fetch(f"{island.url}/suivre", account=handle, **{"from": "pas une adresse !"})
    assert status == 400 and 'role="alert"' in page and "mastodon.example" in page
    assert 'value="pas une adresse !"' in page  # what they typed, to correct it
    # A server without a subscribe template.
    remote.serve(f"{remote.url}/.well-known/webfinger", {"subject": "acct:rosa@x", "links": [
        {"rel": "self", "type": "application/activity+json", "href": remote.actor_uri("rosa")}]})
    status, page, _ = await fetch(f"{island.url}/suivre", account=handle, **{"from": f"rosa@{host_of(remote)}"})
    assert status == 502 and 'role="alert"' in page
    # A server that does not answer, or does not know them.
    status, page, _ = await fetch(f"{island.url}/suivre", account=handle, **{"from": f"nobody@{host_of(remote)}x"})
    assert status in (400, 502) and 'role="alert"' in page
    # Only our own accounts can be followed through us; without input, the form.
    status, _, _ = await fetch(f"{island.url}/suivre", account="@someone@elsewhere.example", **{"from": "m.example"})
    assert status == 404
    status, _, _ = await fetch(f"{island.url}/suivre", account=f"@nobody@{host_of(island)}")
    assert status == 404
    status, page, _ = await fetch(f"{island.url}/suivre", account=handle)
    assert status == 200 and 'name="from"' in page


async def test_private_addresses_are_refused_when_the_island_does_not_allow_them(make_island, remote):
    node = await make_island("strict", allow_private_networks=False)
    remote.serve(f"{remote.url}/.well-known/webfinger", {"subject": "acct:rosa@x", "links": [
        {"rel": SUBSCRIBE, "template": f"{remote.url}/authorize_interaction?uri={{uri}}"}]})
    status, page, _ = await fetch(f"{node.url}/suivre", account=f"@{node.island_username}@{host_of(node)}",
                                  **{"from": f"@rosa@{host_of(remote)}"})
    assert status == 502 and "/.well-known/webfinger" not in remote.fetches
